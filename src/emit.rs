//! Writing rendered files: everything is rendered in memory first, then each
//! file is written to a temporary file beside it and renamed into place, so a
//! reader never sees a half-written file and a failed run writes nothing.

use std::io::Write;
use std::path::Path;

/// Write `files` (relative paths, `/`-separated) under `dir`, each atomically.
pub fn write_files(dir: &Path, files: &[(String, String)]) -> std::io::Result<()> {
    for (relative, contents) in files {
        let path = relative.split('/').fold(dir.to_path_buf(), |path, part| path.join(part));
        let parent = path.parent().unwrap_or(dir);
        fs_err::create_dir_all(parent)?;
        let mut temp = tempfile::NamedTempFile::new_in(parent)?;
        temp.write_all(contents.as_bytes())?;
        temp.as_file().sync_all()?;
        temp.persist(&path).map_err(|e| e.error)?;
    }
    Ok(())
}
