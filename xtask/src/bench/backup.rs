//! `bench backup-config` (against GNU `tar czf`) and `bench backup-db` (against
//! `sqlite3 .backup && gzip`), on generated input.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use xshell::cmd;

use super::{Rng, WORDS, median, owned};
use crate::report::{Report, Table, human_bytes};
use crate::util::sh;

/// Text that compresses like configuration (roughly 4-6x with gzip -6), plus a little noise.
fn generate(tree: &Path, files: usize, size_mb: u64) -> Result<()> {
    let marker = tree.join(".bench-params");
    let params = format!("{files} {size_mb} v1");
    if fs::read_to_string(&marker).is_ok_and(|p| p == params) {
        return Ok(());
    }
    if tree.exists() {
        fs::remove_dir_all(tree).with_context(|| format!("removing {}", tree.display()))?;
    }
    let per_file = (size_mb * 1024 * 1024) / files as u64;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let tops = [".github/workflows", "config", "scripts"];
    for i in 0..files {
        let top = tops[i % tops.len()];
        let dir = tree.join(top).join(format!("d{:03}", (i / 3) % 400));
        fs::create_dir_all(&dir)?;
        let mut f = fs::File::create(dir.join(format!("f{i:05}.yml")))?;
        let mut written = 0u64;
        let mut line = String::new();
        while written < per_file {
            line.clear();
            for _ in 0..(4 + rng.next() % 8) {
                line.push_str(WORDS[(rng.next() % WORDS.len() as u64) as usize]);
                line.push(' ');
            }
            line.push_str(&format!("{:x}\n", rng.next() % 100_000));
            f.write_all(line.as_bytes())?;
            written += line.len() as u64;
        }
    }
    fs::write(&marker, params)?;
    Ok(())
}

pub(super) fn backup_config(dir: &Path, files: usize, size_mb: u64, runs: usize) -> Result<Report> {
    if !sh::has_program("tar") {
        bail!(
            "GNU tar is not on PATH: install it (apt-get install tar gzip) to run this benchmark"
        );
    }
    let tree = dir.join("tree");
    generate(&tree, files, size_mb)?;
    let out = dir.join("out");
    fs::create_dir_all(&out)?;
    let config = out.join("bench.toml");
    let store = out.join("store");
    fs::write(
        &config,
        format!(
            "[backup]\ndir = {:?}\n[pipeline]\npaths = [\".github/workflows\", \"config\", \"scripts\"]\n",
            store.display().to_string()
        ),
    )?;
    let exe = std::env::current_exe()?;
    let sh = sh::shell(&tree)?;
    let tar_out = out.join("tar.tar.gz");
    let mut ours_t = Vec::new();
    let mut tar_t = Vec::new();
    let mut ours_size = 0;
    // One untimed run of each warms the page cache; then alternate.
    for i in 0..=runs {
        let _ = fs::remove_dir_all(&store);
        let t = Instant::now();
        cmd!(sh, "tar czf {tar_out} .github config scripts")
            .quiet()
            .run()?;
        let tar_d = t.elapsed();
        let t = Instant::now();
        let json = cmd!(
            sh,
            "{exe} --root {tree} --config {config} --format json backup config"
        )
        .quiet()
        .read()?;
        let ours_d = t.elapsed();
        let v: serde_json::Value = serde_json::from_str(&json)?;
        ours_size = v["archive_bytes"].as_u64().unwrap_or(0);
        if i > 0 {
            tar_t.push(tar_d);
            ours_t.push(ours_d);
        }
    }
    let tar_size = fs::metadata(&tar_out)?.len();
    let (ours_m, tar_m) = (median(ours_t), median(tar_t));
    let ratio = ours_m.as_secs_f64() / tar_m.as_secs_f64();

    let mut report = Report::new("bench backup-config");
    report.summary(
        "input",
        format!("{files} files, {size_mb} MiB, {runs} runs each (median)"),
    );
    report.summary("ratio", format!("{ratio:.2}x tar's time (goal: <= 1.2x)"));
    let mut t = Table::new("backup-config", &["tool", "median", "archive size"]);
    t.row(vec![
        "tar czf (GNU tar + gzip -6)".into(),
        format!("{:.2} s", tar_m.as_secs_f64()),
        human_bytes(tar_size),
    ]);
    t.row(vec![
        "cargo xtask backup config".into(),
        format!("{:.2} s", ours_m.as_secs_f64()),
        human_bytes(ours_size),
    ]);
    report.tables.push(t);
    report.set("files", files);
    report.set("size_mb", size_mb);
    report.set("tar_seconds", tar_m.as_secs_f64());
    report.set("xtask_seconds", ours_m.as_secs_f64());
    report.set("tar_bytes", tar_size);
    report.set("xtask_bytes", ours_size);
    report.set("ratio", ratio);
    let _: PathBuf = out;
    Ok(report)
}

