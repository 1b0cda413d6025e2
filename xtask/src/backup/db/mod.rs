//! `backup db`: SQLite through the online backup API ([`sqlite`]), PostgreSQL through
//! `pg_dump -Fc` ([`postgres`]), in the same store as pipeline backups, with an optional
//! off-site copy ([`upload`]).
//!
//! SQLite: the snapshot is copied page by page into a temporary file beside the store; when
//! writers keep changing pages and the copy restarts more than `database.max_restarts`
//! times, `VACUUM INTO` (one read transaction, never restarts) takes over. The snapshot must
//! pass `PRAGMA integrity_check` (or `quick_check`) before it is compressed (parallel gzip,
//! sha256 on the way) and published with a JSON manifest and a `.sha256` beside it.

pub mod gz;
pub mod postgres;
pub mod sqlite;
pub mod upload;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::Kind;
use super::store::Store;
use crate::config::IntegrityCheck;
use crate::context::Context;
use crate::report::{Finding, Report, Severity, Table, codes, human_bytes};
use crate::util::files;
use upload::Upload;

pub const FORMAT: &str = "xtask-db-backup/1";

/// What to back up or restore into.
#[derive(Debug, Clone)]
pub enum Source {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Source {
    /// `--database` if given, else `database.url`, else `database.path` under the root.
    pub fn resolve(cx: &Context, arg: Option<&str>) -> Source {
        match arg {
            Some(a) if a.starts_with("postgres://") || a.starts_with("postgresql://") => {
                Source::Postgres(a.to_string())
            }
            Some(a) => Source::Sqlite(cx.root.join(a)),
            None => match &cx.config.database.url {
                Some(url) => Source::Postgres(url.clone()),
                None => Source::Sqlite(cx.root.join(&cx.config.database.path)),
            },
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Source::Sqlite(_) => Kind::Sqlite,
            Source::Postgres(_) => Kind::Postgres,
        }
    }
}

/// The database engine a backup was made from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// How the copy was made.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Method {
    /// SQLite's online backup API.
    #[serde(rename = "backup-api")]
    BackupApi,
    /// `VACUUM INTO` (writers kept restarting the online backup).
    #[serde(rename = "vacuum-into")]
    VacuumInto,
    #[serde(rename = "pg_dump -Fc")]
    PgDump,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::BackupApi => "backup-api",
            Method::VacuumInto => "vacuum-into",
            Method::PgDump => "pg_dump -Fc",
        }
    }
}

/// The check the copy passed before it was published.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Checked {
    #[serde(rename = "integrity_check: ok")]
    IntegrityCheck,
    #[serde(rename = "quick_check: ok")]
    QuickCheck,
    #[serde(rename = "pg_restore --list: ok")]
    PgRestoreList,
}

impl Checked {
    pub fn as_str(self) -> &'static str {
        match self {
            Checked::IntegrityCheck => "integrity_check: ok",
            Checked::QuickCheck => "quick_check: ok",
            Checked::PgRestoreList => "pg_restore --list: ok",
        }
    }
}

impl From<IntegrityCheck> for Checked {
    fn from(c: IntegrityCheck) -> Checked {
        match c {
            IntegrityCheck::IntegrityCheck => Checked::IntegrityCheck,
            IntegrityCheck::QuickCheck => Checked::QuickCheck,
        }
    }
}

/// Why a backup was made, when something other than a backup run made it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Reason {
    /// Taken by `restore db` before it replaced the live database; never `latest`.
    #[serde(rename = "safety backup before restore")]
    SafetyBeforeRestore,
}

/// Stored beside every database backup as `<backup>.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DbManifest {
    pub format: String,
    pub engine: Engine,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    pub started: String,
    pub finished: String,
    pub method: Method,
    #[serde(default)]
    pub restarts: u32,
    /// Size and sha256 of the database file (SQLite) or dump (PostgreSQL) before gzip.
    pub raw_bytes: u64,
    pub raw_sha256: String,
    /// Size and sha256 of the published file (also in `.sha256`).
    pub bytes: u64,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlite_version: Option<String>,
    /// Table name → row count (SQLite); table names with `null` counts (PostgreSQL).
    pub tables: BTreeMap<String, Option<u64>>,
    pub check: Checked,
}

