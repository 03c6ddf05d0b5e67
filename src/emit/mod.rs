//! Writing output: all or nothing, and only where topo may.
//!
//! Every command renders in memory first. This module then looks at every
//! path it is about to touch before it writes anything — a refusal names the
//! path and writes nothing — stages the files in a temporary directory, and
//! moves them into place with renames. Files get mode 0666 and directories
//! 0777, less the umask (0644 and 0755 under the usual 022), whatever the
//! command.
//!
//! A directory topo writes holds a [`MARKER`] that says what topo owns there:
//! `render --all` owns the whole directory and replaces it; a single-phase
//! render owns the files it wrote and replaces only those. A directory without
//! a marker is not topo's: `render --all` refuses to replace it unless it is
//! empty, and a single-phase render refuses to replace a file in it, unless
//! `--force`. Nothing ever replaces or deletes an input (the spec), `/`, the
//! home directory, the current directory or a git repository, and no write
//! follows a symbolic link found inside the output: a link where a file goes
//! is replaced, a link where a directory goes is refused.
//!
//! Temporaries are named `.<name>.topo-new-XXXXXX` beside the directory
//! `render --all` replaces (and beside a single output file), and
//! `.topo-new-XXXXXX` inside the directory of a single-phase render. A run
//! holds a lock on its own while it works; the next run removes any of these
//! that no run holds (a killed run's), and nothing else. A temporary is made
//! as `…topo-init-XXXXXX`, locked, and only then renamed to its `-new-`
//! name, so a cleaning run never sees one of a live run unlocked.

mod marker;
pub mod yaml;

use crate::code::Code;
use std::collections::BTreeSet;
use std::fmt;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

pub use marker::{MARKER, Marker};

/// Why topo will not write: a diagnostic code, a message naming the path, a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: Code,
    pub message: String,
    pub help: Option<String>,
}

/// A write that did not happen.
#[derive(Debug)]
pub enum WriteError {
    /// Refused before anything was written.
    Refused(Refusal),
    /// An I/O error; nothing was written unless the error says otherwise.
    Io(std::io::Error),
}