/// A database of about `size_mb` MiB with rows like an application's: ids, timestamps,
/// short text, JSON-ish metadata, and some incompressible tokens.
fn generate_db(path: &Path, size_mb: u64) -> Result<()> {
    let marker = path.with_extension("params");
    let params = format!("{size_mb} v1");
    if path.exists() && fs::read_to_string(&marker).is_ok_and(|p| p == params) {
        return Ok(());
    }
    let _ = fs::remove_file(path);
    let mut conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;
         CREATE TABLE documents (id INTEGER PRIMARY KEY, created TEXT, title TEXT, body TEXT, meta TEXT, token BLOB);
         CREATE INDEX documents_created ON documents(created);",
    )?;
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let target = size_mb * 1024 * 1024;
    let mut id = 0u64;
    loop {
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare("INSERT INTO documents VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
            for _ in 0..20_000 {
                id += 1;
                let mut body = String::new();
                for _ in 0..(20 + rng.next() % 60) {
                    body.push_str(WORDS[(rng.next() % WORDS.len() as u64) as usize]);
                    body.push(' ');
                }
                let token: Vec<u8> = (0..16).map(|_| rng.next() as u8).collect();
                stmt.execute(rusqlite::params![
                    id as i64,
                    format!(
                        "2026-{:02}-{:02}T{:02}:00:00Z",
                        1 + rng.next() % 12,
                        1 + rng.next() % 28,
                        rng.next() % 24
                    ),
                    format!("document {id}"),
                    body,
                    format!("{{\"views\": {}, \"lang\": \"en\"}}", rng.next() % 10_000),
                    token,
                ])?;
            }
        }
        tx.commit()?;
        if fs::metadata(path)?.len()
            + fs::metadata(path.with_extension("db-wal")).map_or(0, |m| m.len())
            >= target
        {
            break;
        }
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    drop(conn);
    fs::write(&marker, params)?;
    Ok(())
}

/// Wall seconds and peak RSS (KiB) of a command, measured by GNU time; `None` when it did
/// not finish within `limit` seconds.
pub(super) fn timed(sh: &xshell::Shell, args: &[&str], limit: u64) -> Result<Option<(f64, u64)>> {
    let stats = sh.current_dir().join(".time");
    let stats_s = stats.display().to_string();
    let limit_s = limit.to_string();
    let mut full = vec![
        "-f",
        "%e %M",
        "-o",
        stats_s.as_str(),
        "timeout",
        "-s",
        "KILL",
        limit_s.as_str(),
    ];
    full.extend_from_slice(args);
    if cmd!(sh, "/usr/bin/time {full...}")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_err()
    {
        return Ok(None);
    }
    let text = fs::read_to_string(&stats)?;
    let mut it = text.split_whitespace();
    let secs: f64 = it.next().context("no time")?.parse()?;
    let kib: u64 = it.next().context("no rss")?.parse()?;
    Ok(Some((secs, kib)))
}

