//! `bench …`: side-by-side timings against the anchor tool an issue names, on the same
//! generated input in one run. Results go to docs/benchmarks.md by hand; nothing here asserts
//! on time.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use xshell::cmd;

use crate::cli::BenchCmd;
use crate::context::Context;
use crate::report::{Report, Table, human_bytes};
use crate::util::sh;

pub fn run(cx: &Context, command: BenchCmd) -> Result<Report> {
    match command {
        BenchCmd::BackupConfig {
            files,
            size_mb,
            runs,
            dir,
        } => {
            let dir = dir.unwrap_or_else(|| cx.root.join("target/bench/backup-config"));
            backup_config(&dir, files, size_mb, runs.max(1))
        }
        BenchCmd::Audit {
            advisory_db,
            runs,
            dir,
        } => {
            let dir = dir.unwrap_or_else(|| cx.root.join("target/bench/audit"));
            let db = advisory_db.unwrap_or_else(|| cx.root.join("../shared/advisory-db"));
            audit(&dir, &db, runs.max(1))
        }
        BenchCmd::Outdated {
            runs,
            no_anchor,
            dir,
        } => {
            let dir = dir.unwrap_or_else(|| cx.root.join("target/bench/audit"));
            outdated(&dir, runs.max(1), no_anchor)
        }
        BenchCmd::BackupDb {
            size_mb,
            runs,
            writer,
            dir,
        } => {
            let dir = dir.unwrap_or_else(|| cx.root.join("target/bench/backup-db"));
            backup_db(&dir, size_mb, runs.max(1), writer)
        }
    }
}

/// A small deterministic generator (xorshift64*), so every run benchmarks the same tree.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