impl From<std::io::Error> for WriteError {
    fn from(error: std::io::Error) -> Self {
        Self::Io(error)
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(refusal) => f.write_str(&refusal.message),
            Self::Io(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for WriteError {}

fn refuse(code: Code, message: String, help: Option<&str>) -> WriteError {
    WriteError::Refused(Refusal { code, message, help: help.map(str::to_owned) })
}

/// What a write may do.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// Files the command read: never replaced, never deleted.
    pub inputs: &'a [&'a Path],
    /// Replace a directory, or files, that topo did not write.
    pub force: bool,
}

/// What a write left behind, for the command to report.
#[derive(Debug, Default)]
pub struct Written {
    /// The previous tree of `render --all`, when it could not be removed (and why).
    pub left_behind: Option<(PathBuf, String)>,
}

/// `path` as the user wrote it, and as topo resolved it when that differs.
fn shown(path: &Path, resolved: &Path) -> String {
    if std::path::absolute(path).is_ok_and(|p| p == resolved) {
        format!("`{}`", path.display())
    } else {
        format!("`{}` (that is, `{}`)", path.display(), resolved.display())
    }
}

/// `path`, absolute, with every symbolic link among its existing components
/// resolved; the components that do not exist follow as written (a `..`
/// among them is applied to the path, as the kernel will). A component that
/// exists and is not a directory, before the last, is refused.
pub(crate) fn resolve(path: &Path) -> Result<PathBuf, WriteError> {
    let absolute = std::path::absolute(path)?;
    let components: Vec<Component> = absolute.components().collect();
    let mut resolved = PathBuf::new();
    let mut exists = true;
    for (index, component) in components.iter().enumerate() {
        match component {
            Component::Prefix(_) | Component::RootDir => resolved.push(component.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(name) => {
                resolved.push(name);
                if !exists {
                    continue;
                }
                match std::fs::symlink_metadata(&resolved) {
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => exists = false,
                    Err(error) => return Err(fs_err::symlink_metadata(&resolved).err().unwrap_or(error).into()),
                    Ok(meta) => {
                        if meta.file_type().is_symlink() {
                            resolved = std::fs::canonicalize(&resolved).map_err(|error| {
                                let target = std::fs::read_link(&resolved).unwrap_or_default();
                                refuse(
                                    Code::OutNotADirectory,
                                    format!(
                                        "cannot write {}: `{}` is a symbolic link to `{}`, which cannot be followed ({error})",
                                        shown(path, &absolute),
                                        resolved.display(),
                                        target.display()
                                    ),
                                    Some("point --out at a directory, or at a path that does not exist yet"),
                                )
                            })?;
                        }
                        let last = components[index + 1..].iter().all(|c| matches!(c, Component::CurDir));
                        if !last && !fs_err::metadata(&resolved)?.is_dir() {
                            return Err(refuse(
                                Code::OutNotADirectory,
                                format!(
                                    "cannot write {}: `{}` is a file, not a directory",
                                    shown(path, &absolute),
                                    resolved.display()
                                ),
                                Some("choose an output path whose parents are directories"),
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(resolved)
}

/// The inputs, resolved the same way (those that exist): where each one is,
/// and, when it is a symbolic link, where the link is.
fn resolved_inputs(inputs: &[&Path]) -> Vec<PathBuf> {
    let mut resolved = Vec::new();
    for input in inputs {
        resolved.extend(fs_err::canonicalize(input).ok());
        let parent = input.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if let (Ok(folder), Some(name)) = (resolve(parent), input.file_name()) {
            resolved.push(folder.join(name));
        }
    }
    resolved
}

pub(crate) fn lstat(path: &Path) -> std::io::Result<Option<std::fs::Metadata>> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => Ok(Some(meta)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(_) => fs_err::symlink_metadata(path).map(Some),
    }
}

/// What is at a path, in words: "a directory", "a FIFO", …
pub(crate) fn what(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_file() {
        "a file"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device file"
    } else {
        "not a regular file"
    }
}

/// Can this process create and remove entries in `dir`?
fn writable(dir: &Path) -> Result<(), WriteError> {
    rustix::fs::access(dir, rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK).map_err(|errno| {
        refuse(
            Code::OutUnwritable,
            format!("cannot write into `{}`: {}", dir.display(), std::io::Error::from(errno)),
            Some("make the directory writable, or choose another output path"),
        )
    })
}

/// The nearest existing ancestor of `path` (itself included), and the
/// directories to create below it, outermost first.
fn missing_ancestors(path: &Path) -> Result<(PathBuf, Vec<PathBuf>), WriteError> {
    let mut missing = Vec::new();
    let mut current = path.to_path_buf();
    loop {
        match lstat(&current)? {
            Some(meta) if meta.is_dir() => break,
            Some(meta) => {
                return Err(refuse(
                    Code::OutNotADirectory,
                    format!("`{}` is {}, not a directory", current.display(), what(&meta)),
                    None,
                ));
            }
            None => missing.push(current.clone()),
        }
        if !current.pop() {
            break;
        }
    }
    missing.reverse();
    Ok((current, missing))
}

/// Directories this run created, removed again (innermost first) if the run fails.
#[derive(Default)]
struct Created(Vec<PathBuf>);

impl Created {
    fn dir(&mut self, path: &Path) -> std::io::Result<()> {
        fs_err::create_dir(path)?;
        self.0.push(path.to_path_buf());
        Ok(())
    }

    fn undo(&mut self) {
        for dir in self.0.drain(..).rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }

    fn keep(&mut self) {
        self.0.clear();
    }
}

/// A temporary directory of this run, `<base>new-XXXXXX`, locked while it
/// lives (see the module docs) and removed when dropped.
struct Staging {
    path: PathBuf,
    _lock: std::fs::File,
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl Staging {
    /// Made as `<base>init-XXXXXX`, locked, then renamed: a cleaning run only
    /// ever sees it locked.
    fn new_in(parent: &Path, base: &str) -> std::io::Result<Self> {
        let init = tempfile::Builder::new()
            .prefix(&format!("{base}init-"))
            .permissions(std::fs::Permissions::from_mode(0o777))
            .tempdir_in(parent)?;
        let lock = fs_err::File::open(init.path())?.into_file();
        lock.try_lock().map_err(std::io::Error::other)?;
        let name = init.path().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let suffix = name.rsplit('-').next().unwrap_or_default();
        let path = parent.join(format!("{base}new-{suffix}"));
        fs_err::rename(init.path(), &path)?;
        let _ = init.keep();
        Ok(Self { path, _lock: lock })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Remove what is left at the staging path (nothing, or a previous tree).
    fn close(&self) -> std::io::Result<()> {
        match std::fs::symlink_metadata(&self.path) {
            Ok(_) => fs_err::remove_dir_all(&self.path),
            Err(_) => Ok(()),
        }
    }

    /// Write `files` under the staging directory, then sync them to disk at
    /// once (one `syncfs`, not one `fsync` per file: a tree of thousands of
    /// files took half a minute file by file).
    fn fill(&self, files: &[(String, String)]) -> std::io::Result<()> {
        for (relative, contents) in files {
            let path = join(self.path(), relative);
            if let Some(folder) = path.parent() {
                fs_err::create_dir_all(folder)?;
            }
            let mut file = fs_err::File::create(&path)?;
            file.write_all(contents.as_bytes())?;
        }
        rustix::fs::syncfs(fs_err::File::open(self.path())?.file())?;
        Ok(())
    }
}

fn join(dir: &Path, relative: &str) -> PathBuf {
    relative.split('/').fold(dir.to_path_buf(), |path, part| path.join(part))
}

/// Is `name` a temporary `prefix` + six letters or digits (tempfile's names)?
fn is_temporary(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix).is_some_and(|rest| rest.len() == 6 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Remove the temporaries in `dir` named with one of `prefixes` that no
/// running topo holds: those of a killed run. Links and anything else are left.
fn clean_stale(dir: &Path, prefixes: &[String]) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !prefixes.iter().any(|prefix| is_temporary(name, prefix)) {
            continue;
        }
        let Ok(kind) = entry.file_type() else { continue };
        if !kind.is_dir() && !kind.is_file() {
            continue;
        }
        let path = entry.path();
        let Ok(handle) = std::fs::File::open(&path) else { continue };
        if handle.try_lock().is_err() {
            continue;
        }
        let _ = if kind.is_dir() { fs_err::remove_dir_all(&path) } else { fs_err::remove_file(&path) };
    }
}

/// The temporaries beside `name`: this version's and the `-old-` ones of earlier versions.
fn beside_prefixes(name: &str) -> Vec<String> {
    vec![format!(".{name}.topo-new-"), format!(".{name}.topo-old-")]
}

/// The temporaries inside a single-phase --out: `.topo-new-XXXXXX`.
const INSIDE_BASE: &str = ".topo-";

/// Write `files` (relative paths, `/`-separated) into the directory `dir`,
/// all or nothing: the files topo owns there (its marker lists them) are
/// replaced, every other file is left alone, and a file in the way that topo
/// did not write is refused unless `options.force`.
pub fn write_files(dir: &Path, files: &[(String, String)], options: Options) -> Result<Written, WriteError> {
    let Destination { root, inputs, exists } = destination(dir, &options)?;
    if exists {
        clean_stale(&root, &[format!("{INSIDE_BASE}new-")]);
    }
    let previous = if exists { Marker::read(&root) } else { None };
    let mut marker = previous.clone().unwrap_or(Marker { whole: false, files: BTreeSet::new() });
    marker.files.extend(files.iter().map(|(path, _)| path.clone()));
    let mut all: Vec<(String, String)> = vec![(MARKER.to_owned(), marker.text())];
    all.extend(files.iter().filter(|(path, _)| path != MARKER).cloned());
    // A tree of `render --all` is topo's as a whole: its next render would remove a stray file anyway.
    let owned = |path: &str| previous.as_ref().is_some_and(|m| m.whole || path == MARKER || m.files.contains(path));
    let new_dirs = survey(dir, &root, exists, &all, &owned, options.force, &inputs)?;

    let (_, ancestors) = missing_ancestors(&root)?;
    let mut created = Created::default();
    let result = (|| -> std::io::Result<()> {
        for ancestor in &ancestors {
            created.dir(ancestor)?;
        }
        let staging = Staging::new_in(&root, INSIDE_BASE)?;
        staging.fill(&all)?;
        for folder in &new_dirs {
            created.dir(&join(&root, folder))?;
        }
        // The marker first: a file topo wrote is never missing from it.
        for (relative, _) in &all {
            fs_err::rename(join(staging.path(), relative), join(&root, relative))?;
        }
        staging.close()
    })();
    match result {
        Ok(()) => {
            created.keep();
            Ok(Written::default())
        }
        Err(error) => {
            created.undo();
            Err(error.into())
        }
    }
}

/// Where `--out` points once resolved, the inputs it must not touch, and
/// whether it already is a directory (anything else there is refused).
struct Destination {
    root: PathBuf,
    inputs: Vec<PathBuf>,
    exists: bool,
}

fn destination(dir: &Path, options: &Options) -> Result<Destination, WriteError> {
    let root = resolve(dir)?;
    let inputs = resolved_inputs(options.inputs);
    let exists = match lstat(&root)? {
        Some(meta) if meta.is_dir() => true,
        Some(meta) => return Err(not_a_directory(dir, &root, &meta, &inputs)),
        None => false,
    };
    Ok(Destination { root, inputs, exists })
}

fn not_a_directory(dir: &Path, root: &Path, meta: &std::fs::Metadata, inputs: &[PathBuf]) -> WriteError {
    if inputs.iter().any(|input| input == root) {
        return refuse(
            Code::OutIsInput,
            format!("refusing to write into {}: it is the spec itself", shown(dir, root)),
            Some("--out names a directory for the rendered files; choose one that does not exist yet"),
        );
    }
    refuse(
        Code::OutNotADirectory,
        format!("cannot write into {}: it is {}, not a directory", shown(dir, root), what(meta)),
        Some("--out names a directory for the rendered files; choose one that does not exist yet"),
    )
}

/// Every path `files` will take under `root`, checked before anything is
/// written; the directories to create, parents first.
fn survey(
    dir: &Path,
    root: &Path,
    exists: bool,
    files: &[(String, String)],
    owned: &dyn Fn(&str) -> bool,
    force: bool,
    inputs: &[PathBuf],
) -> Result<BTreeSet<String>, WriteError> {
    let mut new_dirs = BTreeSet::new();
    let mut receiving = BTreeSet::new();
    let mut not_owned = Vec::new();
    for (relative, _) in files {
        let (parent, parent_exists) = survey_parents(dir, root, exists, relative, &mut new_dirs, &mut receiving)?;
        if !parent_exists {
            continue;
        }
        let path = join(root, relative);
        match lstat(&path)? {
            None => {
                receiving.insert(parent);
            }
            Some(meta) if meta.is_file() || meta.file_type().is_symlink() => {
                if inputs.contains(&path) {
                    return Err(refuse(
                        Code::OutIsInput,
                        format!("refusing to replace `{}`: it is the spec being rendered", path.display()),
                        Some("render into a directory that does not hold the spec"),
                    ));
                }
                if !force && !owned(relative) {
                    not_owned.push(relative.clone());
                }
                receiving.insert(parent);
            }
            Some(meta) => {
                return Err(refuse(
                    Code::OutObstacle,
                    format!(
                        "cannot write `{relative}` into {}: `{}` is {}, where topo writes a file",
                        shown(dir, root),
                        path.display(),
                        what(&meta)
                    ),
                    Some("move it away, then render again; nothing was written"),
                ));
            }
        }
    }
    if !not_owned.is_empty() {
        return Err(not_owned_error(dir, root, &not_owned));
    }
    if !exists {
        let (ancestor, _) = missing_ancestors(root)?;
        receiving.insert(ancestor);
    }
    for folder in &receiving {
        writable(folder)?;
    }
    Ok(new_dirs)
}

/// The directories on the way to `relative`: each that exists must be a
/// directory; the first missing one is created, and its parent receives it.
/// Returns the file's parent and whether it exists already.
fn survey_parents(
    dir: &Path,
    root: &Path,
    exists: bool,
    relative: &str,
    new_dirs: &mut BTreeSet<String>,
    receiving: &mut BTreeSet<PathBuf>,
) -> Result<(PathBuf, bool), WriteError> {
    let parts: Vec<&str> = relative.split('/').collect();
    let mut parent = root.to_path_buf();
    let mut parent_exists = exists;
    let mut prefix = String::new();
    for part in &parts[..parts.len() - 1] {
        prefix = if prefix.is_empty() { (*part).to_owned() } else { format!("{prefix}/{part}") };
        let path = parent.join(part);
        if parent_exists && !new_dirs.contains(&prefix) {
            match lstat(&path)? {
                None => {
                    receiving.insert(parent.clone());
                    new_dirs.insert(prefix.clone());
                    parent_exists = false;
                }
                Some(meta) if meta.is_dir() => {}
                Some(meta) => {
                    return Err(refuse(
                        Code::OutObstacle,
                        format!(
                            "cannot write into {}: `{}` is {}, where topo writes the directory `{prefix}/`",
                            shown(dir, root),
                            path.display(),
                            what(&meta)
                        ),
                        Some("move it away, then render again; nothing was written"),
                    ));
                }
            }
        } else {
            new_dirs.insert(prefix.clone());
            parent_exists = false;
        }
        parent = path;
    }
    Ok((parent, parent_exists))
}

/// The refusal to replace files topo did not write, naming the first five.
fn not_owned_error(dir: &Path, root: &Path, not_owned: &[String]) -> WriteError {
    let mut list: Vec<String> = not_owned.iter().take(5).map(|p| format!("`{p}`")).collect();
    if not_owned.len() > 5 {
        list.push(format!("and {} more", not_owned.len() - 5));
    }
    refuse(
        Code::OutNotOwned,
        format!(
            "refusing to replace files topo did not write in {}: {} (it has no topo marker `{MARKER}` that lists them)",
            shown(dir, root),
            list.join(", ")
        ),
        Some("pass --force to replace them, or choose another --out; nothing was written"),
    )
}

/// Replace the directory `dir` with exactly `files` (`render --all`): they
/// are written into a temporary directory beside it, which then takes its
/// place in one rename, so `dir` is always either the old tree or the new
/// one, and a failure leaves the old tree as it was. `dir` must be absent,
/// empty or topo's (its marker), unless `options.force`; it is never `/`,
/// the home or the current directory or one of its parents, a git
/// repository, or a directory that holds an input. `files` should hold the
/// marker ([`Marker::text`] with `whole`).
pub fn replace_dir(dir: &Path, files: &[(String, String)], options: Options) -> Result<Written, WriteError> {
    let Destination { root, inputs, exists } = destination(dir, &options)?;
    if let Some((code, why)) = protected(&root, &inputs) {
        return Err(refuse(
            code,
            format!("refusing to replace {}: {why}", shown(dir, &root)),
            Some("`render --all` replaces the whole --out directory; give it a directory of its own, like `deploy`"),
        ));
    }
    if exists {
        owned_whole(dir, &root, options.force)?;
    }
    let (Some(parent), Some(name)) = (root.parent(), root.file_name()) else {
        return Err(refuse(Code::OutProtected, format!("refusing to replace {}", shown(dir, &root)), None));
    };
    let name = name.to_string_lossy().into_owned();
    let (ancestor, ancestors) = missing_ancestors(parent)?;
    writable(&ancestor)?;
    if ancestors.is_empty() {
        clean_stale(parent, &beside_prefixes(&name));
    }

    let mut created = Created::default();
    let staged = (|| -> std::io::Result<Staging> {
        for folder in &ancestors {
            created.dir(folder)?;
        }
        let staging = Staging::new_in(parent, &format!(".{name}.topo-"))?;
        staging.fill(files)?;
        fs_err::File::open(staging.path())?.sync_all()?;
        Ok(staging)
    })();
    let staging = match staged {
        Ok(staging) => staging,
        Err(error) => {
            created.undo();
            return Err(error.into());
        }
    };
    if let Err(error) = swap(staging.path(), &root, parent, &name) {
        created.undo();
        return Err(error.into());
    }
    created.keep();
    // The staging path now holds the previous tree, if there was one.
    let old = staging.path().to_path_buf();
    let mut written = Written::default();
    if let Err(error) = staging.close()
        && lstat(&old).ok().flatten().is_some()
    {
        written.left_behind = Some((old, error.to_string()));
    }
    Ok(written)
}

/// Put the tree at `staging` in place of `root`; afterwards `staging` holds
/// the previous tree (if any). On Linux one atomic exchange, so a reader, or a
/// concurrent render, never sees `root` missing or half-written.
fn swap(staging: &Path, root: &Path, parent: &Path, name: &str) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        use rustix::io::Errno;
        // Two tries: `root` may appear (a concurrent render) between them.
        for _ in 0..2 {
            match renameat_with(CWD, staging, CWD, root, RenameFlags::NOREPLACE) {
                Ok(()) => return Ok(()),
                Err(Errno::EXIST | Errno::NOTEMPTY) => {}
                Err(Errno::INVAL | Errno::NOSYS) => return swap_by_renames(staging, root, parent, name),
                Err(errno) => return Err(rename_error(errno, staging, root)),
            }
            match renameat_with(CWD, staging, CWD, root, RenameFlags::EXCHANGE) {
                Ok(()) => return Ok(()),
                Err(Errno::NOENT) => {}
                Err(Errno::INVAL | Errno::NOSYS) => return swap_by_renames(staging, root, parent, name),
                Err(errno) => return Err(rename_error(errno, staging, root)),
            }
        }
        Err(rename_error(Errno::BUSY, staging, root))
    }
    #[cfg(not(target_os = "linux"))]
    swap_by_renames(staging, root, parent, name)
}

#[cfg(target_os = "linux")]
fn rename_error(errno: rustix::io::Errno, from: &Path, to: &Path) -> std::io::Error {
    let error = std::io::Error::from(errno);
    std::io::Error::new(error.kind(), format!("{error}: cannot move `{}` to `{}`", from.display(), to.display()))
}

/// Where the kernel cannot exchange two paths: move the old tree aside, the
/// new one in, and the old one to `staging`.
fn swap_by_renames(staging: &Path, root: &Path, parent: &Path, name: &str) -> std::io::Result<()> {
    if lstat(root)?.is_none() {
        return fs_err::rename(staging, root);
    }
    let aside = tempfile::Builder::new().prefix(&format!(".{name}.topo-old-")).tempdir_in(parent)?;
    let old = aside.path().join(name);
    fs_err::rename(root, &old)?;
    if let Err(error) = fs_err::rename(staging, root) {
        fs_err::rename(&old, root)?;
        return Err(error);
    }
    fs_err::rename(&old, staging)?;
    aside.close()
}

/// Why `root` must never be replaced, if it must not.
fn protected(root: &Path, inputs: &[PathBuf]) -> Option<(Code, String)> {
    let canonical = |path: PathBuf| fs_err::canonicalize(path).ok();
    if root.parent().is_none() {
        return Some((Code::OutProtected, "it is the root directory".to_owned()));
    }
    if let Some(input) = inputs.iter().find(|input| input.starts_with(root)) {
        return Some((Code::OutIsInput, format!("it holds the spec `{}`", input.display())));
    }
    if let Some(cwd) = std::env::current_dir().ok().and_then(canonical)
        && cwd.starts_with(root)
    {
        let why = if cwd == root { "it is the current directory" } else { "it holds the current directory" };
        return Some((Code::OutProtected, why.to_owned()));
    }
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from).and_then(canonical)
        && home.starts_with(root)
    {
        let why = if home == root { "it is the home directory" } else { "it holds the home directory" };
        return Some((Code::OutProtected, why.to_owned()));
    }
    if lstat(&root.join(".git")).ok().flatten().is_some() {
        return Some((Code::OutProtected, "it is a git repository (it holds `.git`)".to_owned()));
    }
    None
}

/// Most entries a directory with a listing marker may hold for `render --all`
/// to check them one by one; a larger one is not taken as topo's.
const OWNED_WALK_LIMIT: usize = 100_000;

/// `render --all` may replace `root`: it is empty, its marker claims all of
/// it, or it holds only files its marker lists; or `force`.
fn owned_whole(dir: &Path, root: &Path, force: bool) -> Result<(), WriteError> {
    if force {
        return Ok(());
    }
    let marker = Marker::read(root).or_else(|| Marker::read_legacy(root));
    if marker.as_ref().is_some_and(|m| m.whole) {
        return Ok(());
    }
    // A `.topo` that is not topo's marker is a file like any other.
    let mut listed = marker.map(|m| m.files).unwrap_or_default();
    if Marker::read(root).is_some() {
        listed.insert(MARKER.to_owned());
    }
    let mut foreign = Vec::new();
    let mut seen = 0;
    let mut todo = vec![(root.to_path_buf(), String::new())];
    while let Some((folder, prefix)) = todo.pop() {
        for entry in fs_err::read_dir(&folder)? {
            let entry = entry?;
            seen += 1;
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            if seen > OWNED_WALK_LIMIT {
                foreign.push(relative);
                break;
            }
            if entry.file_type()?.is_dir() {
                todo.push((entry.path(), relative));
            } else if !listed.contains(&relative) {
                foreign.push(relative);
            }
            if foreign.len() > 3 {
                break;
            }
        }
        if foreign.len() > 3 || seen > OWNED_WALK_LIMIT {
            break;
        }
    }
    if foreign.is_empty() {
        return Ok(());
    }
    let mut list: Vec<String> = foreign.iter().take(3).map(|p| format!("`{p}`")).collect();
    if foreign.len() > 3 {
        list.push("…".to_owned());
    }
    Err(refuse(
        Code::OutNotOwned,
        format!(
            "refusing to replace {}: topo did not write it (it has no topo marker `{MARKER}`), and it holds {}",
            shown(dir, root),
            list.join(", ")
        ),
        Some(
            "`render --all` replaces the whole directory; pass --force to delete what is there, or choose an empty or new directory",
        ),
    ))
}

/// Write one file (`plan --out`, `import --out`): into a temporary file
/// beside it, renamed into place. A symbolic link at `path` is replaced, not
/// followed; an input, a directory or a special file at `path` is refused.
pub fn write_file(path: &Path, contents: &str, inputs: &[&Path]) -> Result<(), WriteError> {
    let Some(name) = path.file_name().filter(|_| !path.as_os_str().to_string_lossy().ends_with('/')) else {
        return Err(refuse(
            Code::OutObstacle,
            format!("cannot write `{}`: it names a directory, where topo writes a file", path.display()),
            Some("--out names the file to write"),
        ));
    };
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let folder = resolve(parent)?;
    let target = folder.join(name);
    if resolved_inputs(inputs).contains(&target) {
        return Err(refuse(
            Code::OutIsInput,
            format!("refusing to write `{}`: it is the file being read", path.display()),
            Some("--out names a new file; write the output somewhere else"),
        ));
    }
    let (ancestor, ancestors) = missing_ancestors(&folder)?;
    if let Some(meta) = lstat(&target)?
        && !(meta.is_file() || meta.file_type().is_symlink())
    {
        return Err(refuse(
            Code::OutObstacle,
            format!("cannot write `{}`: it is {}, where topo writes a file", path.display(), what(&meta)),
            Some("--out names the file to write"),
        ));
    }
    writable(&ancestor)?;
    let name = name.to_string_lossy().into_owned();
    if ancestors.is_empty() {
        clean_stale(&folder, &[format!(".{name}.topo-new-")]);
    }
    let mut created = Created::default();
    let result = (|| -> std::io::Result<()> {
        for dir in &ancestors {
            created.dir(dir)?;
        }
        let staging = Staging::new_in(&folder, &format!(".{name}.topo-"))?;
        staging.fill(&[(name.clone(), contents.to_owned())])?;
        fs_err::rename(staging.path().join(&name), &target)?;
        staging.close()
    })();
    match result {
        Ok(()) => Ok(()),
        Err(error) => {
            created.undo();
            Err(error.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_are_recognised_by_their_exact_name() {
        assert!(is_temporary(".out.topo-new-a1B2c3", ".out.topo-new-"));
        assert!(!is_temporary(".out.topo-new-a1B2c", ".out.topo-new-"));
        assert!(!is_temporary(".out.topo-new-a1B2c3d", ".out.topo-new-"));
        assert!(!is_temporary(".out.topo-new-a1B2c.", ".out.topo-new-"));
        assert!(!is_temporary("out.topo-new-a1B2c3", ".out.topo-new-"));
    }
}
