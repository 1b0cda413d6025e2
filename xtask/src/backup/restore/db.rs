//! `restore db BACKUP [--to PATH] [--dry-run] [--yes] [--database …]`.
//!
//! Order of work: resolve the backup and the target → (SQLite) verify the backup in full,
//! keeping the decompressed copy → compare tables → stop on a dry run → over the live
//! database, take a safety backup first and write through SQLite's backup API (open
//! connections stay valid); for `--to`, move the verified copy into place. PostgreSQL:
//! verify the dump, then `pg_restore` in one transaction.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::backup::db::sqlite::{self, Inspection, inspect};
use crate::backup::db::{DbManifest, Reason, Source, postgres, verify_one};
use crate::config::IntegrityCheck;
use crate::context::Context;
use crate::report::{Finding, Report, Table};
use crate::util::files;
use crate::util::redact::redact as redact_url;

/// `restore db BACKUP [--to PATH] [--dry-run] [--yes] [--database …]`.
pub fn run(
    cx: &Context,
    backup_arg: &str,
    to: Option<&Path>,
    database: Option<&str>,
    dry_run: bool,
    yes: bool,
) -> Result<Report> {
    let live = Source::resolve(cx, database);
    let store = cx.store();
    let backup = crate::backup::resolve(&store, live.kind(), backup_arg)?;
    let mut report = Report::dry("restore db", dry_run);
    report.summary("backup", backup.display().to_string());
    report.set("backup", backup.display().to_string());
    report.set("dry_run", dry_run);
    match live {
        Source::Postgres(url) => restore_postgres(&backup, &url, dry_run, yes, report),
        Source::Sqlite(live_path) => {
            let target = Target::new(to, live_path)?;
            restore_sqlite(cx, &backup, &target, dry_run, yes, report)
        }
    }
}

/// Where a SQLite restore writes: a new file (`--to`) or the live database.
struct Target {
    path: PathBuf,
    over_live: bool,
}

impl Target {
    fn new(to: Option<&Path>, live: PathBuf) -> Result<Target> {
        let Some(to) = to else {
            return Ok(Target {
                path: live,
                over_live: true,
            });
        };
        let path = super::absolute(to)?;
        if path.exists() {
            bail!(
                "{} already exists: --to writes a new database file; choose another path or remove it",
                path.display()
            );
        }
        Ok(Target {
            path,
            over_live: false,
        })
    }

    fn dir(&self) -> Result<&Path> {
        self.path.parent().context("target has no directory")
    }
}

fn restore_sqlite(
    cx: &Context,
    backup: &Path,
    target: &Target,
    dry_run: bool,
    yes: bool,
    mut report: Report,
) -> Result<Report> {
    let live_note = if target.over_live {
        " (the live database)"
    } else {
        ""
    };
    report.summary("target", format!("{}{live_note}", target.path.display()));
    report.set("target", target.path.display().to_string());
    if target.over_live && !yes && !dry_run {
        bail!(
            "restoring over the live database {} needs --yes (a safety backup of it is taken first); \
             use --to PATH for a copy, or --dry-run to see the plan",
            target.path.display()
        );
    }
    let dir = target.dir()?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let store = cx.store();
    let _lock = if dry_run {
        None
    } else {
        Some(store.lock("restore db")?)
    };

    // Verify first: checksum, content and integrity of the decompressed copy.
    let check = verify_one(backup, cx.config.database.check, Some(dir))?;
    if !check.findings.is_empty() {
        return Ok(refused(report, check.findings));
    }
    let restored = check
        .restored
        .expect("verified backups are kept for restore");
    let manifest = check.manifest.expect("verified");
    report.summary("backup taken", manifest.finished.clone());
    let inspection = target
        .path
        .exists()
        .then(|| inspect(&target.path, IntegrityCheck::QuickCheck).ok())
        .flatten();
    report.tables.push(tables(&manifest, inspection.as_ref()));
    let now = Now::of(&target.path, inspection.as_ref());
    if dry_run {
        report.summary("plan", plan(&manifest, &target.path, now));
        report.summary("result", "dry run: nothing was changed");
        report.set("restored", false);
        return Ok(report);
    }

    match now {
        Now::Missing => {
            fs::rename(&restored.path, &target.path).with_context(|| {
                format!("moving the restored database to {}", target.path.display())
            })?;
            files::sync_dir(dir)?;
        }
        Now::Empty => sqlite::copy_into_live(&restored.path, &target.path)?,
        Now::Holds => {
            let reason = Some(Reason::SafetyBeforeRestore);
            let safety = sqlite::create(cx, &store, &target.path, reason)?;
            let path = safety.path.display().to_string();
            report.summary("safety backup", path.clone());
            report.set("safety_backup", path);
            sqlite::copy_into_live(&restored.path, &target.path)?;
        }
    }
    report.summary(
        "result",
        format!(
            "restored {} from the backup of {}",
            target.path.display(),
            manifest.finished
        ),
    );
    report.set("restored", true);
    Ok(report)
}

