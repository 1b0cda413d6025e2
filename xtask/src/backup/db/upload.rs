//! The off-site copy of a database backup: rclone copies the manifest, the sidecar and the
//! backup, then the size and sha256 of what arrived are checked.

use std::fs;
use std::path::Path;

use anyhow::{Result, bail};
use xshell::cmd;

use super::manifest_path;
use crate::backup::store;
use crate::report::{Finding, Report, Severity, codes};
use crate::util::sh;

/// How the off-site copy went. A failure is a finding, not an error: the local backup is
/// intact.
#[derive(Debug)]
pub enum Upload {
    /// Copied to this destination, size and sha256 verified.
    Verified(String),
    Failed {
        dest: String,
        error: String,
    },
}

impl Upload {
    pub fn describe(&self, report: &mut Report, backup: &Path) {
        match self {
            Upload::Verified(dest) => {
                report.summary("uploaded", format!("{dest} (size and sha256 verified)"));
                report.set("uploaded", dest);
            }
            Upload::Failed { dest, error } => report.push(
                Finding::new(
                    codes::UPLOAD_FAILED,
                    Severity::High,
                    format!("off-site copy to {dest} failed: {error}; the local backup is intact"),
                )
                .at(backup.display().to_string()),
            ),
        }
    }
}

/// Refuse a remote that rclone would read as an option (`--upload=--config=…`): checked
/// before the backup is made. (Every rclone call also ends its options with `--`.)
pub fn check_remote(remote: &str) -> Result<()> {
    if remote.trim().is_empty() {
        bail!("the upload remote is empty: give one like `s3:bucket/database` (or leave it out)");
    }
    if remote.starts_with('-') {
        bail!(
            "the upload remote `{remote}` starts with `-`, so rclone would take it for an option: \
             give a remote like `s3:bucket/database`, or `./{remote}` for a local folder of that name"
        );
    }
    Ok(())
}

/// Off-site copy with rclone, then check size and sha256 of what arrived.
pub fn upload(path: &Path, remote: &str) -> Upload {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let remote = remote.trim_end_matches('/');
    let dest = format!("{remote}/{name}");
    match copy_and_check(path, remote, &dest) {
        Ok(()) => Upload::Verified(dest),
        Err(e) => Upload::Failed {
            dest,
            error: format!("{e:#}"),
        },
    }
}

fn copy_and_check(path: &Path, remote: &str, dest: &str) -> Result<()> {
    let sh = sh::shell(path.parent().unwrap())?;
    let expected = store::read_sidecar(path)?.unwrap_or_default();
    let size = fs::metadata(path)?.len();
    for file in [
        manifest_path(path),
        store::sidecar_of(path),
        path.to_path_buf(),
    ] {
        let fname = file.file_name().unwrap().to_string_lossy().into_owned();
        let to = format!("{remote}/{fname}");
        cmd!(sh, "rclone copyto -- {file} {to}").quiet().run()?;
    }
    let sizes = cmd!(sh, "rclone size --json -- {dest}").quiet().read()?;
    let got: serde_json::Value = serde_json::from_str(&sizes)?;
    if got["bytes"].as_u64() != Some(size) {
        bail!("uploaded size {} differs from {size}", got["bytes"]);
    }
    let sums = cmd!(sh, "rclone hashsum sha256 --download -- {dest}")
        .quiet()
        .read()?;
    let got = sums.split_whitespace().next().unwrap_or_default();
    if got != expected {
        bail!("uploaded sha256 {got} differs from {expected}");
    }
    Ok(())
}
