//! `restore config ARCHIVE [--to DIR] [--dry-run] [--force]`.
//!
//! Order of work: verify the whole archive (checksum, every member, every safety rule) → plan
//! against the target → refuse or (dry-run) stop → extract into a private staging directory
//! inside the target, re-checking every member on the way → move entries into place. Nothing
//! is ever written outside the target: every path is checked to be relative and free of
//! `..`, no link may point outside (on its own or through the archive's other links), and no
//! existing link in the target is written through.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::backup::Kind;
use crate::backup::pipeline::archive::{self, EntryKind, LeftOutWhy, Manifest, ManifestEntry};
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
    left_out(&manifest, &mut report);

    // 2. Plan against the target: what changes, and can every destination take it.
    let plan = plan(&target, &manifest, &mut report)?;
    let counts = plan.counts;
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
    write(&archive_path, &target, &manifest.files, &plan.changed)?;
    report.summary(
        "result",
        format!("restored {} entries", counts[0] + counts[1]),
    );
    report.set("restored", true);
    Ok(report)
}

/// What the archive does not hold on purpose (secrets, `pipeline.exclude`): a restore
/// cannot bring those back, and says so.
fn left_out(manifest: &Manifest, report: &mut Report) {
    report.set("left_out", &manifest.left_out);
    if manifest.left_out.is_empty() {
        return;
    }
    let secrets = manifest
        .left_out
        .iter()
        .filter(|l| l.why == LeftOutWhy::Secret)
        .count();
    let n = manifest.left_out.len();
    let files = if n == 1 { "file" } else { "files" };
    let secrets = match secrets {
        0 => String::new(),
        1 => ", a secret".to_string(),
        k if k == n => ", all secrets".to_string(),
        k => format!(", {k} of them secrets"),
    };
    report.summary(
        "not in the archive",
        format!("{n} {files} left out at backup time{secrets}: restore separately"),
    );
    let mut table = Table::new("Left out at backup time", &["path", "why"]);
    for l in &manifest.left_out {
        // Shown as text only: a name cannot move the terminal's cursor.
        let path: String = l
            .path
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        table.row(vec![path, l.why.describe().to_string()]);
    }
    report.tables.push(table);
}

/// The report of a restore that wrote nothing, with why.
fn stop(mut report: Report, result: &str) -> Report {
    report.summary("result", result);
    report.set("restored", false);
    report
}

/// What a restore changes.
struct Plan {
    /// Entries to add, to overwrite, and unchanged.
    counts: [usize; 3],
    /// The paths to add or overwrite (unchanged ones are left alone).
    changed: BTreeSet<String>,
}

/// What restoring each entry would do (a table; conflicts and folders that cannot take an
/// entry as findings).
fn plan(target: &Path, manifest: &Manifest, report: &mut Report) -> Result<Plan> {
    let mut table = Table::new("Changes", &["action", "path"]);
    let mut plan = Plan {
        counts: [0; 3],
        changed: BTreeSet::new(),
    };
    let mut actions = Vec::new();
    let mut preflight = Preflight::new(target)?;
    for e in &manifest.files {
        let a = match plan_entry(target, e) {
            Ok(a) => a,
            Err(why) => {
                report.push(
                    Finding::new(codes::RESTORE_CONFLICT, Severity::High, why).at(e.path.clone()),
                );
                continue;
            }
        };
        plan.counts[a as usize] += 1;
        actions.push(serde_json::json!({"path": e.path, "action": a.label()}));
        if a == Action::Unchanged {
            continue;
        }
        table.row(vec![a.label().into(), e.path.clone()]);
        if let Err(why) = preflight.check(target, &e.path) {
            report.push(
                Finding::new(codes::RESTORE_TARGET_UNWRITABLE, Severity::High, why)
                    .at(e.path.clone()),
            );
        }
        plan.changed.insert(e.path.clone());
    }
    let [add, overwrite, unchanged] = plan.counts;
    report.summary(
        "changes",
        format!("{add} to add, {overwrite} to overwrite, {unchanged} unchanged"),
    );
    report.tables.push(table);
    report.set("changes", actions);
    Ok(plan)
}

/// Can each folder that receives an entry take it? It must be writable, and on the file
/// system of the target, where staging lives (entries are moved by rename). Each folder is
/// checked once; a folder still to be created is judged by its nearest existing parent.
struct Preflight {
    /// The file system (device) of the target.
    dev: u64,
    checked: BTreeMap<PathBuf, Result<(), String>>,
}