const WORDS: &[&str] = &[
    "name:",
    "run:",
    "uses:",
    "with:",
    "steps:",
    "image",
    "python",
    "pytest",
    "docker",
    "compose",
    "deploy",
    "staging",
    "production",
    "cache",
    "key:",
    "${{",
    "}}",
    "matrix",
    "actions/checkout@v4",
    "timeout-minutes:",
    "env:",
    "secrets.TOKEN",
    "if:",
    "needs:",
    "pip",
    "install",
    "-r",
    "requirements.txt",
    "echo",
    "build",
    "push",
    "tag",
    "latest",
    "3.11",
    "ubuntu-latest",
    "on:",
    "pull_request",
    "branches:",
    "main",
    "develop",
    "- ",
];

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

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn backup_config(dir: &Path, files: usize, size_mb: u64, runs: usize) -> Result<Report> {
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
fn timed(sh: &xshell::Shell, args: &[&str], limit: u64) -> Result<Option<(f64, u64)>> {
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

fn backup_db(dir: &Path, size_mb: u64, runs: usize, writer: bool) -> Result<Report> {
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
    let store = dir.join("store");
    let config = dir.join("bench.toml");
    fs::write(
        &config,
        format!("[backup]\ndir = {:?}\n", store.display().to_string()),
    )?;
    let exe = std::env::current_exe()?.display().to_string();
    let sh = sh::shell(dir)?;
    let anchor_out = dir.join("anchor.db");
    let anchor_gz = dir.join("anchor.db.gz");
    let script = format!(
        "sqlite3 {} \".backup {}\" && gzip -f {}",
        db.display(),
        anchor_out.display(),
        anchor_out.display()
    );
    let dir_s = dir.display().to_string();
    let db_s = db.display().to_string();
    let config_s = config.display().to_string();
    let ours_args = [
        exe.as_str(),
        "--root",
        dir_s.as_str(),
        "--config",
        config_s.as_str(),
        "-q",
        "backup",
        "db",
        "--database",
        db_s.as_str(),
    ];

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
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let handle = with_writer.then(|| start_writer(db.clone(), stop.clone()));
        let (mut a_t, mut o_t, mut a_m, mut o_m) = (Vec::new(), Vec::new(), 0, 0);
        let mut ours_size = 0;
        let mut anchor_finished = true;
        for _ in 0..runs {
            let _ = fs::remove_dir_all(&store);
            let _ = fs::remove_file(&anchor_gz);
            let (t, m) = timed(&sh, &ours_args, 3600)?.context("cargo xtask backup db failed")?;
            o_t.push(Duration::from_secs_f64(t));
            o_m = o_m.max(m);
            ours_size = fs::read_dir(store.join("db"))?
                .flatten()
                .find(|e| e.file_name().to_string_lossy().ends_with(".sqlite.gz"))
                .map_or(0, |e| e.metadata().map_or(0, |m| m.len()));
            // The anchor gets ten times our time (at least a minute) before it is stopped.
            let limit = (t * 10.0).max(60.0) as u64;
            match timed(&sh, &["sh", "-c", &script], limit)? {
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
        let _ = fs::remove_file(&anchor_out);
        let anchor_size = fs::metadata(&anchor_gz).map_or(0, |m| m.len());
        let (a, o) = (median(a_t).as_secs_f64(), median(o_t).as_secs_f64());
        let case = if with_writer {
            format!("with writer ({} commits)", writes.unwrap_or(0))
        } else {
            "idle".into()
        };
        let a_wall = if anchor_finished {
            format!("{a:.2} s")
        } else {
            format!("did not finish in {a:.0} s")
        };
        table.row(vec![
            case.clone(),
            "sqlite3 .backup && gzip -6".into(),
            a_wall,
            human_bytes(a_m * 1024),
            human_bytes(anchor_size),
        ]);
        table.row(vec![
            case.clone(),
            "cargo xtask backup db".into(),
            format!("{o:.2} s"),
            human_bytes(o_m * 1024),
            human_bytes(ours_size),
        ]);
        let line = if anchor_finished {
            format!(
                "{:.2}x faster, output {:+.1}% vs gzip -6, peak RSS {}",
                a / o,
                (ours_size as f64 / anchor_size as f64 - 1.0) * 100.0,
                human_bytes(o_m * 1024)
            )
        } else {
            format!(
                "the anchor did not finish (its backup restarts on every commit); ours took {o:.2} s, peak RSS {}",
                human_bytes(o_m * 1024)
            )
        };
        report.summary(&case, line);
        results.push(serde_json::json!({
            "case": case, "anchor_seconds": a, "anchor_finished": anchor_finished, "xtask_seconds": o,
            "speedup": a / o, "anchor_bytes": anchor_size, "xtask_bytes": ours_size,
            "anchor_peak_rss_kib": a_m, "xtask_peak_rss_kib": o_m,
        }));
    }
    report.tables.push(table);
    report.set("database_bytes", db_size);
    report.set("results", results);
    Ok(report)
}

/// (package, version, advisory id) triples of an `audit --format json` run.
fn our_triples(json: &str) -> Result<std::collections::BTreeSet<(String, String, String)>> {
    let v: serde_json::Value = serde_json::from_str(json)?;
    Ok(v["findings"]
        .as_array()
        .context("no findings array")?
        .iter()
        .filter(|f| f.get("id").is_some())
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("package"), s("version"), s("id"))
        })
        .collect())
}

/// The same triples from cargo-audit's JSON: vulnerabilities and every warning with an
/// advisory (yanked checks need the network and are off on both sides).
fn cargo_audit_triples(json: &str) -> Result<std::collections::BTreeSet<(String, String, String)>> {
    let v: serde_json::Value = serde_json::from_str(json)?;
    let mut out = std::collections::BTreeSet::new();
    let mut add = |e: &serde_json::Value| {
        if let Some(id) = e["advisory"]["id"].as_str() {
            let p = &e["package"];
            out.insert((
                p["name"].as_str().unwrap_or_default().to_string(),
                p["version"].as_str().unwrap_or_default().to_string(),
                id.to_string(),
            ));
        }
    };
    for e in v["vulnerabilities"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        add(e);
    }
    for list in v["warnings"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        for e in list.as_array().into_iter().flatten() {
            add(e);
        }
    }
    Ok(out)
}

