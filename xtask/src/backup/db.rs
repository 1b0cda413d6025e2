//! `backup db` and `restore db`: SQLite through the online backup API, PostgreSQL through
//! `pg_dump -Fc`, in the same store as pipeline backups.
//!
//! SQLite: the snapshot is copied page by page into a temporary file beside the store; when
//! writers keep changing pages and the copy restarts more than `database.max_restarts`
//! times, `VACUUM INTO` (one read transaction, never restarts) takes over. The snapshot must
//! pass `PRAGMA integrity_check` (or `quick_check`) before it is compressed (parallel gzip,
//! sha256 on the way) and published with a JSON manifest and a `.sha256` beside it.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use chrono::Utc;
use rusqlite::{Connection, OpenFlags, backup::StepResult};
use serde::{Deserialize, Serialize};
use xshell::cmd;

use super::gz;
use super::store::{Kind, Store};
use crate::config::IntegrityCheck;
use crate::context::Context;
use crate::report::{Code, Finding, Report, Severity, Table, codes, human_bytes};
use crate::util::files;
use crate::util::hash::{self, HashingReader, HashingWriter};
use crate::util::progress::Progress;
use crate::util::redact::{PgUrl, redact as redact_url};
use crate::util::sh;

pub const SQLITE: Kind = Kind {
    name: "db",
    subdir: "db",
    prefix: "db_backup_",
    suffix: ".sqlite.gz",
};
pub const POSTGRES: Kind = Kind {
    name: "db-postgres",
    subdir: "db",
    prefix: "db_backup_",
    suffix: ".pgdump",
};

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
            Source::Sqlite(_) => SQLITE,
            Source::Postgres(_) => POSTGRES,
        }
    }
}

/// Stored beside every database backup as `<backup>.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DbManifest {
    pub format: String,
    pub engine: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub started: String,
    pub finished: String,
    pub method: String,
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
    pub check: String,
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

/// Removes a temporary file (and SQLite's `-wal`/`-shm`/`-journal` companions) when dropped.
struct TempDb(PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = self.0.as_os_str().to_owned();
            p.push(suffix);
            let _ = fs::remove_file(PathBuf::from(p));
        }
    }
}