impl Preflight {
    fn new(target: &Path) -> Result<Preflight> {
        let (_, meta) = nearest_existing(target)?;
        Ok(Preflight {
            dev: meta.dev(),
            checked: BTreeMap::new(),
        })
    }

    fn check(&mut self, target: &Path, rel: &str) -> Result<(), String> {
        let parent = match rel.rsplit_once('/') {
            Some((dir, _)) => target.join(dir),
            None => target.to_path_buf(),
        };
        let (dir, meta) = nearest_existing(&parent).map_err(|e| format!("{e:#}"))?;
        let dev = self.dev;
        self.checked
            .entry(dir.clone())
            .or_insert_with(|| {
                if meta.dev() != dev {
                    return Err(format!(
                        "`{}` is on another file system than the target (a mount point?): entries cannot be moved there; restore into a folder on one file system",
                        dir.display()
                    ));
                }
                writable(&dir).map_err(|e| {
                    format!(
                        "`{}` cannot be written ({e}): fix its permissions (or attributes) and run the restore again",
                        dir.display()
                    )
                })
            })
            .clone()
    }
}

/// `path` or its nearest parent that exists, with its metadata.
fn nearest_existing(path: &Path) -> Result<(PathBuf, fs::Metadata)> {
    let mut p = path;
    loop {
        match fs::symlink_metadata(p) {
            Ok(m) => return Ok((p.to_path_buf(), m)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                p = p
                    .parent()
                    .with_context(|| format!("no part of {} exists", path.display()))?;
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
        }
    }
}

/// Can this process create and rename entries in `dir`? (Asks the kernel, which also
/// answers for read-only mounts and immutable folders, where root is refused too.)
fn writable(dir: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: a valid NUL-terminated path; faccessat only reads it.
    let rc = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::W_OK | libc::X_OK,
            libc::AT_EACCESS,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Extract into a private staging directory inside the target, then move the changed
/// entries into place (all of them, or none: a failed move is undone).
fn write(
    archive_path: &Path,
    target: &Path,
    files: &[ManifestEntry],
    changed: &BTreeSet<String>,
) -> Result<()> {
    fs::create_dir_all(target).with_context(|| format!("creating {}", target.display()))?;
    let staging = target.join(format!(".xtask-restore-{}", std::process::id()));
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&staging)
        .with_context(|| format!("creating {}", staging.display()))?;
    let files: Vec<&ManifestEntry> = files.iter().filter(|e| changed.contains(&e.path)).collect();
    let result = extract(archive_path, &staging.join("new"), &files)
        .and_then(|()| Mover::new(&staging, target).run(&files));
    match result {
        Err(e) if e.is::<KeptStaging>() => return Err(e),
        result => {
            let _ = fs::remove_dir_all(&staging);
            result?;
        }
    }
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

fn extract(archive_path: &Path, staging: &Path, files: &[&ManifestEntry]) -> Result<()> {
    let wanted: BTreeSet<&str> = files.iter().map(|e| e.path.as_str()).collect();
    let mut sink = |e: &ManifestEntry, r: &mut dyn Read| -> Result<()> {
        if !wanted.contains(e.path.as_str()) {
            return Ok(()); // unchanged: the check still reads and hashes it
        }
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

/// Moves staged entries (`staging/new/<rel>`) into the target, remembering how to undo
/// each step: a replaced entry is kept as `staging/old/<rel>` until the end.
struct Mover<'a> {
    staging: &'a Path,
    target: &'a Path,
    undo: Vec<Undo>,
}

enum Undo {
    /// A folder created in the target.
    Dir(PathBuf),
    /// An entry placed at `dest`; what it replaced, kept in staging.
    Placed { dest: PathBuf, old: Option<PathBuf> },
}

/// A failed restore whose undo failed too: staging is kept, as it holds the replaced
/// versions (the message says where).
#[derive(Debug)]
struct KeptStaging(String);

impl std::fmt::Display for KeptStaging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeptStaging {}

impl<'a> Mover<'a> {
    fn new(staging: &'a Path, target: &'a Path) -> Mover<'a> {
        Mover {
            staging,
            target,
            undo: Vec::new(),
        }
    }

    /// Move every entry, or on the first failure undo every move made.
    fn run(mut self, files: &[&ManifestEntry]) -> Result<()> {
        for e in files {
            if let Err(err) = self.place(&e.path) {
                return Err(self.roll_back(&e.path, err));
            }
        }
        Ok(())
    }

    fn place(&mut self, rel: &str) -> Result<()> {
        let comps: Vec<&str> = rel.split('/').collect();
        let mut dir = self.target.to_path_buf();
        for c in &comps[..comps.len() - 1] {
            dir.push(c);
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.is_dir() && !m.file_type().is_symlink() => {}
                Ok(_) => bail!("{} is not a directory", dir.display()),
                Err(_) => {
                    fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
                    self.undo.push(Undo::Dir(dir.clone()));
                }
            }
        }
        let from = self.staging.join("new").join(rel);
        let to = self.target.join(rel);
        let old = match fs::symlink_metadata(&to) {
            Ok(_) => Some(self.keep_old(rel, &to)?),
            Err(_) => None,
        };
        let moved = fs::rename(&from, &to);
        // Undo is needed when the move happened, or when it failed after the old entry was
        // moved aside (no hard link possible): then undoing puts it back.
        let aside = old.is_some() && fs::symlink_metadata(&to).is_err();
        if moved.is_ok() || aside {
            self.undo.push(Undo::Placed {
                dest: to.clone(),
                old,
            });
        }
        moved.with_context(|| format!("moving {} into place", to.display()))
    }

    /// Keep the entry about to be replaced as `staging/old/<rel>`: a hard link, so that the
    /// rename over it stays atomic; where that is not possible, moved aside.
    fn keep_old(&self, rel: &str, at: &Path) -> Result<PathBuf> {
        let old = staged_path(&self.staging.join("old"), rel)?;
        if fs::hard_link(at, &old).is_err() {
            fs::rename(at, &old)
                .with_context(|| format!("moving the old {} aside", at.display()))?;
        }
        Ok(old)
    }

    /// Undo every move made, newest first; the error says what state the target is in.
    fn roll_back(self, rel: &str, err: anyhow::Error) -> anyhow::Error {
        let mut left = Vec::new();
        for step in self.undo.into_iter().rev() {
            let undone = match &step {
                Undo::Dir(d) => fs::remove_dir(d),
                Undo::Placed {
                    dest,
                    old: Some(old),
                } => fs::rename(old, dest),
                Undo::Placed { dest, old: None } => fs::remove_file(dest),
            };
            if let Err(e) = undone {
                left.push(match step {
                    Undo::Dir(d) => format!("the new folder {} ({e})", d.display()),
                    Undo::Placed {
                        dest,
                        old: Some(old),
                    } => format!(
                        "{} could not be put back, the previous version is {} ({e})",
                        dest.display(),
                        old.display()
                    ),
                    Undo::Placed { dest, old: None } => {
                        format!("{} was added ({e})", dest.display())
                    }
                });
            }
        }
        if left.is_empty() {
            return err.context(format!(
                "restoring `{rel}` failed; every entry moved before it was put back: the target is as it was"
            ));
        }
        let state = format!(
            "restoring `{rel}` failed ({err:#}), and undoing it failed too, so the target is partly restored: {}; {} is kept",
            left.join("; "),
            self.staging.display()
        );
        anyhow::Error::new(KeptStaging(state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> ManifestEntry {
        ManifestEntry {
            path: path.into(),
            kind: EntryKind::File,
            size: 0,
            mode: 0o644,
            sha256: None,
            target: None,
        }
    }

    /// A move that fails halfway (here: the target changed since the plan) puts back
    /// every entry moved before it, and the error says so.
    #[test]
    fn a_failed_move_is_undone() {
        let t = tempfile::tempdir().unwrap();
        let (staging, target) = (t.path().join("staging"), t.path().join("target"));
        for rel in ["a.yml", "new/b.yml", "z/c.yml"] {
            let p = staging.join("new").join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, "restored").unwrap();
        }
        fs::create_dir_all(&target).unwrap();
        fs::write(target.join("a.yml"), "before").unwrap();
        fs::write(target.join("z"), "a file where a folder is needed").unwrap();
        let files = [entry("a.yml"), entry("new/b.yml"), entry("z/c.yml")];
        let files: Vec<&ManifestEntry> = files.iter().collect();
        let err = Mover::new(&staging, &target).run(&files).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("the target is as it was"), "{msg}");
        assert!(msg.contains("z/c.yml"), "{msg}");
        assert_eq!(fs::read_to_string(target.join("a.yml")).unwrap(), "before");
        assert!(!target.join("new").exists(), "created folder left behind");
        let mut names: Vec<_> = fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["a.yml", "z"]);
    }
}