/// A Cargo.lock naming every crate of the RustSec database at old versions: every advisory
/// gets a chance to match.
fn every_crate_lockfile(rustsec: &Path, dest: &Path) -> Result<usize> {
    let mut names: Vec<String> = fs::read_dir(rustsec.join("crates"))
        .with_context(|| format!("reading {}", rustsec.join("crates").display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let versions = ["0.1.0", "0.3.2", "1.0.0"];
    let mut s = String::from(
        "version = 3\n\n[[package]]\nname = \"bench-root\"\nversion = \"0.1.0\"\ndependencies = [\n",
    );
    for n in &names {
        s.push_str(&format!(" \"{n}\",\n"));
    }
    s.push_str("]\n");
    for (i, n) in names.iter().enumerate() {
        s.push_str(&format!(
            "\n[[package]]\nname = \"{n}\"\nversion = \"{}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
            versions[i % versions.len()]
        ));
    }
    fs::create_dir_all(dest.parent().unwrap())?;
    fs::write(dest, s)?;
    Ok(names.len() + 1)
}

/// A real dependency tree: the lockfile cargo resolves for a manifest using the big
/// ecosystem crates (network once; cached afterwards).
/// The real project's direct dependencies, as the bench tables name them.
const REAL_DEPS_LABEL: &str =
    "tokio, reqwest, sqlx, axum, wasmtime, polars, aws-sdk-s3, datafusion, tonic, kube";
/// Added for the audit bench's 800+ package lockfile.
const LARGE_EXTRA_DEPS: &str = "actix-web = \"4\"\ndiesel = { version = \"2\", features = [\"postgres\", \"sqlite\", \"mysql\"] }\nbevy = \"0.14\"\n";
const LARGE_DEPS_LABEL: &str = "actix-web, diesel, bevy";

fn real_lockfile(dir: &Path, extra_deps: &str) -> Result<PathBuf> {
    let lock = dir.join("Cargo.lock");
    if lock.exists() {
        return Ok(lock);
    }
    fs::create_dir_all(dir.join("src"))?;
    fs::write(dir.join("src/lib.rs"), "")?;
    fs::write(
        dir.join("Cargo.toml"),
        format!(
            "{}{extra_deps}",
            "[package]\nname = \"bench-real\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n\n[dependencies]\n\
         tokio = { version = \"1\", features = [\"full\"] }\nreqwest = \"0.12\"\n\
         sqlx = { version = \"0.8\", features = [\"postgres\", \"sqlite\", \"runtime-tokio\"] }\naxum = \"0.7\"\n\
         wasmtime = \"25\"\npolars = \"0.43\"\naws-sdk-s3 = \"1\"\ndatafusion = \"42\"\ntonic = \"0.12\"\n\
         kube = \"0.95\"\n"
        ),
    )?;
    let sh = sh::shell(dir)?;
    cmd!(sh, "cargo generate-lockfile --quiet")
        .quiet()
        .run()
        .context("cargo generate-lockfile (needs crates.io)")?;
    Ok(lock)
}

/// A command line as owned strings, for `measure`.
fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn packages_in(lock: &Path) -> usize {
    fs::read_to_string(lock).map_or(0, |t| t.matches("[[package]]").count())
}

/// Our audit of `input` against `db`, as the bench runs it.
fn audit_args(exe: &str, root: &Path, input: &Path, db: &Path) -> Vec<String> {
    owned(&[
        exe,
        "--root",
        &root.display().to_string(),
        "--format",
        "json",
        "audit",
        &input.display().to_string(),
        "--allow-stale",
        "--db",
        &db.display().to_string(),
    ])
}

/// One command of a side-by-side measurement.
struct Probe {
    args: Vec<String>,
    /// `XTASK_ADVISORY_CACHE` for this command alone.
    cache: Option<PathBuf>,
    /// Remove the cache's index before every run (the cost of a first audit).
    cold: bool,
}

/// [`measure`] for several commands at once, interleaved run by run so that every command
/// sees the same machine (a shared 2-core machine drifts by ±20% over a minute): median wall
/// time, last stdout and peak RSS (KiB) of one extra run, per command.
fn measure_side_by_side(
    sh: &xshell::Shell,
    probes: &[Probe],
    runs: usize,
) -> Result<Vec<(Duration, String, u64)>> {
    let once = |p: &Probe, timed: bool| -> Result<(Duration, String)> {
        if let (Some(c), true) = (&p.cache, p.cold) {
            let _ = fs::remove_dir_all(c.join("index"));
        }
        let (prog, rest) = p.args.split_first().context("empty command")?;
        let mut full: Vec<&str> = Vec::new();
        let prog = if timed {
            prog.as_str()
        } else {
            full.extend(["-f", "%M", "-o", ".rss", prog.as_str()]);
            "/usr/bin/time"
        };
        full.extend(rest.iter().map(String::as_str));
        let mut c = cmd!(sh, "{prog} {full...}")
            .quiet()
            .ignore_status()
            .ignore_stderr();
        if let Some(cache) = &p.cache {
            c = c.env("XTASK_ADVISORY_CACHE", cache);
        }
        let t = Instant::now();
        let o = c.output()?;
        Ok((t.elapsed(), String::from_utf8_lossy(&o.stdout).into_owned()))
    };
    // Warm commands run once first, so that their index exists.
    for p in probes.iter().filter(|p| !p.cold) {
        once(p, true)?;
    }
    let mut times = vec![Vec::new(); probes.len()];
    let mut outs = vec![String::new(); probes.len()];
    for _ in 0..runs {
        for (i, p) in probes.iter().enumerate() {
            let (t, out) = once(p, true)?;
            times[i].push(t);
            outs[i] = out;
        }
    }
    let mut result = Vec::new();
    for ((p, t), out) in probes.iter().zip(times).zip(outs) {
        once(p, false)?;
        let rss = fs::read_to_string(sh.current_dir().join(".rss"))?
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0);
        result.push((median(t), out, rss));
    }
    Ok(result)
}

fn audit(dir: &Path, db: &Path, runs: usize) -> Result<Report> {
    let (rustsec, rustsec_osv, pypa) =
        (db.join("rustsec"), db.join("rustsec-osv"), db.join("pypa"));
    for p in [&rustsec, &rustsec_osv, &pypa] {
        if !p.is_dir() {
            bail!(
                "{} not found: pass --advisory-db DIR holding rustsec/, rustsec-osv/ and pypa/",
                p.display()
            );
        }
    }
    fs::create_dir_all(dir)?;
    let exe = std::env::current_exe()?.display().to_string();
    let sh = sh::shell(dir)?;
    // Our advisory indexes go to caches of the bench's own: "index reused" rows keep theirs,
    // "rebuilt" rows remove it before every run (the cost of the first audit after a
    // database change).
    // The cargo-audit binary itself, like our binary: both without a cargo front-end.
    let cargo_audit = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin")))
        .map(|d| d.join("cargo-audit"))
        .find(|p| p.is_file());
    let have_cargo_audit = cargo_audit.is_some();

    let mut lockfiles = Vec::new();
    match real_lockfile(&dir.join("real-large"), LARGE_EXTRA_DEPS) {
        Ok(l) => lockfiles.push((
            format!("a real project ({REAL_DEPS_LABEL}, {LARGE_DEPS_LABEL})"),
            l,
        )),
        Err(e) => eprintln!("bench: skipping the real-project lockfile: {e:#}"),
    }
    let every = dir.join("every-crate/Cargo.lock");
    every_crate_lockfile(&rustsec, &every)?;
    lockfiles.push((
        "every RustSec crate at old versions (worst case)".into(),
        every,
    ));

    let mut report = Report::new("bench audit");
    let mut t = Table::new(
        "audit vs cargo-audit",
        &[
            "lockfile",
            "packages",
            "tool",
            "median wall",
            "peak RSS",
            "findings",
        ],
    );
    let mut results = Vec::new();
    let warm_cache = dir.join("advisory-cache");
    let cold_cache = dir.join("advisory-cache-cold");
    for (label, lock) in &lockfiles {
        let lock_s = lock.display().to_string();
        let n = packages_in(lock);
        let ours = |db: &Path, cold: bool| Probe {
            args: audit_args(&exe, dir, lock, db),
            cache: Some(if cold {
                cold_cache.clone()
            } else {
                warm_cache.clone()
            }),
            cold,
        };
        let cases = [
            ("rustsec, index reused", "xtask"),
            ("rustsec, index rebuilt every run", "xtask_cold"),
            ("rustsec-osv, index reused", "xtask_osv"),
        ];
        let mut probes = vec![
            ours(&rustsec, false),
            ours(&rustsec, true),
            ours(&rustsec_osv, false),
        ];
        if let Some(bin) = &cargo_audit {
            probes.push(Probe {
                args: owned(&[
                    &bin.display().to_string(),
                    "audit",
                    "--db",
                    &rustsec.display().to_string(),
                    "--no-fetch",
                    "--no-yanked",
                    "--stale",
                    "--file",
                    &lock_s,
                    "--json",
                ]),
                cache: None,
                cold: false,
            });
        }
        let measured = measure_side_by_side(&sh, &probes, runs)?;
        let mut row = serde_json::json!({"lockfile": label, "packages": n});
        let mut sets = Vec::new();
        for ((case, key), (t_, out, rss)) in cases.iter().zip(&measured) {
            let set = our_triples(out)?;
            t.row(vec![
                label.clone(),
                n.to_string(),
                format!("xtask audit ({case})"),
                format!("{:.1} ms", t_.as_secs_f64() * 1e3),
                human_bytes(rss * 1024),
                set.len().to_string(),
            ]);
            row[format!("{key}_ms")] = (t_.as_secs_f64() * 1e3).into();
            row[format!("{key}_peak_rss_kib")] = (*rss).into();
            row[format!("{key}_findings")] = set.len().into();
            sets.push(set);
        }
        if sets[0] != sets[1] {
            bail!("{label}: the rebuilt index answered differently from the reused one");
        }
        report.summary(
            &format!("{label}: native vs OSV layout"),
            if sets[0] == sets[2] {
                "identical answers".to_string()
            } else {
                format!(
                    "DIFFER: only native {:?} / only OSV {:?}",
                    sets[0].difference(&sets[2]).take(5).collect::<Vec<_>>(),
                    sets[2].difference(&sets[0]).take(5).collect::<Vec<_>>()
                )
            },
        );
        row["rustsec_and_rustsec_osv_agree"] = (sets[0] == sets[2]).into();
        if let Some((c_t, c_out, c_rss)) = measured.get(3) {
            let ca_set = cargo_audit_triples(c_out)?;
            t.row(vec![
                label.clone(),
                n.to_string(),
                "cargo-audit audit (0.22)".into(),
                format!("{:.1} ms", c_t.as_secs_f64() * 1e3),
                human_bytes(c_rss * 1024),
                ca_set.len().to_string(),
            ]);
            let same = ca_set == sets[0];
            let ratio = |k: &str| c_t.as_secs_f64() * 1e3 / row[k].as_f64().unwrap_or(f64::NAN);
            report.summary(
                &format!("{label}: vs cargo-audit"),
                format!(
                    "{:.1}x faster (index reused), {:.1}x (index rebuilt), {:.1}x (OSV layout); {}",
                    ratio("xtask_ms"),
                    ratio("xtask_cold_ms"),
                    ratio("xtask_osv_ms"),
                    if same {
                        format!(
                            "identical {} (package, version, advisory) triples",
                            sets[0].len()
                        )
                    } else {
                        format!(
                            "DIFFER: only cargo-audit {:?}; only ours {:?}",
                            ca_set.difference(&sets[0]).take(5).collect::<Vec<_>>(),
                            sets[0].difference(&ca_set).take(5).collect::<Vec<_>>()
                        )
                    }
                ),
            );
            row["cargo_audit_ms"] = (c_t.as_secs_f64() * 1e3).into();
            row["cargo_audit_peak_rss_kib"] = (*c_rss).into();
            row["identical_to_cargo_audit"] = same.into();
        }
        results.push(row);
    }

    // Python: 200 pins of PyPA packages at old versions against the PyPA snapshot.
    let mut names: Vec<String> = fs::read_dir(pypa.join("vulns"))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let req: String = names
        .iter()
        .take(200)
        .enumerate()
        .map(|(i, n)| format!("{n}=={}\n", ["0.1", "1.0", "2.0.1"][i % 3]))
        .collect();
    let req_path = dir.join("requirements.txt");
    fs::write(&req_path, req)?;
    let args = audit_args(&exe, dir, &req_path, &pypa);
    let probes = [
        Probe {
            args: args.clone(),
            cache: Some(warm_cache.clone()),
            cold: false,
        },
        Probe {
            args,
            cache: Some(cold_cache.clone()),
            cold: true,
        },
    ];
    let m = measure_side_by_side(&sh, &probes, runs)?;
    let p_set = our_triples(&m[0].1)?;
    if our_triples(&m[1].1)? != p_set {
        bail!("requirements.txt: the rebuilt index answered differently from the reused one");
    }
    for (case, (t_, _, rss)) in ["index reused", "index rebuilt every run"].iter().zip(&m) {
        t.row(vec![
            "requirements.txt, 200 pins".into(),
            "200".into(),
            format!("xtask audit (pypa, {case})"),
            format!("{:.1} ms", t_.as_secs_f64() * 1e3),
            human_bytes(rss * 1024),
            p_set.len().to_string(),
        ]);
    }
    results.push(serde_json::json!({"lockfile": "requirements.txt (200 pins)", "xtask_ms": m[0].0.as_secs_f64() * 1e3, "xtask_peak_rss_kib": m[0].2, "xtask_cold_ms": m[1].0.as_secs_f64() * 1e3, "xtask_findings": p_set.len()}));
    if !have_cargo_audit {
        report.summary(
            "cargo-audit",
            "not installed: `cargo install cargo-audit --locked` for the side-by-side run",
        );
    }
    report.tables.push(t);
    report.set("results", results);
    Ok(report)
}

fn outdated(dir: &Path, runs: usize, no_anchor: bool) -> Result<Report> {
    let project = dir.join("real");
    real_lockfile(&project, "")?;
    let exe = std::env::current_exe()?;
    let sh = sh::shell(&project)?;
    let cache = dir.join("outdated-http-cache");
    let run_ours = |clear: bool| -> Result<(Duration, String)> {
        if clear {
            let _ = fs::remove_dir_all(&cache);
        }
        let t = Instant::now();
        let out = cmd!(sh, "{exe} --root {project} --format json outdated --all")
            .env("XTASK_HTTP_CACHE", &cache)
            .quiet()
            .ignore_status()
            .read()?;
        Ok((t.elapsed(), out))
    };
    // Make sure cargo's own caches (crate manifests for `cargo metadata`) are filled first.
    cmd!(sh, "cargo metadata --format-version 1 --quiet")
        .quiet()
        .ignore_stdout()
        .run()?;
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    let mut ours_json = String::new();
    for _ in 0..runs {
        let (t, out) = run_ours(true)?;
        cold.push(t);
        ours_json = out;
        warm.push(run_ours(false)?.0);
    }
    let ours: serde_json::Value = serde_json::from_str(&ours_json)?;
    let latest: BTreeMap<String, String> = ours["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["ecosystem"] == "crates.io")
        .filter_map(|p| {
            Some((
                p["name"].as_str()?.to_string(),
                p["latest"].as_str()?.to_string(),
            ))
        })
        .collect();
    let n = latest.len();
    let (cold, warm) = (median(cold), median(warm));
    let mut report = Report::new("bench outdated");
    let mut t = Table::new("outdated vs cargo-outdated", &["tool", "case", "wall"]);
    t.row(vec![
        "cargo xtask outdated --all".into(),
        "cold (empty HTTP cache)".into(),
        format!("{:.2} s", cold.as_secs_f64()),
    ]);
    t.row(vec![
        "cargo xtask outdated --all".into(),
        "warm".into(),
        format!("{:.2} s", warm.as_secs_f64()),
    ]);
    report.summary("workspace", format!("{} ({n} crates)", project.display()));
    if !no_anchor {
        let t0 = Instant::now();
        let co = cmd!(sh, "cargo outdated --format json")
            .quiet()
            .ignore_status()
            .ignore_stderr()
            .read()?;
        let co_t = t0.elapsed();
        t.row(vec![
            "cargo outdated".into(),
            "(its caches as they are)".into(),
            format!("{:.1} s", co_t.as_secs_f64()),
        ]);
        let v: serde_json::Value =
            serde_json::from_str(&co).context("cargo outdated --format json")?;
        let (mut agree, mut differ) = (0, Vec::new());
        for d in v["dependencies"].as_array().into_iter().flatten() {
            let (Some(name), Some(l)) = (d["name"].as_str(), d["latest"].as_str()) else {
                continue;
            };
            if name.contains("->") || l == "---" || l == "Removed" {
                continue; // transitive rows: cargo-outdated reports what the upgraded tree would pull in
            }
            if latest.get(name).map(String::as_str) == Some(l) {
                agree += 1;
            } else {
                differ.push(format!("{name}: {l} vs {:?}", latest.get(name)));
            }
        }
        report.summary(
            "speed",
            format!(
                "{:.0}x faster cold, {:.0}x warm",
                co_t.as_secs_f64() / cold.as_secs_f64(),
                co_t.as_secs_f64() / warm.as_secs_f64()
            ),
        );
        report.summary(
            "latest (direct dependencies)",
            if differ.is_empty() {
                format!("identical for all {agree}")
            } else {
                format!("{agree} agree, differ: {differ:?}")
            },
        );
    }
    report.tables.push(t);
    Ok(report)
}