pub fn manifest_path(backup: &Path) -> PathBuf {
    let mut s = backup.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

pub fn read_manifest(backup: &Path) -> Result<DbManifest> {
    let p = manifest_path(backup);
    let text = fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
    let m: DbManifest =
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", p.display()))?;
    if m.format != FORMAT {
        bail!("{}: unknown backup format `{}`", p.display(), m.format);
    }
    Ok(m)
}

/// The private folder, beside a database or a backup, where scratch copies are made.
pub const SCRATCH_DIR: &str = ".xtask-scratch";

/// This run's private folder for scratch copies of a database: `<dir>/.xtask-scratch/<pid>`,
/// mode 0700 (as is `.xtask-scratch`), removed when dropped. A killed run cannot remove it:
/// the next run that makes one in the same place removes the folders of dead processes.
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    pub fn new(beside: &Path) -> Result<Scratch> {
        let parent = beside.join(SCRATCH_DIR);
        let mine = parent.join(std::process::id().to_string());
        // Another run may remove an empty `.xtask-scratch` between our two steps: retry.
        for _ in 0..3 {
            private_dir(&parent)?;
            remove_stale(&parent);
            match fs::DirBuilder::new().mode(0o700).create(&mine) {
                Ok(()) => return Ok(Scratch { dir: mine }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("creating {}", mine.display()));
                }
            }
        }
        bail!(
            "{} keeps disappearing: is another run cleaning it?",
            parent.display()
        )
    }

    /// A path for a scratch file in the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
        // Only when empty: other runs may be using it.
        if let Some(parent) = self.dir.parent() {
            let _ = fs::remove_dir(parent);
        }
    }
}

/// `dir` as a folder of our own with mode 0700: created if missing; refused when it is a
/// link or not a folder (scratch copies must not land where someone else chose).
fn private_dir(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {
            if m.permissions().mode() & 0o077 != 0 {
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                    .with_context(|| format!("making {} private", dir.display()))?;
            }
            Ok(())
        }
        Ok(_) => bail!(
            "{} is not a folder (a link or a file): remove it; scratch copies of databases go there",
            dir.display()
        ),
        Err(_) => match fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => private_dir(dir),
            Err(e) => Err(e).with_context(|| format!("creating {}", dir.display())),
        },
    }
}

/// Remove the folders of runs whose process is gone (killed before they could).
fn remove_stale(parent: &Path) {
    let Ok(rd) = fs::read_dir(parent) else {
        return;
    };
    for de in rd.flatten() {
        let pid = de.file_name().to_str().and_then(|n| n.parse::<i32>().ok());
        if pid.is_some_and(|pid| pid != std::process::id() as i32 && !alive(pid)) {
            let _ = fs::remove_dir_all(de.path());
        }
    }
}

/// Is there a process with this id? (A reused id keeps a dead run's folder a while longer.)
fn alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A published database backup.
#[derive(Debug, Clone)]
pub struct DbBackup {
    pub path: PathBuf,
    pub manifest: DbManifest,
}

impl DbBackup {
    /// The file name in the store (what `restore db` and the deploy ledger name it by).
    pub fn id(&self) -> String {
        self.path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    }
}

/// What `backup db` did: a backup and its off-site copy, or nothing (no database, or the
/// newest backup already holds this content).
#[derive(Debug)]
pub enum DbRun {
    /// There is no SQLite database at `path`: nothing was backed up. `configured`: the
    /// path is set in the config (a failure); else it is the runbook's default (a note).
    NoDatabase { path: PathBuf, configured: bool },
    /// `--if-changed`: the snapshot's content equals that of `newest`; nothing was written.
    Unchanged { newest: PathBuf, raw_sha256: String },
    Made {
        backup: Box<DbBackup>,
        upload: Option<Upload>,
    },
}

