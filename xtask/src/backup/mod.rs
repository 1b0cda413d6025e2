//! `backup …` and `restore …`: the backup store and every kind of backup in it.
//!
//! Layout: [`Kind`] (here) names the kinds of backup; [`store`] names, lists and publishes
//! their files; [`pipeline`] and [`db`] make and verify them; [`prune`] applies retention;
//! [`restore`] puts them back.

pub mod db;
pub mod pipeline;
pub mod prune;
pub mod restore;
pub mod store;

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::cli::BackupCmd;
use crate::config::IntegrityCheck;
use crate::context::Context;
use crate::report::{Finding, Report, Severity, Table, codes, human_bytes};
use store::Store;

/// One kind of backup in the store: its folder, and how its file names start and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `backup config`: a `.tar.gz` of the pipeline configuration.
    Pipeline,
    /// `backup db` of a SQLite database: the gzipped database file.
    Sqlite,
    /// `backup db` of a PostgreSQL database: a `pg_dump -Fc` dump.
    Postgres,
}

impl Kind {
    /// Every kind of backup the store holds.
    pub const ALL: [Kind; 3] = [Kind::Pipeline, Kind::Sqlite, Kind::Postgres];

    /// The name reports and JSON use (`kind`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pipeline => "config",
            Kind::Sqlite => "db",
            Kind::Postgres => "db-postgres",
        }
    }

    /// The folder under `backup.dir`.
    pub fn dir(self) -> &'static str {
        match self {
            Kind::Pipeline => "pipeline",
            Kind::Sqlite | Kind::Postgres => "db",
        }
    }

    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Pipeline => "pipeline-backup-",
            Kind::Sqlite | Kind::Postgres => "db_backup_",
        }
    }

    pub fn suffix(self) -> &'static str {
        match self {
            Kind::Pipeline => ".tar.gz",
            Kind::Sqlite => ".sqlite.gz",
            Kind::Postgres => ".pgdump",
        }
    }

    /// Which kind a backup file is, from its name in the store.
    pub fn of_name(path: &Path) -> Option<Kind> {
        let name = path.file_name()?.to_str()?;
        Kind::ALL
            .into_iter()
            .find(|k| store::parse_name(*k, name).is_some())
    }

    /// Which kind a file is from its suffix alone (a backup renamed or copied elsewhere).
    pub fn of_suffix(path: &Path) -> Option<Kind> {
        let name = path.to_string_lossy();
        Kind::ALL.into_iter().find(|k| name.ends_with(k.suffix()))
    }
}

/// `backup` with no subcommand, the cron entry point: every configured kind, then prune,
/// all under one lock.
pub fn all(cx: &Context, if_changed: bool) -> Result<Report> {
    let store = cx.store();
    pipeline::check_store_outside(&cx.root, &store.dir, &cx.config.pipeline)?;
    let _lock = store.lock("backup")?;
    let mut report = Report::new("backup");
    store.clean_stale(Kind::Pipeline)?;
    // One labelled block per kind: each has its own archive, size and sha256 lines.
    report.absorb_as(
        "config backup",
        pipeline::create(cx, &store, if_changed)?.report(),
    );
    report.absorb_as(
        "database backup",
        db::create_configured(cx, &store, if_changed)?.report(cx),
    );
    // Only prune when every backup of this run succeeded.
    if report.exit_code() == 0 {
        report.absorb_as("retention", prune_kinds(cx, &store, false)?);
    }
    Ok(report)
}

/// `backup prune [--dry-run]`.
pub fn prune(cx: &Context, dry_run: bool) -> Result<Report> {
    let store = cx.store();
    let _lock = store.lock("backup prune")?;
    if !dry_run {
        for kind in Kind::ALL {
            store.clean_stale(kind)?;
        }
    }
    prune_kinds(cx, &store, dry_run)
}

/// Prune every kind, and the one report of it.
fn prune_kinds(cx: &Context, store: &Store, dry_run: bool) -> Result<Report> {
    let mut pruned = Vec::new();
    for kind in Kind::ALL {
        if store.list(kind)?.is_empty() {
            continue;
        }
        let check = cx.config.database.check;
        let verified = |e: &store::Entry| {
            verify_path(kind, &e.path, check).is_ok_and(|v| matches!(v, Verdict::Ok))
        };
        pruned.push(prune::prune(
            store,
            kind,
            &cx.config.backup.retention,
            dry_run,
            &verified,
        )?);
    }
    Ok(prune::report(&pruned, dry_run))
}

/// The result of a full verification of one backup.
#[derive(Debug)]
pub enum Verdict {
    Ok,
    Problems(Vec<Finding>),
    /// The backup no longer exists (pruned while it was being read): gone, not corrupt.
    Gone,
}

