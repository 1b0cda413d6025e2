//! SQLite: the snapshot (online backup API, `VACUUM INTO` fallback), the integrity check,
//! verification of a backup, and writing a verified copy into the live database.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use rusqlite::{Connection, OpenFlags, backup::StepResult};

use super::{
    DbBackup, DbManifest, Engine, FORMAT, Method, Reason, Restored, Scratch, bad, gz, now_rfc3339,
    publish,
};
use crate::backup::Kind;
use crate::backup::store::Store;
use crate::config::IntegrityCheck;
use crate::context::Context;
use crate::report::{Finding, codes};
use crate::util::files;
use crate::util::hash::{self, HashingReader, HashingWriter};
use crate::util::progress::Progress;

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

/// Copy `src` into a fresh file `dst` with the online backup API; returns the method used
/// and how often writers restarted the copy.
fn snapshot(
    src_path: &Path,
    dst: &Path,
    step_pages: u32,
    max_restarts: u32,
    progress: &mut Progress,
) -> Result<(Method, u32)> {
    let src = Connection::open_with_flags(
        src_path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {}", src_path.display()))?;
    src.busy_timeout(Duration::from_secs(30))?;
    let reading = || format!("reading {}", src_path.display());
    // In WAL mode one step copies everything inside one read transaction: consistent, and
    // writers are never blocked, so nothing can restart. In rollback-journal mode a single
    // step would block writers for the whole copy, so copy `step_pages` at a time instead.
    let mode: String = src
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .with_context(reading)?;
    let step_pages = if mode.eq_ignore_ascii_case("wal") {
        -1
    } else {
        step_pages as i32
    };
    let page_size = src
        .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
        .with_context(reading)? as u64;
    let restarts = copy_pages(
        &src,
        src_path,
        dst,
        step_pages,
        page_size,
        max_restarts,
        progress,
    )?;
    if restarts <= max_restarts {
        return Ok((Method::BackupApi, restarts));
    }
    // Writers keep changing pages: one read transaction copies a consistent state instead.
    drop(TempDb(dst.to_path_buf()));
    src.execute("VACUUM INTO ?1", [dst.to_string_lossy()])
        .with_context(|| format!("VACUUM INTO {}", dst.display()))?;
    Ok((Method::VacuumInto, restarts))
}

/// The online backup's copy loop: returns the number of restarts (more than
/// `max_restarts`: it gave up).
fn copy_pages(
    src: &Connection,
    src_path: &Path,
    dst: &Path,
    step_pages: i32,
    page_size: u64,
    max_restarts: u32,
    progress: &mut Progress,
) -> Result<u32> {
    let mut dst_conn =
        Connection::open(dst).with_context(|| format!("creating {}", dst.display()))?;
    // The snapshot is a scratch file: durability comes from the fsync of the published
    // backup, so no journal and no syncs here.
    dst_conn.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
    let backup = rusqlite::backup::Backup::new(src, &mut dst_conn)?;
    let mut restarts = 0;
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
    Ok(restarts)
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

/// Size and sha256 of the snapshot, then of the compressed backup.
struct Compressed {
    raw_sha256: String,
    raw_bytes: u64,
    sha256: String,
    bytes: u64,
}

/// The first bytes of every SQLite database file.
const HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Refuse what is not a SQLite database file before SQLite opens it (which would take an
/// empty file for an empty database, and say "disk I/O error" of a folder).
pub fn check_is_database(db: &Path) -> Result<()> {
    let meta = fs::metadata(db).with_context(|| format!("reading {}", db.display()))?;
    if meta.is_dir() {
        bail!(
            "{} is a directory, not a SQLite database: pass the database file (--database PATH or database.path)",
            db.display()
        );
    }
    if !meta.is_file() {
        bail!(
            "{} is not a regular file, so not a SQLite database",
            db.display()
        );
    }
    if meta.len() == 0 {
        bail!(
            "{} is empty (0 bytes): not a SQLite database, nothing to back up; check database.path",
            db.display()
        );
    }
    let mut head = [0u8; 16];
    let n = File::open(db)
        .and_then(|mut f| {
            let mut n = 0;
            while n < head.len() {
                match io::Read::read(&mut f, &mut head[n..])? {
                    0 => break,
                    k => n += k,
                }
            }
            Ok(n)
        })
        .with_context(|| format!("reading {}", db.display()))?;
    if n < head.len() || &head != HEADER {
        bail!(
            "{} is not a SQLite database (it does not start with the SQLite header); nothing was backed up",
            db.display()
        );
    }
    Ok(())
}

/// `backup db` of a SQLite database; the caller holds the store lock.
pub fn create(cx: &Context, store: &Store, db: &Path, reason: Option<Reason>) -> Result<DbBackup> {
    let snap = Snapshot::take(cx, store, db)?;
    snap.publish(cx, db, reason)
}

/// `backup --if-changed`: like [`create`], but nothing is published (`None`) when the
/// snapshot's sha256 is `same_as` (the newest backup's content hash).
pub fn create_unless_same(
    cx: &Context,
    store: &Store,
    db: &Path,
    same_as: &str,
) -> Result<Option<DbBackup>> {
    let snap = Snapshot::take(cx, store, db)?;
    let (sha, _) = hash::hash_file(&snap.tmp.0)?;
    if sha == same_as {
        return Ok(None);
    }
    snap.publish(cx, db, None).map(Some)
}

/// A consistent copy of the database in a scratch file beside the store, not yet checked.
struct Snapshot {
    /// Where the backup will be published (named when the snapshot started).
    dest: PathBuf,
    tmp: TempDb,
    started: String,
    method: Method,
    restarts: u32,
}

impl Snapshot {
    fn take(cx: &Context, store: &Store, db: &Path) -> Result<Snapshot> {
        check_is_database(db)?;
        let started = now_rfc3339();
        let dest = store.new_path(Kind::Sqlite)?;
        let tmp = temp_db(&store.kind_dir(Kind::Sqlite), "snapshot");
        let size = fs::metadata(db)
            .with_context(|| format!("reading {}", db.display()))?
            .len();
        let cfg = &cx.config.database;
        let mut progress = Progress::new("snapshot", size, cx.style.quiet);
        let (method, restarts) =
            snapshot(db, &tmp.0, cfg.step_pages, cfg.max_restarts, &mut progress)?;
        Ok(Snapshot {
            dest,
            tmp,
            started,
            method,
            restarts,
        })
    }

    /// Check, compress and publish the snapshot as a new backup.
    fn publish(self, cx: &Context, db: &Path, reason: Option<Reason>) -> Result<DbBackup> {
        let Snapshot {
            dest,
            tmp,
            started,
            method,
            restarts,
        } = self;
        let cfg = &cx.config.database;
        // The integrity check runs beside the compression; nothing is published unless it passes.
        let raw_size = fs::metadata(&tmp.0)?.len();
        let mut out = files::AtomicFile::create(&dest, 0o600)?;
        let (facts, compressed) = std::thread::scope(|s| {
            let checker = s.spawn(|| inspect(&tmp.0, cfg.check));
            let compressed = compress(cx, &tmp.0, raw_size, out.file(), &dest);
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
        if facts.tables.is_empty() {
            bail!(
                "{} holds no tables: nothing to back up (a backup of it could not be told from one of an empty file); check database.path",
                db.display()
            );
        }
        let c = compressed?;
        drop(tmp);

        let manifest = DbManifest {
            format: FORMAT.into(),
            engine: Engine::Sqlite,
            source: db.display().to_string(),
            reason,
            started,
            finished: now_rfc3339(),
            method,
            restarts,
            raw_bytes: c.raw_bytes,
            raw_sha256: c.raw_sha256,
            bytes: c.bytes,
            sha256: c.sha256,
            page_size: Some(facts.page_size),
            page_count: Some(facts.page_count),
            sqlite_version: Some(facts.sqlite_version),
            tables: facts.tables,
            check: cfg.check.into(),
        };
        publish(out, &dest, &manifest)?;
        Ok(DbBackup {
            path: dest,
            manifest,
        })
    }
}

/// Parallel gzip of the snapshot into `out`, hashing both sides.
fn compress(
    cx: &Context,
    snapshot: &Path,
    raw_size: u64,
    out: &mut File,
    dest: &Path,
) -> Result<Compressed> {
    let mut input = HashingReader::new(File::open(snapshot)?);
    let mut w = HashingWriter::new(BufWriter::with_capacity(1 << 20, out));
    let mut progress = Progress::new("compress", raw_size, cx.style.quiet);
    gz::compress(
        &mut input,
        &mut w,
        cx.config.database.compression_level,
        threads(),
        &mut |n| progress.set(n),
    )
    .with_context(|| format!("writing {}", dest.display()))?;
    let (raw_sha256, raw_bytes) = input.finish()?;
    Ok(Compressed {
        raw_sha256,
        raw_bytes,
        sha256: hash::hex(&sha2::Digest::finalize(w.hasher)),
        bytes: w.bytes,
    })
}

/// Verify a SQLite backup: decompress it into a private scratch folder in `dir`, compare
/// sizes and hashes with the manifest and, when nothing was found so far, run the integrity
/// check. With `keep` and a clean result, the decompressed copy is kept and returned.
pub fn verify(
    path: &Path,
    manifest: &DbManifest,
    check: IntegrityCheck,
    dir: &Path,
    keep: bool,
    findings: &mut Vec<Finding>,
) -> Result<Option<Restored>> {
    let scratch = Scratch::new(dir)?;
    let copy = scratch.file("verify.sqlite");
    match decompress(path, &copy) {
        Err(e) => findings.push(bad(
            path,
            codes::BACKUP_CORRUPT,
            format!("cannot decompress: {e:#}"),
        )),
        Ok(c) => {
            if c.sha256 != manifest.sha256 || c.bytes != manifest.bytes {
                findings.push(bad(
                    path,
                    codes::BACKUP_CHECKSUM_MISMATCH,
                    format!(
                        "sha256 {} ({} bytes) does not match the manifest's {}",
                        c.sha256, c.bytes, manifest.sha256
                    ),
                ));
            }
            if c.raw_sha256 != manifest.raw_sha256 || c.raw_bytes != manifest.raw_bytes {
                findings.push(bad(
                    path,
                    codes::BACKUP_CONTENT_MISMATCH,
                    format!(
                        "the database inside ({} bytes) does not match the manifest",
                        c.raw_bytes
                    ),
                ));
            }
        }
    }
    if findings.is_empty() {
        match inspect(&copy, check) {
            Ok(i) if i.ok() && i.tables.is_empty() => findings.push(bad(
                path,
                codes::BACKUP_EMPTY,
                "the database inside holds no tables (a backup of an empty or zero-byte file): it does not count as a verified backup".into(),
            )),
            Ok(i) if i.ok() => {}
            Ok(i) => findings.push(bad(
                path,
                codes::BACKUP_INTEGRITY_FAILED,
                format!("PRAGMA {}: {}", check.pragma(), i.check.join("; ")),
            )),
            Err(e) => findings.push(bad(path, codes::BACKUP_INTEGRITY_FAILED, format!("{e:#}"))),
        }
    }
    Ok((findings.is_empty() && keep).then(|| Restored::new(copy, scratch)))
}

/// Decompress a backup into a new file `to`, hashing both sides.
fn decompress(path: &Path, to: &Path) -> Result<Compressed> {
    let mut raw = HashingReader::new(BufReader::with_capacity(1 << 16, File::open(path)?));
    let mut dec = HashingReader::new(flate2::read::MultiGzDecoder::new(&mut raw));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)?;
    io::copy(&mut dec, &mut BufWriter::with_capacity(1 << 20, &mut f))?;
    f.sync_all()?;
    let (raw_sha256, raw_bytes) = dec.finish()?;
    let (sha256, bytes) = raw.finish()?;
    Ok(Compressed {
        raw_sha256,
        raw_bytes,
        sha256,
        bytes,
    })
}

/// Write a verified copy into the live database through the backup API, which takes the
/// database's write lock (waiting for readers and writers) and keeps open connections valid.
pub fn copy_into_live(src: &Path, live: &Path) -> Result<()> {
    let src_conn = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", src.display()))?;
    let mut live_conn =
        Connection::open(live).with_context(|| format!("opening {}", live.display()))?;
    live_conn.busy_timeout(Duration::from_secs(30))?;
    let b = rusqlite::backup::Backup::new(&src_conn, &mut live_conn)
        .with_context(|| format!("writing {}", live.display()))?;
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