/// Commits a row every few milliseconds until stopped.
fn start_writer(
    db: PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&db).expect("writer opens the database");
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        let mut n = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            if conn
                .execute("INSERT INTO documents (created, title, body) VALUES ('now', 'w', 'writer row')", [])
                .is_ok()
            {
                n += 1;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        n
    })
}

/// What one case (idle, or with a writer) of `bench backup-db` measured.
struct DbCase {
    /// "idle" or "with writer (N commits)".
    case: String,
    /// Median wall seconds: the anchor's (its limit when it did not finish) and ours.
    anchor_secs: f64,
    ours_secs: f64,
    /// Peak RSS in KiB.
    anchor_rss: u64,
    ours_rss: u64,
    anchor_bytes: u64,
    ours_bytes: u64,
    anchor_finished: bool,
}

/// The commands `bench backup-db` compares, and where they write.
struct DbBench {
    sh: xshell::Shell,
    db: PathBuf,
    store: PathBuf,
    anchor_out: PathBuf,
    anchor_gz: PathBuf,
    /// `sqlite3 DB ".backup OUT" && gzip -f OUT`, for `sh -c`.
    script: String,
    ours_args: Vec<String>,
    runs: usize,
}

pub(super) fn backup_db(dir: &Path, size_mb: u64, runs: usize, writer: bool) -> Result<Report> {
    for program in ["sqlite3", "gzip"] {
        if !sh::has_program(program) {
            bail!(
                "{program} is not on PATH: install it (apt-get install sqlite3 gzip) to run this benchmark"
            );
        }
    }
    if !Path::new("/usr/bin/time").exists() {
        bail!("/usr/bin/time is missing: install it (apt-get install time) to run this benchmark");
    }
    fs::create_dir_all(dir)?;
    let db = dir.join("bench.db");
    generate_db(&db, size_mb)?;
    let db_size = fs::metadata(&db)?.len();
    let bench = DbBench::new(dir, db, runs)?;

    let mut report = Report::new("bench backup-db");
    report.summary(
        "input",
        format!(
            "SQLite database of {}, {runs} run(s) each",
            human_bytes(db_size)
        ),
    );
    let mut table = Table::new(
        "backup-db",
        &["case", "tool", "wall", "peak RSS", "output size"],
    );
    let mut results = Vec::new();
    let modes: &[bool] = if writer { &[false, true] } else { &[false] };
    for &with_writer in modes {
        let c = bench.measure(with_writer)?;
        c.record(&mut report, &mut table);
        results.push(serde_json::json!({
            "case": c.case, "anchor_seconds": c.anchor_secs, "anchor_finished": c.anchor_finished,
            "xtask_seconds": c.ours_secs, "speedup": c.anchor_secs / c.ours_secs,
            "anchor_bytes": c.anchor_bytes, "xtask_bytes": c.ours_bytes,
            "anchor_peak_rss_kib": c.anchor_rss, "xtask_peak_rss_kib": c.ours_rss,
        }));
    }
    report.tables.push(table);
    report.set("database_bytes", db_size);
    report.set("results", results);
    Ok(report)
}

impl DbBench {
    fn new(dir: &Path, db: PathBuf, runs: usize) -> Result<DbBench> {
        let store = dir.join("store");
        let config = dir.join("bench.toml");
        fs::write(
            &config,
            format!("[backup]\ndir = {:?}\n", store.display().to_string()),
        )?;
        let exe = std::env::current_exe()?.display().to_string();
        let anchor_out = dir.join("anchor.db");
        let script = format!(
            "sqlite3 {} \".backup {}\" && gzip -f {}",
            db.display(),
            anchor_out.display(),
            anchor_out.display()
        );
        let ours_args = owned(&[
            &exe,
            "--root",
            &dir.display().to_string(),
            "--config",
            &config.display().to_string(),
            "-q",
            "backup",
            "db",
            "--database",
            &db.display().to_string(),
        ]);
        Ok(DbBench {
            sh: sh::shell(dir)?,
            db,
            store,
            anchor_gz: dir.join("anchor.db.gz"),
            anchor_out,
            script,
            ours_args,
            runs,
        })
    }

