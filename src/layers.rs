//! The stages of the compiler, in the order a spec travels through them,
//! and a test that holds the code to it: a stage uses only itself and the
//! stages before it, never one after (no back-edge, so no cycle); and a
//! test that no function outside tests is longer than [`MAX_FUNCTION_LINES`].
//!
//! | stage | owns |
//! | --- | --- |
//! | `parallel` | independent work on threads where the process can have them, results in order |
//! | `code` | every diagnostic code, as one enum |
//! | `yaml` | positioned YAML: nodes with spans, document paths, the byte and depth bounds |
//! | `secret_shape` | what a credential looks like (names and values), for masking and warnings |
//! | `diag` | diagnostics as data: codes, spans, masking, the text and JSON reports |
//! | `spec` | the spec's raw types and their notations, decoded from the YAML tree |
//! | `image` | image references and what topo knows of well-known images |
//! | `model` | the resolved, target-neutral view of each phase, and the names topo gives what it creates |
//! | `validate` | what a spec means: semantic errors and warnings, the input bounds |
//! | `compile` (lib.rs) | read, validate and resolve one spec |
//! | `plan` | fit, placement, cost, N+1 loss, the migration runbook |
//! | `render` | compose, Swarm, Kubernetes and the Prometheus rules, from the model and the plan's placement |
//! | `emit` | typed documents to YAML bytes (the one serialiser), and writing a set of files atomically into a directory topo owns |
//! | `gitops` | `render --all`: every phase and the kustomize tree |
//! | `import` | a compose file back into a spec |
//! | `schema` | the spec's JSON Schema |

/// The longest a function outside tests may be, in lines from its signature to its closing brace.
pub const MAX_FUNCTION_LINES: usize = 80;

