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
    let _lock = store.lock("backup")?;
    let mut report = Report::new("backup");
    store.clean_stale(Kind::Pipeline)?;
    report.absorb(pipeline::create(cx, &store, if_changed)?.report());
    report.absorb(db::create_configured(cx, &store)?.report());
    // Only prune when every backup of this run succeeded.
    if report.exit_code() == 0 {
        report.absorb(prune_kinds(cx, &store, false)?);
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
        let verified =
            |e: &store::Entry| verify_path(kind, &e.path, check).is_ok_and(|f| f.is_empty());
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

/// Findings of a full verification of one backup of `kind` (empty = good).
pub fn verify_path(kind: Kind, path: &Path, check: IntegrityCheck) -> Result<Vec<Finding>> {
    match kind {
        Kind::Pipeline => Ok(pipeline::verify_one(path)?.findings),
        Kind::Sqlite | Kind::Postgres => Ok(db::verify_one(path, check, None)?.findings),
    }
}

/// A path, a file name in the store, or `latest` (newest of `kind`).
pub fn resolve(store: &Store, kind: Kind, arg: &str) -> Result<PathBuf> {
    if arg == "latest" {
        return match store.list(kind)?.into_iter().next() {
            Some(e) => Ok(e.path),
            None => bail!(
                "no {} backups in {}: make one with `cargo xtask backup`",
                kind.name(),
                store.kind_dir(kind).display()
            ),
        };
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
                let n = db::read_manifest(&e.path).ok().map(|m| m.tables.len());
                (n.map_or("?".into(), |n| format!("{n} tables")), n)
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
    let store = cx.store();
    let targets = verify_targets(&store, arg, all)?;
    let mut report = Report::new("backup verify");
    let mut table = Table::new("Verification", &["backup", "result"]);
    let mut rows = Vec::new();
    for (kind, path) in targets {
        let findings = verify_path(kind, &path, cx.config.database.check)?;
        let ok = findings.is_empty();
        let result = if ok {
            "ok".to_string()
        } else {
            format!("{} problem(s)", findings.len())
        };
        table.row(vec![path.display().to_string(), result]);
        rows.push(
            serde_json::json!({"kind": kind.name(), "backup": path.display().to_string(), "ok": ok}),
        );
        report.findings.extend(findings);
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
