//! topo compiles one typed topology spec into compose, Swarm and Kubernetes
//! files and a scaling plan.
//!
//! The stages: [`spec`] reads text into raw types (syntax and shape errors),
//! [`validate`] checks what the spec means (semantic errors and warnings),
//! [`model`] resolves one target-neutral view per phase. Everything after
//! reads only the model.

pub mod code;
pub mod diag;
pub mod emit;
pub mod gitops;
pub mod image;
pub mod import;
pub mod layers;
pub mod model;
pub mod parallel;
pub mod plan;
pub mod render;
pub mod schema;
pub mod secret_shape;
pub mod spec;
pub mod validate;
pub mod yaml;

use crate::code::Code;
use diag::{Diagnostic, Diagnostics};

/// A spec that compiled: its resolved model and the warnings found on the way.
pub struct Compiled {
    pub model: model::Model,
    pub spec: spec::Spec,
    pub warnings: Diagnostics,
    /// The positioned document, to locate diagnostics found after compilation (a target's warnings).
    pub tree: yaml::Node,
}

impl Compiled {
    /// Give every diagnostic its position in the spec, and sort them.
    pub fn locate(&self, diags: &mut Diagnostics) {
        diags.locate(&self.tree);
        diags.sort();
    }
}

/// Reads `reader` up to one byte past [`yaml::MAX_BYTES`]: enough for
/// [`compile`] (or import) to refuse a file that is too large, without
/// reading a 1 GiB file, `/dev/zero` or `/dev/urandom` whole.
pub fn read_bounded(reader: impl std::io::Read) -> std::io::Result<Vec<u8>> {
    let limit = yaml::MAX_BYTES as u64 + 1;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut reader.take(limit), &mut bytes)?;
    Ok(bytes)
}

/// [`read_bounded`] of the file at `path`; errors name the path.
pub fn read_file_bounded(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    read_bounded(fs_err::File::open(path)?)
}

/// Read, validate and resolve a spec from its bytes. On failure, every
/// diagnostic found (errors and warnings), located and in source order.
pub fn compile(bytes: &[u8]) -> Result<Compiled, Diagnostics> {
    if bytes.len() > yaml::MAX_BYTES {
        let mut diags = Diagnostics::default();
        diags.push(yaml::too_large().into());
        return Err(diags);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let mut diags = Diagnostics::default();
            diags.push(not_utf8(bytes, error.valid_up_to()));
            return Err(diags);
        }
    };
    let loaded = spec::load::load(text)?;
    let mut diags = validate::validate(&loaded.spec);
    diags.locate(&loaded.tree);
    diags.sort();
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(Compiled { model: model::resolve(&loaded.spec), spec: loaded.spec, warnings: diags, tree: loaded.tree })
}

/// The file is not text: point at the first byte that is not UTF-8.
fn not_utf8(bytes: &[u8], valid_up_to: usize) -> Diagnostic {
    let valid = String::from_utf8_lossy(&bytes[..valid_up_to]);
    let line = valid.matches('\n').count() + 1;
    let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
    let column = valid[line_start..].chars().count() + 1;
    let pos = yaml::Pos { line, column, offset: valid_up_to };
    Diagnostic::syntax(
        Code::NotUtf8,
        format!("the spec is not UTF-8 text: byte 0x{:02x} at offset {valid_up_to}", bytes[valid_up_to]),
        yaml::Span::point(pos),
    )
    .help("a spec is a YAML text file; save it as UTF-8")
}