/// Each stage with the stages it may use: all those listed before it.
pub const STAGES: &[&str] = &[
    "parallel",
    "code",
    "yaml",
    "secret_shape",
    "diag",
    "spec",
    "image",
    "model",
    "validate",
    "compile",
    "plan",
    "render",
    "emit",
    "gitops",
    "import",
    "schema",
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use std::path::Path;

    use syn::visit::Visit;

    use super::*;

    /// The items of lib.rs, which belong to the `compile` stage.
    const LIB_ITEMS: &[&str] = &["compile", "Compiled", "read_bounded", "read_file_bounded"];

    /// The stage a `crate::<first>` path lands in.
    fn stage_of(first: &str) -> Option<usize> {
        let name = if LIB_ITEMS.contains(&first) { "compile" } else { first };
        STAGES.iter().position(|s| *s == name)
    }

    /// Collects the first segment after `crate::` of every path and `use`,
    /// outside `#[cfg(test)]` items, looking into macro arguments too.
    #[derive(Default)]
    struct Uses {
        found: Vec<(String, usize)>,
    }

    fn is_test(attrs: &[syn::Attribute]) -> bool {
        attrs
            .iter()
            .any(|a| a.path().is_ident("cfg") && a.parse_args::<syn::Meta>().is_ok_and(|m| m.path().is_ident("test")))
    }

    impl Uses {
        fn note(&mut self, first: &syn::Ident) {
            self.found.push((first.to_string(), first.span().start().line));
        }

        fn use_tree(&mut self, tree: &syn::UseTree, after_crate: bool) {
            match tree {
                syn::UseTree::Path(p) if p.ident == "crate" => self.use_tree(&p.tree, true),
                syn::UseTree::Path(p) if after_crate => self.note(&p.ident),
                syn::UseTree::Name(n) if after_crate => self.note(&n.ident),
                syn::UseTree::Rename(r) if after_crate => self.note(&r.ident),
                syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.use_tree(t, after_crate)),
                _ => {}
            }
        }
    }

    impl<'ast> Visit<'ast> for Uses {
        fn visit_item(&mut self, item: &'ast syn::Item) {
            let attrs = match item {
                syn::Item::Mod(m) => &m.attrs,
                syn::Item::Fn(f) => &f.attrs,
                syn::Item::Impl(i) => &i.attrs,
                syn::Item::Use(u) => &u.attrs,
                syn::Item::Const(c) => &c.attrs,
                syn::Item::Struct(s) => &s.attrs,
                _ => return syn::visit::visit_item(self, item),
            };
            if !is_test(attrs) {
                syn::visit::visit_item(self, item);
            }
        }

        fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
            self.use_tree(&item.tree, false);
        }

        fn visit_path(&mut self, path: &'ast syn::Path) {
            let mut segments = path.segments.iter();
            if let (Some(first), Some(second)) = (segments.next(), segments.next())
                && first.ident == "crate"
            {
                self.note(&second.ident);
            }
            syn::visit::visit_path(self, path);
        }

        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            let parser = syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated;
            if let Ok(args) = mac.parse_body_with(parser) {
                args.iter().for_each(|e| self.visit_expr(e));
            }
        }
    }

    /// The stage of a file under src/: its first folder, or its stem.
    fn file_stage(relative: &Path) -> Option<usize> {
        let first = relative.components().next()?.as_os_str().to_str()?;
        match first.strip_suffix(".rs").unwrap_or(first) {
            "lib" => stage_of("compile"),
            // The binary and the layering test itself sit above every stage.
            "main" | "cli" | "commands" | "layers" => Some(STAGES.len()),
            name => stage_of(name),
        }
    }

    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in fs_err::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn no_stage_uses_a_later_one() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        files.sort();
        let (mut checked, mut edges, mut back) = (0, 0, Vec::new());
        for path in &files {
            let relative = path.strip_prefix(&src).unwrap();
            let Some(own) = file_stage(relative) else { panic!("{}: not a stage of STAGES", relative.display()) };
            let file = syn::parse_file(&fs_err::read_to_string(path).unwrap()).unwrap();
            let mut uses = Uses::default();
            uses.visit_file(&file);
            checked += 1;
            for (first, line) in uses.found {
                let Some(used) = stage_of(&first) else { continue };
                edges += 1;
                if used > own {
                    back.push(format!("{}:{line}: uses crate::{first} (a later stage)", relative.display()));
                }
            }
        }
        assert!(checked > 50 && edges > 150, "only {checked} files and {edges} edges: the walk is broken");
        assert!(back.is_empty(), "back-edges between stages:\n{}", back.join("\n"));
    }

    /// The walk sees what it must: a path in a macro's arguments, a grouped
    /// `use`, and it skips test modules.
    #[test]
    fn the_walk_sees_uses_in_macros_and_groups() {
        let file: syn::File = syn::parse_str(
            "use crate::{spec::Spec, model};\n\
             fn f() { let _ = format!(\"{}\", crate::render::x()); }\n\
             #[cfg(test)] mod tests { use crate::gitops; }",
        )
        .unwrap();
        let mut uses = Uses::default();
        uses.visit_file(&file);
        let firsts: Vec<&str> = uses.found.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(firsts, ["spec", "model", "render"]);
    }

    /// Functions (free and in `impl` blocks) longer than [`MAX_FUNCTION_LINES`], outside tests.
    #[derive(Default)]
    struct Long {
        found: Vec<(String, usize, usize)>,
        functions: usize,
    }

    impl Long {
        fn measure(&mut self, name: &syn::Ident, block: &syn::Block) {
            self.functions += 1;
            let lines = block.brace_token.span.close().end().line + 1 - name.span().start().line;
            if lines > MAX_FUNCTION_LINES {
                self.found.push((name.to_string(), name.span().start().line, lines));
            }
        }
    }

    impl<'ast> Visit<'ast> for Long {
        fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
            if !is_test(&item.attrs) {
                syn::visit::visit_item_mod(self, item);
            }
        }

        fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
            if !is_test(&item.attrs) {
                self.measure(&item.sig.ident, &item.block);
                syn::visit::visit_item_fn(self, item);
            }
        }

        fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
            if !is_test(&item.attrs) {
                self.measure(&item.sig.ident, &item.block);
                syn::visit::visit_impl_item_fn(self, item);
            }
        }
    }

    #[test]
    fn no_function_is_longer_than_the_bound() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut long = Long::default();
        let mut found = Vec::new();
        for path in &files {
            let file = syn::parse_file(&fs_err::read_to_string(path).unwrap()).unwrap();
            long.visit_file(&file);
            let relative = path.strip_prefix(&src).unwrap().display();
            found.extend(
                long.found.drain(..).map(|(name, line, n)| format!("{relative}:{line}: `{name}` is {n} lines")),
            );
        }
        assert!(long.functions > 500, "only {} functions seen: the walk is broken", long.functions);
        assert!(found.is_empty(), "functions over {MAX_FUNCTION_LINES} lines:\n{}", found.join("\n"));
    }

    /// The measure counts from the signature to the closing brace, and skips tests.
    #[test]
    fn the_measure_counts_signature_to_brace() {
        let body = "    let _ = 1;\n".repeat(MAX_FUNCTION_LINES - 2);
        let source = format!(
            "fn fits() {{\n{body}}}\nfn over() {{\n{body}    let _ = 2;\n}}\n#[cfg(test)] mod tests {{ fn long() {{\n{body}{body}}} }}"
        );
        let mut long = Long::default();
        long.visit_file(&syn::parse_str(&source).unwrap());
        assert_eq!(long.found, [("over".to_owned(), MAX_FUNCTION_LINES + 1, MAX_FUNCTION_LINES + 1)]);
        assert_eq!(long.functions, 2);
    }
}