/// Full verification of one backup of `kind`.
pub fn verify_path(kind: Kind, path: &Path, check: IntegrityCheck) -> Result<Verdict> {
    let result = match kind {
        Kind::Pipeline => pipeline::verify_one(path).map(|c| c.findings),
        Kind::Sqlite | Kind::Postgres => db::verify_one(path, check, None).map(|c| c.findings),
    };
    match result {
        Ok(findings) if findings.is_empty() => Ok(Verdict::Ok),
        // Whatever failed, a backup deleted meanwhile (its sidecar and manifest with it, in
        // any order) is not a damaged one.
        _ if std::fs::symlink_metadata(path).is_err() => Ok(Verdict::Gone),
        Ok(findings) => Ok(Verdict::Problems(findings)),
        Err(e) => Err(e),
    }
}

/// A path, a file name in the store, or `latest` (newest of `kind`; never a safety backup
/// taken by `restore db`, which would make a second `restore db latest` undo the first).
pub fn resolve(store: &Store, kind: Kind, arg: &str) -> Result<PathBuf> {
    if arg == "latest" {
        let entries = store.list(kind)?;
        if let Some(e) = entries.iter().find(|e| !is_safety_backup(kind, &e.path)) {
            return Ok(e.path.clone());
        }
        if !entries.is_empty() {
            bail!(
                "the only {} backups in {} are safety backups taken by `restore db`: name one (see `cargo xtask backup list`)",
                kind.name(),
                store.kind_dir(kind).display()
            );
        }
        bail!(
            "no {} backups in {}: make one with `cargo xtask backup`",
            kind.name(),
            store.kind_dir(kind).display()
        );
    }
    let p = PathBuf::from(arg);
    if p.is_file() {
        return Ok(p);
    }
    for k in Kind::ALL {
        let in_store = store.kind_dir(k).join(arg);
        if in_store.is_file() {
            return Ok(in_store);
        }
    }
    bail!("no backup `{arg}`: pass a path or a name from `cargo xtask backup list`, or `latest`")
}

/// Was this database backup taken by `restore db` before it replaced the live database?
pub fn is_safety_backup(kind: Kind, path: &Path) -> bool {
    kind != Kind::Pipeline
        && db::read_manifest(path).is_ok_and(|m| m.reason == Some(db::Reason::SafetyBeforeRestore))
}

/// `backup list`: every kind, newest first, with checksum state.
pub fn list(cx: &Context) -> Result<Report> {
    let store = cx.store();
    let mut report = Report::new("backup list");
    let mut rows = Vec::new();
    for kind in Kind::ALL {
        let entries = store.list(kind)?;
        if entries.is_empty() {
            continue;
        }
        let mut table = Table::new(
            format!("{} backups", kind.name()),
            &["name", "time (UTC)", "contents", "size", "checksum"],
        );
        for e in entries {
            let state = store::checksum_state(&e.path);
            let (contents, count) = if kind == Kind::Pipeline {
                let n = pipeline::archive::read_manifest(&e.path)
                    .ok()
                    .map(|m| m.files.len());
                (n.map_or("?".into(), |n| format!("{n} files")), n)
            } else {
                let m = db::read_manifest(&e.path).ok();
                let n = m.as_ref().map(|m| m.tables.len());
                let safety = m.is_some_and(|m| m.reason == Some(db::Reason::SafetyBeforeRestore));
                let note = if safety { " (safety backup)" } else { "" };
                (n.map_or("?".into(), |n| format!("{n} tables{note}")), n)
            };
            table.row(vec![
                e.name.clone(),
                e.time.format("%Y-%m-%d %H:%M:%S").to_string(),
                contents,
                human_bytes(e.size),
                state.label().to_string(),
            ]);
            if state != store::ChecksumState::Ok {
                report.push(
                    Finding::new(
                        codes::BACKUP_CHECKSUM_MISMATCH,
                        Severity::High,
                        format!(
                            "checksum {}: do not restore from this backup",
                            state.label()
                        ),
                    )
                    .at(e.path.display().to_string()),
                );
            }
            rows.push(serde_json::json!({
                "kind": kind.name(),
                "name": e.name,
                "path": e.path.display().to_string(),
                "time": e.time.and_utc().to_rfc3339(),
                if kind == Kind::Pipeline { "files" } else { "tables" }: count,
                "bytes": e.size,
                "checksum": state.label(),
            }));
        }
        report.tables.push(table);
    }
    if rows.is_empty() {
        report.summary("backups", format!("none in {}", store.dir.display()));
    }
    report.set("backups", rows);
    Ok(report)
}

