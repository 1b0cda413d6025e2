//! Walking the user's tree: every regular file below a folder, in name order, without the
//! folders a command never searches (build output, VCS data, virtualenvs, the backup store).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

/// Regular files below `dir` (links are not followed). Folders named in `skip_names`, the
/// folders in `skip_paths`, and virtualenvs (a folder holding `pyvenv.cfg`) are left out.
pub fn files_under(
    dir: &Path,
    skip_names: &[&str],
    skip_paths: &[PathBuf],
) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if e.depth() == 0 || !e.file_type().is_dir() {
                return true;
            }
            let name = e.file_name().to_string_lossy();
            !(skip_names.contains(&name.as_ref())
                || skip_paths.iter().any(|s| s == e.path())
                || e.path().join("pyvenv.cfg").exists())
        });
    for e in walker {
        let e = e.with_context(|| format!("searching {}", dir.display()))?;
        if e.file_type().is_file() {
            out.push(e.into_path());
        }
    }
    Ok(out)
}
