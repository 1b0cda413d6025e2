//! `restore config ARCHIVE [--to DIR] [--dry-run] [--force]`.
//!
//! Order of work: verify the whole archive (checksum, every member, every safety rule) → plan
//! against the target → refuse or (dry-run) stop → extract into a private staging directory
//! inside the target, re-checking every member on the way → move entries into place. Nothing
//! is ever written outside the target: every path is checked to be relative and free of
//! `..`, no link may point outside (on its own or through the archive's other links), and no
//! existing link in the target is written through.

use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::backup::Kind;
use crate::backup::pipeline::archive::{self, EntryKind, Manifest, ManifestEntry};
use crate::backup::pipeline::verify_one;
use crate::context::Context;
use crate::report::{Finding, Report, Severity, Table, codes};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Add,
    Overwrite,
    Unchanged,
}

impl Action {
    fn label(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Overwrite => "overwrite",
            Action::Unchanged => "unchanged",
        }
    }
}

pub fn run(
    cx: &Context,
    archive_arg: &str,
    to: Option<&Path>,
    dry_run: bool,
    force: bool,
) -> Result<Report> {
    let archive_path = crate::backup::resolve(&cx.store(), Kind::Pipeline, archive_arg)?;
    let target = match to {
        Some(t) => super::absolute(t)?,
        None => cx.root.clone(),
    };
    let mut report = Report::dry("restore config", dry_run);
    report.summary("archive", archive_path.display().to_string());
    report.summary("target", target.display().to_string());
    report.set("archive", archive_path.display().to_string());
    report.set("target", target.display().to_string());
    report.set("dry_run", dry_run);

    // 1. Verify before anything else.
    let check = verify_one(&archive_path)?;
    if !check.ok() {
        report.findings.extend(check.findings);
        return Ok(stop(
            report,
            "refused: the archive did not verify; nothing was written",
        ));
    }
    let manifest = check.manifest.expect("a verified archive has a manifest");

    // 2. Plan against the target.
    let counts = plan(&target, &manifest, &mut report);
    if report.exit_code() != 0 {
        return Ok(stop(
            report,
            "refused: conflicts in the target; nothing was written",
        ));
    }
    if dry_run {
        return Ok(stop(report, "dry run: nothing was written"));
    }
    if !force && !is_empty_dir(&target)? {
        bail!(
            "{} is not empty ({} files would be overwritten, {} added): pass --force to restore into it, \
             --to DIR for a new directory, or --dry-run to see the changes",
            target.display(),
            counts[1],
            counts[0]
        );
    }

    // 3. Extract into staging inside the target (re-checking every member), move into place.
    write(&archive_path, &target, &manifest)?;
    report.summary(
        "result",
        format!("restored {} entries", counts[0] + counts[1]),
    );
    report.set("restored", true);
    Ok(report)
}

/// The report of a restore that wrote nothing, with why.
fn stop(mut report: Report, result: &str) -> Report {
    report.summary("result", result);
    report.set("restored", false);
    report
}

/// What restoring each entry would do (a table, and conflicts as findings); the number of
/// entries to add, overwrite and leave unchanged.
fn plan(target: &Path, manifest: &Manifest, report: &mut Report) -> [usize; 3] {
    let mut table = Table::new("Changes", &["action", "path"]);
    let mut counts = [0usize; 3];
    let mut actions = Vec::new();
    for e in &manifest.files {
        match plan_entry(target, e) {
            Ok(a) => {
                counts[a as usize] += 1;
                if a != Action::Unchanged {
                    table.row(vec![a.label().into(), e.path.clone()]);
                }
                actions.push(serde_json::json!({"path": e.path, "action": a.label()}));
            }
            Err(why) => report.push(
                Finding::new(codes::RESTORE_CONFLICT, Severity::High, why).at(e.path.clone()),
            ),
        }
    }
    report.summary(
        "changes",
        format!(
            "{} to add, {} to overwrite, {} unchanged",
            counts[0], counts[1], counts[2]
        ),
    );
    report.tables.push(table);
    report.set("changes", actions);
    counts
}