    /// Both tools, `runs` times each, alternating; with a concurrent writer when asked.
    fn measure(&self, with_writer: bool) -> Result<DbCase> {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let handle = with_writer.then(|| start_writer(self.db.clone(), stop.clone()));
        let (mut a_t, mut o_t, mut a_m, mut o_m) = (Vec::new(), Vec::new(), 0, 0);
        let mut ours_size = 0;
        let mut anchor_finished = true;
        let ours_args: Vec<&str> = self.ours_args.iter().map(String::as_str).collect();
        for _ in 0..self.runs {
            let _ = fs::remove_dir_all(&self.store);
            let _ = fs::remove_file(&self.anchor_gz);
            let (t, m) =
                timed(&self.sh, &ours_args, 3600)?.context("cargo xtask backup db failed")?;
            o_t.push(Duration::from_secs_f64(t));
            o_m = o_m.max(m);
            ours_size = fs::read_dir(self.store.join("db"))?
                .flatten()
                .find(|e| e.file_name().to_string_lossy().ends_with(".sqlite.gz"))
                .map_or(0, |e| e.metadata().map_or(0, |m| m.len()));
            // The anchor gets ten times our time (at least a minute) before it is stopped.
            let limit = (t * 10.0).max(60.0) as u64;
            match timed(&self.sh, &["sh", "-c", &self.script], limit)? {
                Some((t, m)) => {
                    a_t.push(Duration::from_secs_f64(t));
                    a_m = a_m.max(m);
                }
                None => {
                    anchor_finished = false;
                    a_t.push(Duration::from_secs(limit));
                }
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let writes = handle.map(|h| h.join().unwrap_or(0));
        let _ = fs::remove_file(&self.anchor_out);
        Ok(DbCase {
            case: if with_writer {
                format!("with writer ({} commits)", writes.unwrap_or(0))
            } else {
                "idle".into()
            },
            anchor_secs: median(a_t).as_secs_f64(),
            ours_secs: median(o_t).as_secs_f64(),
            anchor_rss: a_m,
            ours_rss: o_m,
            anchor_bytes: fs::metadata(&self.anchor_gz).map_or(0, |m| m.len()),
            ours_bytes: ours_size,
            anchor_finished,
        })
    }
}

impl DbCase {
    /// Its two table rows and its summary line.
    fn record(&self, report: &mut Report, table: &mut Table) {
        let (a, o) = (self.anchor_secs, self.ours_secs);
        let a_wall = if self.anchor_finished {
            format!("{a:.2} s")
        } else {
            format!("did not finish in {a:.0} s")
        };
        table.row(vec![
            self.case.clone(),
            "sqlite3 .backup && gzip -6".into(),
            a_wall,
            human_bytes(self.anchor_rss * 1024),
            human_bytes(self.anchor_bytes),
        ]);
        table.row(vec![
            self.case.clone(),
            "cargo xtask backup db".into(),
            format!("{o:.2} s"),
            human_bytes(self.ours_rss * 1024),
            human_bytes(self.ours_bytes),
        ]);
        let line = if self.anchor_finished {
            format!(
                "{:.2}x faster, output {:+.1}% vs gzip -6, peak RSS {}",
                a / o,
                (self.ours_bytes as f64 / self.anchor_bytes as f64 - 1.0) * 100.0,
                human_bytes(self.ours_rss * 1024)
            )
        } else {
            format!(
                "the anchor did not finish (its backup restarts on every commit); ours took {o:.2} s, peak RSS {}",
                human_bytes(self.ours_rss * 1024)
            )
        };
        report.summary(&self.case, line);
    }
}