impl DbRun {
    /// The backup made, if any.
    pub fn backup(&self) -> Option<&DbBackup> {
        match self {
            DbRun::NoDatabase { .. } | DbRun::Unchanged { .. } => None,
            DbRun::Made { backup, .. } => Some(backup),
        }
    }

    /// The report of `backup db`.
    pub fn report(&self, cx: &Context) -> Report {
        let mut report = Report::new("backup db");
        match self {
            DbRun::NoDatabase { path, configured } => {
                let why = if *configured {
                    format!("database.path {} does not exist", cx.rel(path))
                } else {
                    format!("nothing at the default path {}", cx.rel(path))
                };
                report.summary("database", format!("no database backed up ({why})"));
                report.set("skipped", true);
                report.push(missing_finding(cx, path, *configured));
            }
            DbRun::Unchanged { newest, raw_sha256 } => {
                let name = newest.file_name().unwrap_or_default().to_string_lossy();
                report.summary(
                    "unchanged",
                    format!("{name} already holds this content (the database is unchanged)"),
                );
                report.set("backup", newest.display().to_string());
                report.set("raw_sha256", raw_sha256);
                report.set("skipped", true);
            }
            DbRun::Made { backup, upload } => {
                describe(&mut report, backup);
                report.set("skipped", false);
                if let Some(upload) = upload {
                    upload.describe(&mut report, &backup.path);
                }
            }
        }
        report
    }
}

/// No database at `path`: high when the config names the path (a typo or a lost mount
/// must not pass silently, even under `-q`), a note for the runbook's default.
fn missing_finding(cx: &Context, path: &Path, configured: bool) -> Finding {
    if configured {
        Finding::new(
            codes::DATABASE_MISSING,
            Severity::High,
            format!(
                "database.path `{}` (set in {}) does not exist: no database backed up; fix the path, or remove the key if this tree has no database",
                cx.config.database.path,
                cx.config_path.display()
            ),
        )
        .at(path.display().to_string())
    } else {
        Finding::new(
            codes::DATABASE_MISSING,
            Severity::Info,
            format!(
                "no SQLite database at the default path {}: no database backed up (set database.path or database.url in maintenance.toml if there is one)",
                cx.rel(path)
            ),
        )
    }
}

/// The configured SQLite database, when it does not exist: its path, and whether the config
/// names it (`database.path` set) or it is the runbook's default.
pub fn missing_database(cx: &Context) -> Option<(PathBuf, bool)> {
    match Source::resolve(cx, None) {
        Source::Sqlite(p) if !p.exists() => Some((p, cx.config.database_path_explicit)),
        _ => None,
    }
}

/// Back up `source`; the caller holds the store lock.
pub fn create(
    cx: &Context,
    store: &Store,
    source: &Source,
    reason: Option<Reason>,
) -> Result<DbBackup> {
    match source {
        Source::Sqlite(path) => sqlite::create(cx, store, path, reason),
        Source::Postgres(url) => postgres::create(store, url, reason),
    }
}

/// `backup db [--database …] [--upload REMOTE]` as its own command.
pub fn run(cx: &Context, database: Option<&str>, upload: Option<&str>) -> Result<Report> {
    let source = Source::resolve(cx, database);
    if let Source::Sqlite(p) = &source
        && !p.exists()
    {
        bail!(
            "no database at {}: pass --database PATH or set database.path in maintenance.toml",
            p.display()
        );
    }
    let store = cx.store();
    let _lock = store.lock("backup db")?;
    Ok(create_and_upload(cx, &store, &source, upload, false)?.report(cx))
}

/// Part of plain `backup` (and of `deploy`): a missing database is reported, not an error
/// (high when the config names it). With `if_changed`, a snapshot whose content equals the
/// newest backup's is not published. The caller holds the store lock.
pub fn create_configured(cx: &Context, store: &Store, if_changed: bool) -> Result<DbRun> {
    if let Some((path, configured)) = missing_database(cx) {
        return Ok(DbRun::NoDatabase { path, configured });
    }
    create_and_upload(cx, store, &Source::resolve(cx, None), None, if_changed)
}