/// `backup verify [BACKUP|--all]` (default: the newest of each kind).
pub fn verify(cx: &Context, arg: Option<&str>, all: bool) -> Result<Report> {
    let targets = verify_targets(&cx.store(), arg, all)?;
    verify_report(&targets, cx.config.database.check)
}

/// Verify each backup listed, and the report of it.
fn verify_report(targets: &[(Kind, PathBuf)], check: IntegrityCheck) -> Result<Report> {
    let mut report = Report::new("backup verify");
    let mut table = Table::new("Verification", &["backup", "result"]);
    let mut rows = Vec::new();
    for (kind, path) in targets {
        let shown = path.display().to_string();
        let mut row = serde_json::json!({"kind": kind.name(), "backup": shown});
        let result = match verify_path(*kind, path, check)? {
            Verdict::Ok => {
                row["ok"] = true.into();
                "ok".to_string()
            }
            Verdict::Problems(findings) => {
                row["ok"] = false.into();
                let n = findings.len();
                report.findings.extend(findings);
                format!("{n} problem(s)")
            }
            Verdict::Gone => {
                row["gone"] = true.into();
                "gone (deleted while being verified, e.g. by prune)".to_string()
            }
        };
        table.row(vec![shown, result]);
        rows.push(row);
    }
    report.tables.push(table);
    report.set("verified", rows);
    Ok(report)
}

/// What `backup verify` checks: the backup named, or the newest (`--all`: every) of each kind.
fn verify_targets(store: &Store, arg: Option<&str>, all: bool) -> Result<Vec<(Kind, PathBuf)>> {
    if let Some(a) = arg.filter(|a| *a != "latest") {
        let p = resolve(store, Kind::Pipeline, a)?;
        let Some(kind) = Kind::of_name(&p).or_else(|| Kind::of_suffix(&p)) else {
            bail!(
                "{} is not a backup made by cargo xtask (unknown name)",
                p.display()
            );
        };
        return Ok(vec![(kind, p)]);
    }
    let mut targets = Vec::new();
    for kind in Kind::ALL {
        let entries = store.list(kind)?;
        let n = if all { entries.len() } else { 1 };
        targets.extend(entries.into_iter().take(n).map(|e| (kind, e.path)));
    }
    if targets.is_empty() {
        bail!(
            "no backups in {}: run `cargo xtask backup` first",
            store.dir.display()
        );
    }
    Ok(targets)
}

/// `backup [SUBCOMMAND]`: every kind (then prune) without a subcommand.
pub fn dispatch(cx: &Context, command: Option<BackupCmd>, if_changed: bool) -> Result<Report> {
    match command {
        None => all(cx, if_changed),
        Some(BackupCmd::Config { if_changed: ic }) => pipeline::run(cx, ic || if_changed),
        Some(BackupCmd::Db { database, upload }) => {
            db::run(cx, database.as_deref(), upload.as_deref())
        }
        Some(BackupCmd::List) => list(cx),
        Some(BackupCmd::Verify { archive, all }) => verify(cx, archive.as_deref(), all),
        Some(BackupCmd::Prune { dry_run }) => prune(cx, dry_run),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `backup verify --all` while `prune` runs: backups listed, then deleted before they
    /// are read (a database backup's manifest may outlive it), are gone, not corrupt.
    #[test]
    fn backups_deleted_after_listing_are_gone_not_corrupt() {
        let t = tempfile::tempdir().unwrap();
        let db = t.path().join("db/db_backup_20260101_000000.sqlite.gz");
        std::fs::create_dir_all(db.parent().unwrap()).unwrap();
        let manifest = r#"{"format":"xtask-db-backup/1","engine":"sqlite","source":"x","started":"s","finished":"f","method":"backup-api","raw_bytes":1,"raw_sha256":"a","bytes":1,"sha256":"a","tables":{},"check":"integrity_check: ok"}"#;
        std::fs::write(db::manifest_path(&db), manifest).unwrap();
        let pipeline = t
            .path()
            .join("pipeline/pipeline-backup-20260101_000000.tar.gz");
        let targets = [(Kind::Sqlite, db), (Kind::Pipeline, pipeline)];
        for (kind, path) in &targets {
            let v = verify_path(*kind, path, IntegrityCheck::QuickCheck).unwrap();
            assert!(matches!(v, Verdict::Gone), "{kind:?}: {v:?}");
        }
        let report = verify_report(&targets, IntegrityCheck::QuickCheck).unwrap();
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        assert_eq!(report.exit_code(), 0);
        let rows = report.data["verified"].as_array().unwrap();
        assert!(
            rows.iter()
                .all(|r| r["gone"] == true && r.get("ok").is_none())
        );
    }
}