fn temp_db(dir: &Path, what: &str) -> TempDb {
    TempDb(dir.join(format!(
        "{}{what}-{}.sqlite",
        files::TMP_PREFIX,
        std::process::id()
    )))
}

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `backup db`: the caller holds the store lock.
pub fn create(
    cx: &Context,
    store: &Store,
    source: &Source,
    reason: Option<&str>,
) -> Result<Report> {
    match source {
        Source::Sqlite(path) => create_sqlite(cx, store, path, reason),
        Source::Postgres(url) => create_postgres(cx, store, url, reason),
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
    create_and_upload(cx, &store, &source, upload)
}

/// Part of plain `backup`: a missing default SQLite database is a note, not a failure.
pub fn create_configured(cx: &Context, store: &Store) -> Result<Report> {
    let source = Source::resolve(cx, None);
    if let Source::Sqlite(p) = &source
        && !p.exists()
    {
        let mut r = Report::new("backup db");
        r.push(Finding::new(
            codes::DATABASE_MISSING,
            Severity::Info,
            format!(
                "no SQLite database at {}: database backup skipped",
                p.display()
            ),
        ));
        return Ok(r);
    }
    create_and_upload(cx, store, &source, None)
}

/// Back up, then copy off-site when a remote is given or configured. Holds no lock itself.
fn create_and_upload(
    cx: &Context,
    store: &Store,
    source: &Source,
    upload: Option<&str>,
) -> Result<Report> {
    store.clean_stale(source.kind())?;
    let mut report = create(cx, store, source, None)?;
    let remote = upload.or(cx.config.database.upload.as_deref());
    let path = report
        .data
        .get("backup")
        .and_then(|v| v.as_str())
        .map(PathBuf::from);
    if let (Some(remote), Some(path)) = (remote, path) {
        upload_backup(&path, remote, &mut report)?;
    }
    Ok(report)
}

/// Copy `src` into a fresh file `dst` with the online backup API; returns (method, restarts).
fn snapshot(
    src_path: &Path,
    dst: &Path,
    step_pages: u32,
    max_restarts: u32,
    progress: &mut Progress,
) -> Result<(&'static str, u32)> {
    let src = Connection::open_with_flags(
        src_path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {}", src_path.display()))?;
    src.busy_timeout(Duration::from_secs(30))?;
    // In WAL mode one step copies everything inside one read transaction: consistent, and
    // writers are never blocked, so nothing can restart. In rollback-journal mode a single
    // step would block writers for the whole copy, so copy `step_pages` at a time instead.
    let mode: String = src.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    let step_pages = if mode.eq_ignore_ascii_case("wal") {
        -1
    } else {
        step_pages as i32
    };
    let page_size = src.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))? as u64;
    let mut restarts = 0;
    {
        let mut dst_conn =
            Connection::open(dst).with_context(|| format!("creating {}", dst.display()))?;
        // The snapshot is a scratch file: durability comes from the fsync of the published
        // backup, so no journal and no syncs here.
        dst_conn.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
        let backup = rusqlite::backup::Backup::new(&src, &mut dst_conn)?;
        let mut last_remaining = i32::MAX;
        let mut busy = 0;
        loop {
            let step = backup
                .step(step_pages)
                .with_context(|| format!("copying {}", src_path.display()))?;
            let p = backup.progress();
            if p.remaining > last_remaining {
                restarts += 1;
            }
            last_remaining = p.remaining;
            progress.set((p.pagecount - p.remaining) as u64 * page_size);
            match step {
                StepResult::Done => break,
                StepResult::More => busy = 0,
                StepResult::Busy | StepResult::Locked => {
                    wait_busy(&mut busy, src_path, "try again later")?
                }
                _ => {}
            }
            if restarts > max_restarts {
                break;
            }
        }
    }
    if restarts <= max_restarts {
        return Ok(("backup-api", restarts));
    }
    // Writers keep changing pages: one read transaction copies a consistent state instead.
    drop(TempDb(dst.to_path_buf()));
    src.execute("VACUUM INTO ?1", [dst.to_string_lossy()])
        .with_context(|| format!("VACUUM INTO {}", dst.display()))?;
    Ok(("vacuum-into", restarts))
}

/// A backup step found the database locked: wait 10 ms, give up after 30 s.
fn wait_busy(busy: &mut u32, db: &Path, then: &str) -> Result<()> {
    *busy += 1;
    if *busy > 3000 {
        bail!("{} stayed locked for 30 s: {then}", db.display());
    }
    std::thread::sleep(Duration::from_millis(10));
    Ok(())
}

/// Facts about a database file, and the result of its integrity check.
pub struct Inspection {
    pub check: Vec<String>,
    pub page_size: u64,
    pub page_count: u64,
    pub sqlite_version: String,
    pub tables: BTreeMap<String, Option<u64>>,
}

impl Inspection {
    pub fn ok(&self) -> bool {
        self.check.len() == 1 && self.check[0] == "ok"
    }
}

pub fn inspect(path: &Path, check: IntegrityCheck) -> Result<Inspection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {}", path.display()))?;
    let pragma = check.pragma();
    let mut rows = Vec::new();
    {
        let mut stmt = conn.prepare(&format!("PRAGMA {pragma}"))?;
        let mut q = stmt.query([])?;
        while let Some(r) = q.next()? {
            rows.push(r.get::<_, String>(0)?);
        }
    }
    let page_size = conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))? as u64;
    let page_count = conn.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0))? as u64;
    let sqlite_version: String = conn.query_row("SELECT sqlite_version()", [], |r| r.get(0))?;
    let mut tables = BTreeMap::new();
    if rows.len() == 1 && rows[0] == "ok" {
        let names: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for name in names {
            let quoted = name.replace('"', "\"\"");
            let n: i64 =
                conn.query_row(&format!("SELECT count(*) FROM \"{quoted}\""), [], |r| {
                    r.get(0)
                })?;
            tables.insert(name, Some(n as u64));
        }
    }
    Ok(Inspection {
        check: rows,
        page_size,
        page_count,
        sqlite_version,
        tables,
    })
}

fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

fn create_sqlite(cx: &Context, store: &Store, db: &Path, reason: Option<&str>) -> Result<Report> {
    let mut report = Report::new("backup db");
    let started = now_rfc3339();
    let dest = store.new_path(SQLITE)?;
    let dir = store.kind_dir(SQLITE);
    let tmp = temp_db(&dir, "snapshot");
    let size = fs::metadata(db)
        .with_context(|| format!("reading {}", db.display()))?
        .len();
    let cfg = &cx.config.database;
    let mut progress = Progress::new("snapshot", size, cx.style.quiet);
    let (method, restarts) = snapshot(db, &tmp.0, cfg.step_pages, cfg.max_restarts, &mut progress)?;
    drop(progress);

    // The integrity check runs beside the compression; nothing is published unless it passes.
    let raw_size = fs::metadata(&tmp.0)?.len();
    let mut out = files::AtomicFile::create(&dest, 0o600)?;
    let (facts, compressed) = std::thread::scope(|s| {
        let checker = s.spawn(|| inspect(&tmp.0, cfg.check));
        let compressed = (|| -> Result<(String, u64, String, u64)> {
            let mut input = HashingReader::new(File::open(&tmp.0)?);
            let mut w = HashingWriter::new(BufWriter::with_capacity(1 << 20, out.file()));
            let mut progress = Progress::new("compress", raw_size, cx.style.quiet);
            gz::compress(
                &mut input,
                &mut w,
                cfg.compression_level,
                threads(),
                &mut |n| progress.set(n),
            )
            .with_context(|| format!("writing {}", dest.display()))?;
            let (raw_sha, raw_bytes) = input.finish()?;
            Ok((
                raw_sha,
                raw_bytes,
                hash::hex(&sha2::Digest::finalize(w.hasher)),
                w.bytes,
            ))
        })();
        (
            checker.join().expect("integrity check thread panicked"),
            compressed,
        )
    });
    let facts = facts?;
    if !facts.ok() {
        bail!(
            "the snapshot of {} failed PRAGMA {}: {}; nothing was published — the live database may be damaged, run the check on it",
            db.display(),
            cfg.check.pragma(),
            facts
                .check
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let (raw_sha, raw_bytes, sha, bytes) = compressed?;
    drop(tmp);

    let manifest = DbManifest {
        format: FORMAT.into(),
        engine: "sqlite".into(),
        source: db.display().to_string(),
        reason: reason.map(str::to_string),
        started,
        finished: now_rfc3339(),
        method: method.into(),
        restarts,
        raw_bytes,
        raw_sha256: raw_sha,
        bytes,
        sha256: sha.clone(),
        page_size: Some(facts.page_size),
        page_count: Some(facts.page_count),
        sqlite_version: Some(facts.sqlite_version.clone()),
        tables: facts.tables.clone(),
        check: format!("{}: ok", cfg.check.pragma()),
    };
    publish(out, &dest, &manifest)?;
    describe(&mut report, &dest, &manifest);
    if method == "vacuum-into" {
        report.push(Finding::new(
            codes::BACKUP_FELL_BACK_TO_VACUUM,
            Severity::Info,
            format!("writers restarted the online backup {restarts} times: used VACUUM INTO for a consistent copy"),
        ));
    }
    Ok(report)
}

fn publish(out: files::AtomicFile, dest: &Path, manifest: &DbManifest) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(manifest)?;
    json.push(b'\n');
    files::write_atomic(&manifest_path(dest), &json, 0o600)?;
    super::store::publish(out, dest, &manifest.sha256)
}

fn describe(report: &mut Report, dest: &Path, m: &DbManifest) {
    report.summary("backup", dest.display().to_string());
    report.summary("source", m.source.clone());
    report.summary("method", format!("{} ({} restarts)", m.method, m.restarts));
    report.summary("database size", human_bytes(m.raw_bytes));
    report.summary("backup size", human_bytes(m.bytes));
    report.summary("check", m.check.clone());
    report.summary("sha256", m.sha256.clone());
    let mut t = Table::new("Tables", &["table", "rows"]);
    for (name, rows) in &m.tables {
        t.row(vec![
            name.clone(),
            rows.map_or("?".into(), |n| n.to_string()),
        ]);
    }
    report.tables.push(t);
    report.set("backup", dest.display().to_string());
    report.set("sha256", &m.sha256);
    report.set("bytes", m.bytes);
    report.set("tables", &m.tables);
    report.set("manifest", m);
}

fn pg_shell(dir: &Path, password: Option<&str>) -> Result<xshell::Shell> {
    let sh = sh::shell(dir)?;
    if let Some(p) = password {
        // Through the environment, never argv (where `ps` would show it).
        sh.set_var("PGPASSWORD", p);
    }
    Ok(sh)
}

fn create_postgres(cx: &Context, store: &Store, url: &str, reason: Option<&str>) -> Result<Report> {
    let _ = cx;
    let mut report = Report::new("backup db");
    let started = now_rfc3339();
    let dest = store.new_path(POSTGRES)?;
    let dir = store.kind_dir(POSTGRES);
    let PgUrl {
        without_password: dbname,
        password,
    } = PgUrl::parse(url)?;
    let sh = pg_shell(&dir, password.as_deref())?;
    let out = files::AtomicFile::create(&dest, 0o600)?;
    let tmp = out.tmp_path().to_path_buf();
    cmd!(
        sh,
        "pg_dump --format=custom --no-password --file={tmp} --dbname={dbname}"
    )
    .quiet()
    .run()
    .with_context(|| format!("pg_dump of {} failed", redact_url(url)))?;
    let list = cmd!(sh, "pg_restore --list {tmp}")
        .quiet()
        .read()
        .with_context(|| format!("pg_restore --list rejected the dump of {}", redact_url(url)))?;
    let (sha, bytes) = hash::hash_file(&tmp)?;
    let manifest = DbManifest {
        format: FORMAT.into(),
        engine: "postgres".into(),
        source: redact_url(url),
        reason: reason.map(str::to_string),
        started,
        finished: now_rfc3339(),
        method: "pg_dump -Fc".into(),
        restarts: 0,
        raw_bytes: bytes,
        raw_sha256: sha.clone(),
        bytes,
        sha256: sha,
        page_size: None,
        page_count: None,
        sqlite_version: None,
        tables: dump_tables(&list),
        check: "pg_restore --list: ok".into(),
    };
    publish(out, &dest, &manifest)?;
    describe(&mut report, &dest, &manifest);
    Ok(report)
}

/// `TABLE DATA schema name owner` lines of `pg_restore --list`.
fn dump_tables(list: &str) -> BTreeMap<String, Option<u64>> {
    list.lines()
        .filter(|l| !l.starts_with(';'))
        .filter_map(|l| {
            let rest = l.split_once(" TABLE DATA ")?.1;
            let mut it = rest.split_whitespace();
            Some((format!("{}.{}", it.next()?, it.next()?), None))
        })
        .collect()
}

/// Off-site copy with rclone, then check size and sha256 of what arrived.
fn upload_backup(path: &Path, remote: &str, report: &mut Report) -> Result<()> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let remote = remote.trim_end_matches('/');
    let dest = format!("{remote}/{name}");
    let sh = sh::shell(path.parent().unwrap())?;
    let result = (|| -> Result<()> {
        let expected = super::store::read_sidecar(path)?.unwrap_or_default();
        let size = fs::metadata(path)?.len();
        for file in [
            manifest_path(path),
            super::store::sidecar_of(path),
            path.to_path_buf(),
        ] {
            let fname = file.file_name().unwrap().to_string_lossy().into_owned();
            let to = format!("{remote}/{fname}");
            cmd!(sh, "rclone copyto {file} {to}").quiet().run()?;
        }
        let sizes = cmd!(sh, "rclone size --json {dest}").quiet().read()?;
        let got: serde_json::Value = serde_json::from_str(&sizes)?;
        if got["bytes"].as_u64() != Some(size) {
            bail!("uploaded size {} differs from {size}", got["bytes"]);
        }
        let sums = cmd!(sh, "rclone hashsum sha256 --download {dest}")
            .quiet()
            .read()?;
        let got = sums.split_whitespace().next().unwrap_or_default();
        if got != expected {
            bail!("uploaded sha256 {got} differs from {expected}");
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            report.summary("uploaded", format!("{dest} (size and sha256 verified)"));
            report.set("uploaded", &dest);
        }
        Err(e) => report.push(
            Finding::new(
                codes::UPLOAD_FAILED,
                Severity::High,
                format!("off-site copy to {dest} failed: {e:#}; the local backup is intact"),
            )
            .at(path.display().to_string()),
        ),
    }
    Ok(())
}

/// Full verification of a database backup. With `keep_in`, the decompressed SQLite file is
/// left there (as a temporary file) for a restore; otherwise it is removed.
pub struct DbCheck {
    pub findings: Vec<Finding>,
    pub manifest: Option<DbManifest>,
    pub restored: Option<PathBuf>,
}

pub fn verify_one(path: &Path, check: IntegrityCheck, keep_in: Option<&Path>) -> Result<DbCheck> {
    let at = path.display().to_string();
    let bad = |code: Code, msg: String| Finding::new(code, Severity::High, msg).at(at.clone());
    let mut out = DbCheck {
        findings: Vec::new(),
        manifest: None,
        restored: None,
    };
    let manifest = match read_manifest(path) {
        Ok(m) => m,
        Err(e) => {
            out.findings
                .push(bad(codes::BACKUP_MANIFEST_MISSING, format!("{e:#}")));
            return Ok(out);
        }
    };
    let expected = super::store::read_sidecar(path).ok().flatten();
    if expected.as_deref() != Some(manifest.sha256.as_str()) {
        out.findings.push(bad(
            codes::BACKUP_CHECKSUM_MISSING,
            "the .sha256 file is missing or disagrees with the manifest".into(),
        ));
    }
    if manifest.engine == "postgres" {
        let (sha, bytes) = hash::hash_file(path)?;
        if sha != manifest.sha256 || bytes != manifest.bytes {
            out.findings.push(bad(
                codes::BACKUP_CHECKSUM_MISMATCH,
                format!("sha256 {sha} ({bytes} bytes) does not match the manifest"),
            ));
        } else {
            let sh = sh::shell(path.parent().unwrap())?;
            if let Err(e) = cmd!(sh, "pg_restore --list {path}")
                .quiet()
                .ignore_stdout()
                .run()
            {
                out.findings.push(bad(
                    codes::BACKUP_CORRUPT,
                    format!("pg_restore --list rejects it: {e}"),
                ));
            }
        }
        out.manifest = Some(manifest);
        return Ok(out);
    }

    let dir = keep_in.map_or_else(|| path.parent().unwrap().to_path_buf(), Path::to_path_buf);
    let tmp = temp_db(&dir, "verify");
    let decoded = (|| -> Result<(String, u64, String, u64)> {
        let mut raw = HashingReader::new(BufReader::with_capacity(1 << 16, File::open(path)?));
        let mut dec = HashingReader::new(flate2::read::MultiGzDecoder::new(&mut raw));
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp.0)?;
        io::copy(&mut dec, &mut BufWriter::with_capacity(1 << 20, &mut f))?;
        f.sync_all()?;
        let (dsha, dn) = dec.finish()?;
        let (sha, n) = raw.finish()?;
        Ok((sha, n, dsha, dn))
    })();
    match decoded {
        Err(e) => out.findings.push(bad(
            codes::BACKUP_CORRUPT,
            format!("cannot decompress: {e:#}"),
        )),
        Ok((sha, n, dsha, dn)) => {
            if sha != manifest.sha256 || n != manifest.bytes {
                out.findings.push(bad(
                    codes::BACKUP_CHECKSUM_MISMATCH,
                    format!(
                        "sha256 {sha} ({n} bytes) does not match the manifest's {}",
                        manifest.sha256
                    ),
                ));
            }
            if dsha != manifest.raw_sha256 || dn != manifest.raw_bytes {
                out.findings.push(bad(
                    codes::BACKUP_CONTENT_MISMATCH,
                    format!("the database inside ({dn} bytes) does not match the manifest"),
                ));
            }
        }
    }
    if out.findings.is_empty() {
        match inspect(&tmp.0, check) {
            Ok(i) if i.ok() => {}
            Ok(i) => out.findings.push(bad(
                codes::BACKUP_INTEGRITY_FAILED,
                format!("PRAGMA {}: {}", check.pragma(), i.check.join("; ")),
            )),
            Err(e) => out
                .findings
                .push(bad(codes::BACKUP_INTEGRITY_FAILED, format!("{e:#}"))),
        }
    }
    if out.findings.is_empty() && keep_in.is_some() {
        out.restored = Some(tmp.0.clone());
        std::mem::forget(tmp);
    }
    out.manifest = Some(manifest);
    Ok(out)
}