/// Back up, then copy off-site when a remote is given or configured. Holds no lock itself.
fn create_and_upload(
    cx: &Context,
    store: &Store,
    source: &Source,
    upload: Option<&str>,
    if_changed: bool,
) -> Result<DbRun> {
    let remote = upload.or(cx.config.database.upload.as_deref());
    if let Some(remote) = remote {
        upload::check_remote(remote)?;
    }
    store.clean_stale(source.kind())?;
    let newest = match source {
        Source::Sqlite(path) if if_changed => {
            newest_backup(store, Kind::Sqlite, &path.display().to_string())?
        }
        _ => None,
    };
    let backup = match (source, newest) {
        (Source::Sqlite(path), Some((newest, raw_sha256))) => {
            match sqlite::create_unless_same(cx, store, path, &raw_sha256)? {
                Some(b) => b,
                None => return Ok(DbRun::Unchanged { newest, raw_sha256 }),
            }
        }
        _ => create(cx, store, source, None)?,
    };
    let upload = remote.map(|remote| upload::upload(&backup.path, remote));
    Ok(DbRun::Made {
        backup: Box::new(backup),
        upload,
    })
}

/// The newest backup of `kind` made from `source` by a backup run (not a safety backup),
/// with its content hash, when its checksum is intact: what `--if-changed` compares with.
fn newest_backup(store: &Store, kind: Kind, source: &str) -> Result<Option<(PathBuf, String)>> {
    for e in store.list(kind)? {
        let Ok(m) = read_manifest(&e.path) else {
            continue;
        };
        if m.reason.is_some() || m.source != source {
            continue;
        }
        let intact = super::store::checksum_state(&e.path) == super::store::ChecksumState::Ok
            && super::store::read_sidecar(&e.path)
                .ok()
                .flatten()
                .as_deref()
                == Some(&m.sha256);
        return Ok(intact.then_some((e.path, m.raw_sha256)));
    }
    Ok(None)
}

/// Publish a finished backup: its manifest, its sidecar, then the backup itself.
fn publish(out: files::AtomicFile, dest: &Path, manifest: &DbManifest) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(manifest)?;
    json.push(b'\n');
    files::write_atomic(&manifest_path(dest), &json, 0o600)?;
    super::store::publish(out, dest, &manifest.sha256)
}

/// The summary, table and JSON fields of a new backup.
fn describe(report: &mut Report, b: &DbBackup) {
    let m = &b.manifest;
    report.summary("backup", b.path.display().to_string());
    report.summary("source", m.source.clone());
    report.summary(
        "method",
        format!("{} ({} restarts)", m.method.as_str(), m.restarts),
    );
    report.summary("database size", human_bytes(m.raw_bytes));
    report.summary("backup size", human_bytes(m.bytes));
    report.summary("check", m.check.as_str());
    report.summary("sha256", m.sha256.clone());
    let mut t = Table::new("Tables", &["table", "rows"]);
    for (name, rows) in &m.tables {
        t.row(vec![
            name.clone(),
            rows.map_or("?".into(), |n| n.to_string()),
        ]);
    }
    report.tables.push(t);
    report.set("backup", b.path.display().to_string());
    report.set("sha256", &m.sha256);
    report.set("bytes", m.bytes);
    report.set("tables", &m.tables);
    report.set("manifest", m);
    if m.method == Method::VacuumInto {
        report.push(Finding::new(
            codes::BACKUP_FELL_BACK_TO_VACUUM,
            Severity::Info,
            format!(
                "writers restarted the online backup {} times: used VACUUM INTO for a consistent copy",
                m.restarts
            ),
        ));
    }
}

/// Full verification of a database backup. With `keep_in`, the decompressed SQLite file is
/// kept (in a private scratch folder there) for a restore; otherwise it is removed.
pub struct DbCheck {
    pub findings: Vec<Finding>,
    pub manifest: Option<DbManifest>,
    pub restored: Option<Restored>,
}

