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

/// Replace the directory `dir` with exactly `files`: they are written into a
/// temporary directory beside it, which then takes its place. If anything
/// fails before the swap, `dir` is left as it was; the temporary directory is
/// removed either way.
pub fn replace_dir(dir: &Path, files: &[(String, String)]) -> std::io::Result<()> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    fs_err::create_dir_all(&parent)?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".to_owned());
    let staging = tempfile::Builder::new().prefix(&format!(".{name}.topo-new-")).tempdir_in(&parent)?;
    for (relative, contents) in files {
        let path = relative.split('/').fold(staging.path().to_path_buf(), |path, part| path.join(part));
        if let Some(folder) = path.parent() {
            fs_err::create_dir_all(folder)?;
        }
        fs_err::write(&path, contents)?;
    }
    fs_err::File::open(staging.path())?.sync_all()?;
    if dir.exists() {
        // Move the old tree aside, put the new one in place, then drop the old one.
        let old = tempfile::Builder::new().prefix(&format!(".{name}.topo-old-")).tempdir_in(&parent)?;
        let aside = old.path().join(&name);
        fs_err::rename(dir, &aside)?;
        if let Err(error) = fs_err::rename(staging.path(), dir) {
            // Put the previous tree back before reporting.
            fs_err::rename(&aside, dir)?;
            return Err(error);
        }
        drop(old);
    } else {
        fs_err::rename(staging.path(), dir)?;
    }
    // The staging directory was renamed away; forget it without deleting.
    let _ = staging.keep();
    Ok(())
}