/// `restore db BACKUP [--to PATH] [--dry-run] [--yes] [--database …]`.
pub fn restore(
    cx: &Context,
    backup_arg: &str,
    to: Option<&Path>,
    database: Option<&str>,
    dry_run: bool,
    yes: bool,
) -> Result<Report> {
    let live = Source::resolve(cx, database);
    let store = cx.store();
    let backup = super::resolve(&store, live.kind(), backup_arg)?;
    let mut report = Report::dry("restore db", dry_run);
    report.summary("backup", backup.display().to_string());
    report.set("backup", backup.display().to_string());
    report.set("dry_run", dry_run);

    if let Source::Postgres(url) = &live {
        return restore_postgres(cx, &backup, url, dry_run, yes, report);
    }
    let Source::Sqlite(live_path) = live else {
        unreachable!()
    };
    let target = match to {
        Some(t) => {
            let t = if t.is_absolute() {
                t.to_path_buf()
            } else {
                std::env::current_dir()?.join(t)
            };
            if t.exists() {
                bail!(
                    "{} already exists: --to writes a new database file; choose another path or remove it",
                    t.display()
                );
            }
            t
        }
        None => live_path.clone(),
    };
    let over_live = to.is_none();
    report.summary(
        "target",
        format!(
            "{}{}",
            target.display(),
            if over_live {
                " (the live database)"
            } else {
                ""
            }
        ),
    );
    report.set("target", target.display().to_string());
    if over_live && !yes && !dry_run {
        bail!(
            "restoring over the live database {} needs --yes (a safety backup of it is taken first); \
             use --to PATH for a copy, or --dry-run to see the plan",
            target.display()
        );
    }
    let dir = target.parent().context("target has no directory")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let _lock = if dry_run {
        None
    } else {
        Some(store.lock("restore db")?)
    };

    // Verify first: checksum, content and integrity of the decompressed copy.
    let check = verify_one(&backup, cx.config.database.check, Some(dir))?;
    let manifest = check.manifest.clone();
    if !check.findings.is_empty() {
        return Ok(refused(report, check.findings));
    }
    let restored = TempDb(
        check
            .restored
            .expect("verified backups are kept for restore"),
    );
    let manifest = manifest.expect("verified");
    report.summary("backup taken", manifest.finished.clone());
    let mut t = Table::new("Tables", &["table", "rows in backup", "rows now"]);
    let now_counts = if target.exists() {
        inspect(&target, IntegrityCheck::QuickCheck).ok()
    } else {
        None
    };
    for (name, rows) in &manifest.tables {
        let now = now_counts
            .as_ref()
            .and_then(|i| i.tables.get(name).copied().flatten());
        t.row(vec![
            name.clone(),
            rows.map_or("?".into(), |n| n.to_string()),
            now.map_or("-".into(), |n| n.to_string()),
        ]);
    }
    report.tables.push(t);
    if dry_run {
        let plan = if over_live && target.exists() {
            format!(
                "would back up {} first, then replace its content with the backup of {} (later writes are lost)",
                target.display(),
                manifest.finished
            )
        } else {
            format!("would write {}", target.display())
        };
        report.summary("plan", plan);
        report.summary("result", "dry run: nothing was changed");
        report.set("restored", false);
        return Ok(report);
    }

    if over_live && target.exists() {
        let safety = create_sqlite(cx, &store, &target, Some("safety backup before restore"))?;
        let path = safety
            .data
            .get("backup")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        report.summary("safety backup", path.clone());
        report.set("safety_backup", path);
        copy_into_live(&restored.0, &target)?;
    } else {
        fs::rename(&restored.0, &target)
            .with_context(|| format!("moving the restored database to {}", target.display()))?;
        files::sync_dir(dir)?;
    }
    report.summary(
        "result",
        format!(
            "restored {} from the backup of {}",
            target.display(),
            manifest.finished
        ),
    );
    report.set("restored", true);
    Ok(report)
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

/// Write a verified copy into the live database through the backup API, which takes the
/// database's write lock (waiting for readers and writers) and keeps open connections valid.
fn copy_into_live(src: &Path, live: &Path) -> Result<()> {
    let src_conn = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut live_conn =
        Connection::open(live).with_context(|| format!("opening {}", live.display()))?;
    live_conn.busy_timeout(Duration::from_secs(30))?;
    let b = rusqlite::backup::Backup::new(&src_conn, &mut live_conn)?;
    let mut busy = 0;
    loop {
        match b
            .step(-1)
            .with_context(|| format!("writing {}", live.display()))?
        {
            StepResult::Done => break,
            StepResult::Busy | StepResult::Locked => {
                wait_busy(&mut busy, live, "stop the application and retry")?
            }
            _ => {}
        }
    }
    Ok(())
}

fn restore_postgres(
    _cx: &Context,
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
    let PgUrl {
        without_password: dbname,
        password,
    } = PgUrl::parse(url)?;
    let sh = pg_shell(backup.parent().unwrap(), password.as_deref())?;
    cmd!(sh, "pg_restore --single-transaction --exit-on-error --clean --if-exists --no-owner --no-password --dbname={dbname} {backup}")
        .quiet()
        .run()
        .with_context(|| format!("pg_restore into {} failed and was rolled back", redact_url(url)))?;
    report.summary("result", "restored (one transaction)");
    report.set("restored", true);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_from_pg_restore_list() {
        let list = ";\n; Archive created\n215; 1259 16385 TABLE public items app\n3340; 0 16385 TABLE DATA public items app\n3341; 0 16390 TABLE DATA audit log app\n";
        let t = dump_tables(list);
        assert_eq!(
            t.keys().cloned().collect::<Vec<_>>(),
            ["audit.log", "public.items"]
        );
    }
}