/// A verified, decompressed copy of a SQLite backup, removed (with its folder) when dropped.
#[derive(Debug)]
pub struct Restored {
    pub path: PathBuf,
    _scratch: Scratch,
}

impl Restored {
    fn new(path: PathBuf, scratch: Scratch) -> Restored {
        Restored {
            path,
            _scratch: scratch,
        }
    }
}

pub fn verify_one(path: &Path, check: IntegrityCheck, keep_in: Option<&Path>) -> Result<DbCheck> {
    let mut out = DbCheck {
        findings: Vec::new(),
        manifest: None,
        restored: None,
    };
    let manifest = match read_manifest(path) {
        Ok(m) => m,
        Err(e) => {
            out.findings
                .push(bad(path, codes::BACKUP_MANIFEST_MISSING, format!("{e:#}")));
            return Ok(out);
        }
    };
    let expected = super::store::read_sidecar(path).ok().flatten();
    if expected.as_deref() != Some(manifest.sha256.as_str()) {
        out.findings.push(bad(
            path,
            codes::BACKUP_CHECKSUM_MISSING,
            "the .sha256 file is missing or disagrees with the manifest".into(),
        ));
    }
    match manifest.engine {
        Engine::Postgres => out.findings.extend(postgres::verify(path, &manifest)?),
        Engine::Sqlite => {
            let dir =
                keep_in.map_or_else(|| path.parent().unwrap().to_path_buf(), Path::to_path_buf);
            let keep = keep_in.is_some();
            out.restored = sqlite::verify(path, &manifest, check, &dir, keep, &mut out.findings)?;
        }
    }
    out.manifest = Some(manifest);
    Ok(out)
}

/// A high-severity finding about the backup at `path`.
fn bad(path: &Path, code: crate::report::Code, msg: String) -> Finding {
    Finding::new(code, Severity::High, msg).at(path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Manifests written before the enums (users' stores hold them) parse, and are written
    /// back with the same spellings.
    #[test]
    fn old_manifests_parse_and_keep_their_spellings() {
        let sqlite = r#"{
  "format": "xtask-db-backup/1",
  "engine": "sqlite",
  "source": "/srv/app/knowledge_hub.db",
  "reason": "safety backup before restore",
  "started": "2026-11-29T02:15:00.000Z",
  "finished": "2026-11-29T02:15:01.000Z",
  "method": "vacuum-into",
  "restarts": 3,
  "raw_bytes": 8192,
  "raw_sha256": "aa",
  "bytes": 512,
  "sha256": "bb",
  "page_size": 4096,
  "page_count": 2,
  "sqlite_version": "3.46.0",
  "tables": {
    "items": 10
  },
  "check": "quick_check: ok"
}"#;
        let m: DbManifest = serde_json::from_str(sqlite).unwrap();
        assert_eq!(
            (m.engine, m.method, m.check),
            (Engine::Sqlite, Method::VacuumInto, Checked::QuickCheck)
        );
        assert_eq!(m.reason, Some(Reason::SafetyBeforeRestore));
        assert_eq!(serde_json::to_string_pretty(&m).unwrap(), sqlite);
        let pg = r#"{"format":"xtask-db-backup/1","engine":"postgres","source":"postgres://app@db/hub","started":"s","finished":"f","method":"pg_dump -Fc","restarts":0,"raw_bytes":1,"raw_sha256":"a","bytes":1,"sha256":"a","tables":{"public.items":null},"check":"pg_restore --list: ok"}"#;
        let m: DbManifest = serde_json::from_str(pg).unwrap();
        assert_eq!(
            (m.engine, m.method, m.check),
            (Engine::Postgres, Method::PgDump, Checked::PgRestoreList)
        );
        assert_eq!(serde_json::to_string(&m).unwrap(), pg);
        let api: DbManifest = serde_json::from_str(
            &sqlite
                .replace("vacuum-into", "backup-api")
                .replace("quick_check", "integrity_check"),
        )
        .unwrap();
        assert_eq!(
            (api.method, api.check),
            (Method::BackupApi, Checked::IntegrityCheck)
        );
    }
}