/// What the target of a restore holds now, which decides how it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Now {
    /// No file (`--to`, or no live database yet): the verified copy is moved into place.
    Missing,
    /// Nothing to lose (zero bytes, or a database without tables): written through the
    /// backup API without a safety backup (there is nothing a safety backup could hold).
    Empty,
    /// A database: a safety backup first, then written through the backup API.
    Holds,
}

impl Now {
    fn of(path: &Path, inspection: Option<&Inspection>) -> Now {
        match fs::metadata(path) {
            Err(_) => Now::Missing,
            Ok(m) if m.len() == 0 => Now::Empty,
            Ok(_) if inspection.is_some_and(|i| i.ok() && i.tables.is_empty()) => Now::Empty,
            Ok(_) => Now::Holds,
        }
    }
}

/// Rows per table in the backup, beside the target's rows now.
fn tables(manifest: &DbManifest, now: Option<&Inspection>) -> Table {
    let mut t = Table::new("Tables", &["table", "rows in backup", "rows now"]);
    for (name, rows) in &manifest.tables {
        let now = now.and_then(|i| i.tables.get(name).copied().flatten());
        t.row(vec![
            name.clone(),
            rows.map_or("?".into(), |n| n.to_string()),
            now.map_or("-".into(), |n| n.to_string()),
        ]);
    }
    t
}

/// What a dry run would do.
fn plan(manifest: &DbManifest, target: &Path, now: Now) -> String {
    match now {
        Now::Holds => format!(
            "would back up {} first, then replace its content with the backup of {} (later writes are lost)",
            target.display(),
            manifest.finished
        ),
        Now::Empty => format!(
            "would write the backup of {} into {} (it holds nothing: no safety backup is needed)",
            manifest.finished,
            target.display()
        ),
        Now::Missing => format!("would write {}", target.display()),
    }
}

/// The report of a restore refused because the backup did not verify.
fn refused(mut report: Report, findings: Vec<Finding>) -> Report {
    report.findings.extend(findings);
    report.summary(
        "result",
        "refused: the backup did not verify; nothing was changed",
    );
    report.set("restored", false);
    report
}

fn restore_postgres(
    backup: &Path,
    url: &str,
    dry_run: bool,
    yes: bool,
    mut report: Report,
) -> Result<Report> {
    report.summary("target", redact_url(url));
    let check = verify_one(backup, IntegrityCheck::QuickCheck, None)?;
    if !check.findings.is_empty() {
        return Ok(refused(report, check.findings));
    }
    if dry_run {
        report.summary(
            "plan",
            "pg_restore --single-transaction --exit-on-error --clean --if-exists (all or nothing)",
        );
        report.summary("result", "dry run: nothing was changed");
        report.set("restored", false);
        return Ok(report);
    }
    if !yes {
        bail!(
            "restoring into {} replaces its objects: pass --yes (or --dry-run to see the plan)",
            redact_url(url)
        );
    }
    postgres::restore(backup, url)?;
    report.summary("result", "restored (one transaction)");
    report.set("restored", true);
    Ok(report)
}