/// Extract into a private staging directory inside the target, then move into place.
fn write(archive_path: &Path, target: &Path, manifest: &Manifest) -> Result<()> {
    fs::create_dir_all(target).with_context(|| format!("creating {}", target.display()))?;
    let staging = target.join(format!(".xtask-restore-{}", std::process::id()));
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .with_context(|| format!("creating {}", staging.display()))?;
    let result = extract(archive_path, &staging, &manifest.files)
        .and_then(|()| move_into_place(&staging, target, &manifest.files));
    let _ = fs::remove_dir_all(&staging);
    result?;
    crate::util::files::sync_dir(target)
}

fn is_empty_dir(p: &Path) -> Result<bool> {
    match fs::read_dir(p) {
        Ok(mut rd) => Ok(rd.next().is_none()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e).with_context(|| format!("reading {}", p.display())),
    }
}

/// What restoring `e` would do to the target, or why it cannot.
fn plan_entry(target: &Path, e: &ManifestEntry) -> Result<Action, String> {
    let comps: Vec<&str> = e.path.split('/').collect();
    let mut dir = target.to_path_buf();
    for c in &comps[..comps.len() - 1] {
        dir.push(c);
        match fs::symlink_metadata(&dir) {
            Err(_) => return Ok(Action::Add),
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "`{}` in the target is a link: refusing to write through it",
                    dir.display()
                ));
            }
            Ok(m) if !m.is_dir() => {
                return Err(format!(
                    "`{}` in the target is a file where a directory is needed",
                    dir.display()
                ));
            }
            Ok(_) => {}
        }
    }
    let dest = target.join(&e.path);
    let meta = match fs::symlink_metadata(&dest) {
        Err(_) => return Ok(Action::Add),
        Ok(m) => m,
    };
    if meta.is_dir() {
        return Err(format!("`{}` in the target is a directory", dest.display()));
    }
    let same = match e.kind {
        EntryKind::Symlink => {
            meta.file_type().is_symlink()
                && fs::read_link(&dest)
                    .ok()
                    .map(|t| t.to_string_lossy().into_owned())
                    == e.target
        }
        EntryKind::File => {
            meta.is_file()
                && meta.len() == e.size
                && archive::normal_mode(meta.permissions().mode()) == e.mode
                && archive::hash_file(&dest).ok().map(|(h, _)| h) == e.sha256
        }
    };
    Ok(if same {
        Action::Unchanged
    } else {
        Action::Overwrite
    })
}

fn extract(archive_path: &Path, staging: &Path, files: &[ManifestEntry]) -> Result<()> {
    let mut sink = |e: &ManifestEntry, r: &mut dyn Read| -> Result<()> {
        let dest = staged_path(staging, &e.path)?;
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(e.mode)
            .open(&dest)
            .with_context(|| format!("creating {}", dest.display()))?;
        io::copy(r, &mut f).with_context(|| format!("writing {}", dest.display()))?;
        f.set_permissions(fs::Permissions::from_mode(e.mode))?;
        f.sync_all()?;
        Ok(())
    };
    let check = archive::check(archive_path, Some(&mut sink))?;
    if !check.ok() {
        bail!(
            "{} changed while it was being restored ({}): nothing was moved into the target",
            archive_path.display(),
            check.findings[0].message
        );
    }
    for e in files.iter().filter(|e| e.kind == EntryKind::Symlink) {
        let dest = staged_path(staging, &e.path)?;
        std::os::unix::fs::symlink(e.target.as_deref().unwrap_or_default(), &dest)
            .with_context(|| format!("creating link {}", dest.display()))?;
    }
    Ok(())
}

/// `staging/<rel>` with its parent directories created (all fresh, inside staging).
fn staged_path(staging: &Path, rel: &str) -> Result<PathBuf> {
    archive::safe_rel_path(rel)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("`{rel}`"))?;
    let dest = staging.join(rel);
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(dest)
}

fn move_into_place(staging: &Path, target: &Path, files: &[ManifestEntry]) -> Result<()> {
    for e in files {
        let comps: Vec<&str> = e.path.split('/').collect();
        let mut dir = target.to_path_buf();
        for c in &comps[..comps.len() - 1] {
            dir.push(c);
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.is_dir() && !m.file_type().is_symlink() => {}
                Ok(_) => bail!("{} is not a directory: restore stopped", dir.display()),
                Err(_) => {
                    fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?
                }
            }
        }
        let from = staging.join(&e.path);
        let to = target.join(&e.path);
        fs::rename(&from, &to).with_context(|| format!("moving {} into place", to.display()))?;
    }
    Ok(())
}
