//! `backup …` and `restore …`: the backup store and every kind of backup in it.

pub mod archive;
pub mod db;
pub mod gz;
pub mod pipeline;
pub mod prune;
pub mod restore;
pub mod store;

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::context::Context;
use crate::report::{Finding, Report, Severity, Table, codes, human_bytes};
use store::{Kind, PIPELINE, Store};

/// Every kind of backup the store holds.
pub const KINDS: [Kind; 3] = [PIPELINE, db::SQLITE, db::POSTGRES];

/// `backup` with no subcommand, the cron entry point: every configured kind, then prune,
/// all under one lock.
pub fn all(cx: &Context, if_changed: bool) -> Result<Report> {
    let store = cx.store();
    let _lock = store.lock("backup")?;
    let mut report = Report::new("backup");
    store.clean_stale(PIPELINE)?;
    report.absorb(pipeline::create(cx, &store, if_changed)?);
    report.absorb(db::create_configured(cx, &store)?);
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
        for kind in KINDS {
            store.clean_stale(kind)?;
        }
    }
    prune_kinds(cx, &store, dry_run)
}

fn prune_kinds(cx: &Context, store: &Store, dry_run: bool) -> Result<Report> {
    let mut report = Report::dry("backup prune", dry_run);
    let mut deleted = Vec::new();
    for kind in KINDS {
        if store.list(kind)?.is_empty() {
            continue;
        }
        let verified =
            |e: &store::Entry| verify_path(cx, kind, &e.path).is_ok_and(|f| f.is_empty());
        let r = prune::prune(store, kind, &cx.config.backup.retention, dry_run, &verified)?;
        for key in ["deleted", "would_delete"] {
            if let Some(v) = r.data.get(key).and_then(|v| v.as_array()) {
                deleted.extend(v.iter().cloned());
            }
        }
        report.summary.extend(r.summary);
        report.tables.extend(r.tables);
        report.findings.extend(r.findings);
    }
    report.set(if dry_run { "would_delete" } else { "deleted" }, deleted);
    report.set("dry_run", dry_run);
    Ok(report)
}

/// Findings of a full verification of one backup of `kind` (empty = good).
pub fn verify_path(cx: &Context, kind: Kind, path: &Path) -> Result<Vec<Finding>> {
    if kind.suffix == PIPELINE.suffix {
        Ok(pipeline::verify_one(path)?.findings)
    } else {
        Ok(db::verify_one(path, cx.config.database.check, None)?.findings)
    }
}

/// Which kind a backup file is, from its name.
pub fn kind_of(path: &Path) -> Option<Kind> {
    let name = path.file_name()?.to_str()?;
    KINDS
        .into_iter()
        .find(|k| store::parse_name(*k, name).is_some())
}

/// A path, a file name in the store, or `latest` (newest of `kind`).
pub fn resolve(store: &Store, kind: Kind, arg: &str) -> Result<PathBuf> {
    if arg == "latest" {
        return match store.list(kind)?.into_iter().next() {
            Some(e) => Ok(e.path),
            None => bail!(
                "no {} backups in {}: make one with `cargo xtask backup`",
                kind.name,
                store.kind_dir(kind).display()
            ),
        };
    }
    let p = PathBuf::from(arg);
    if p.is_file() {
        return Ok(p);
    }
    for k in KINDS {
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
    for kind in KINDS {
        let entries = store.list(kind)?;
        if entries.is_empty() {
            continue;
        }
        let mut table = Table::new(
            format!("{} backups", kind.name),
            &["name", "time (UTC)", "contents", "size", "checksum"],
        );
        for e in entries {
            let state = store::checksum_state(&e.path);
            let (contents, count) = if kind.suffix == PIPELINE.suffix {
                let n = archive::read_manifest(&e.path).ok().map(|m| m.files.len());
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
                "kind": kind.name,
                "name": e.name,
                "path": e.path.display().to_string(),
                "time": e.time.and_utc().to_rfc3339(),
                if kind.suffix == PIPELINE.suffix { "files" } else { "tables" }: count,
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
    let mut report = Report::new("backup verify");
    let mut targets: Vec<(Kind, PathBuf)> = Vec::new();
    match arg {
        Some(a) if a != "latest" => {
            let p = resolve(&store, PIPELINE, a)?;
            let Some(kind) = kind_of(&p).or_else(|| {
                // An archive renamed or copied elsewhere: judge by its suffix.
                KINDS
                    .into_iter()
                    .find(|k| p.to_string_lossy().ends_with(k.suffix))
            }) else {
                bail!(
                    "{} is not a backup made by cargo xtask (unknown name)",
                    p.display()
                );
            };
            targets.push((kind, p));
        }
        _ => {
            for kind in KINDS {
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
        }
    }
    let mut table = Table::new("Verification", &["backup", "result"]);
    let mut rows = Vec::new();
    for (kind, path) in targets {
        let findings = verify_path(cx, kind, &path)?;
        let ok = findings.is_empty();
        let result = if ok {
            "ok".to_string()
        } else {
            format!("{} problem(s)", findings.len())
        };
        table.row(vec![path.display().to_string(), result]);
        rows.push(
            serde_json::json!({"kind": kind.name, "backup": path.display().to_string(), "ok": ok}),
        );
        report.findings.extend(findings);
    }
    report.tables.push(table);
    report.set("verified", rows);
    Ok(report)
}
