//! `render --all --check`: how a directory differs from the tree topo would
//! render, found with bounded work whatever the directory holds.
//!
//! Only the directories topo writes are listed; anything else at any depth is
//! one "extra" entry, never entered, never opened. A path where topo writes a
//! file is read only if it is a regular file, and only up to the rendered
//! size plus [`READ_SLACK`]: a larger file is "changed" with its size, a link,
//! FIFO, device or directory is "changed" with what it is (a FIFO is never
//! opened: reading one would block). Diffs are cut at [`DIFF_LINES_PER_FILE`]
//! lines per file and [`DIFF_LINES`] in all, and the list of extra entries at
//! [`EXTRA_LISTED`], each saying how much was left out.

use crate::code::Code;
use fs_err::os::unix::fs::OpenOptionsExt;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::emit::{self, WriteError};

/// Bytes beyond the rendered size that `--check` reads of a file before it calls it too large to diff.
pub const READ_SLACK: u64 = 1024 * 1024;
/// Most diff lines printed for one file.
pub const DIFF_LINES_PER_FILE: usize = 200;
/// Most diff lines printed in all.
pub const DIFF_LINES: usize = 1000;
/// Most bytes of one diff line printed.
pub const DIFF_LINE_BYTES: usize = 1000;
/// Most extra entries listed by name.
pub const EXTRA_LISTED: usize = 50;
/// Time all diffs together may take before they fall back to a coarser one.
const DIFF_TIME: Duration = Duration::from_millis(500);

/// How a directory differs from what would be rendered.
#[derive(Debug, Default)]
pub struct Drift {
    /// Sorted by path.
    pub changed: Vec<Changed>,
    /// Files topo renders that are not there; sorted.
    pub missing: Vec<String>,
    /// Entries topo does not render: the first [`EXTRA_LISTED`] by path.
    pub extra: Vec<Extra>,
    /// How many extra entries there are in all.
    pub extra_count: usize,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.extra_count == 0
    }
}

/// A file topo renders that is there, but not as rendered.
#[derive(Debug)]
pub struct Changed {
    pub path: String,
    pub how: How,
}

#[derive(Debug)]
pub enum How {
    /// A unified diff from the file on disk to the rendered one, cut at `left_out` lines.
    Diff { diff: String, left_out: usize },
    /// Larger than topo would read to diff it.
    TooLarge { on_disk: u64, rendered: usize },
    /// Not a regular file: "a directory", "a symbolic link", "a FIFO", …
    NotAFile(&'static str),
}

/// An entry topo does not render.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Extra {
    pub path: String,
    /// "a file", "a directory", "a symbolic link", …
    pub what: &'static str,
}

/// Compare the directory `dir` with `files`; a directory that does not exist misses everything.
pub fn drift(dir: &Path, files: &[(String, String)]) -> Result<Drift, WriteError> {
    let root = emit::resolve(dir)?;
    let mut drift = Drift::default();
    let expected: BTreeMap<&str, &str> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    match emit::lstat(&root)? {
        None => {
            drift.missing = expected.keys().map(|p| (*p).to_owned()).collect();
            return Ok(drift);
        }
        Some(meta) if !meta.is_dir() => {
            return Err(WriteError::Refused(emit::Refusal {
                code: Code::OutNotADirectory,
                message: format!("cannot check `{}`: it is {}, not a directory", dir.display(), emit::what(&meta)),
                help: Some("--out names the directory `render --all` writes".to_owned()),
            }));
        }
        Some(_) => {}
    }
    let folders: BTreeSet<String> = expected
        .keys()
        .flat_map(|path| path.match_indices('/').map(|(i, _)| path[..i].to_owned()))
        .chain([String::new()])
        .collect();
    let mut seen = BTreeSet::new();
    let mut extra = BTreeSet::new();
    let mut budget = Budget { lines: DIFF_LINES, deadline: Instant::now() + DIFF_TIME };
    let mut todo = vec![String::new()];
    while let Some(folder) = todo.pop() {
        let entries = fs_err::read_dir(if folder.is_empty() { root.clone() } else { root.join(&folder) })?;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if folder.is_empty() { name } else { format!("{folder}/{name}") };
            let meta = fs_err::symlink_metadata(entry.path())?;
            if let Some(rendered) = expected.get(path.as_str()) {
                seen.insert(path.clone());
                if let Some(how) = compare(&entry.path(), &meta, rendered, &path, &mut budget)? {
                    drift.changed.push(Changed { path, how });
                }
            } else if meta.is_dir() && folders.contains(&path) {
                todo.push(path);
            } else {
                drift.extra_count += 1;
                extra.insert(Extra { path, what: emit::what(&meta) });
                if extra.len() > EXTRA_LISTED {
                    extra.pop_last();
                }
            }
        }
    }
    drift.changed.sort_by(|a, b| a.path.cmp(&b.path));
    drift.missing = expected.keys().filter(|p| !seen.contains(**p)).map(|p| (*p).to_owned()).collect();
    drift.extra = extra.into_iter().collect();
    Ok(drift)
}

/// What is left for the diffs.
struct Budget {
    lines: usize,
    deadline: Instant,
}

/// How the file at `path` differs from `rendered`, if it does.
fn compare(
    path: &Path,
    meta: &std::fs::Metadata,
    rendered: &str,
    shown: &str,
    budget: &mut Budget,
) -> std::io::Result<Option<How>> {
    if !meta.is_file() {
        return Ok(Some(How::NotAFile(emit::what(meta))));
    }
    let limit = rendered.len() as u64 + READ_SLACK;
    if meta.len() > limit {
        return Ok(Some(How::TooLarge { on_disk: meta.len(), rendered: rendered.len() }));
    }
    // Non-blocking, and checked again once open: the entry may have become a FIFO since.
    let file = fs_err::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32 | rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)?;
    let opened = file.metadata()?;
    if !opened.is_file() {
        return Ok(Some(How::NotAFile(emit::what(&opened))));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Ok(Some(How::TooLarge { on_disk: opened.len().max(bytes.len() as u64), rendered: rendered.len() }));
    }
    if bytes == rendered.as_bytes() {
        return Ok(None);
    }
    let current = String::from_utf8_lossy(&bytes);
    let diff = similar::TextDiff::configure()
        .deadline(budget.deadline)
        .diff_lines(current.as_ref(), rendered)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{shown}"), &format!("b/{shown}"))
        .to_string();
    let keep = DIFF_LINES_PER_FILE.min(budget.lines);
    let mut cut = String::new();
    let mut lines = 0;
    for line in diff.split_inclusive('\n') {
        if lines == keep {
            break;
        }
        lines += 1;
        if line.len() > DIFF_LINE_BYTES {
            let mut end = DIFF_LINE_BYTES;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            cut.push_str(&line[..end]);
            cut.push_str(" …\n");
        } else {
            cut.push_str(line);
        }
    }
    budget.lines -= lines;
    let left_out = diff.split_inclusive('\n').count() - lines;
    Ok(Some(How::Diff { diff: cut, left_out }))
}
