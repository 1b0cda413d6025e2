//! Helpers for end-to-end tests: run the real binary on temp trees.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.env_remove("XTASK_ROOT").env("NO_COLOR", "1");
    // Advisory indexes go to this test process's own cache, not the user's (a test can
    // still point XTASK_ADVISORY_CACHE elsewhere: a later `env` wins).
    c.env("XTASK_ADVISORY_CACHE", test_cache());
    c
}

fn test_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("advisory-cache")
}

/// Run `xtask --root ROOT ARGS...`.
pub fn xtask(root: &Path, args: &[&str]) -> Run {
    bin()
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("running xtask")
        .into()
}

pub fn write(root: &Path, rel: &str, content: &str) -> PathBuf {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, content).unwrap();
    p
}

pub fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// A project tree with the runbook's pipeline configuration and some secrets.
pub fn sample_tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(r, ".github/workflows/ci.yml", "name: ci\non: [push]\n");
    write(r, ".github/workflows/deploy.yml", "name: deploy\n");
    write(r, "config/app.yml", "debug: false\n");
    write(r, "config/tls/server.pem", "-----BEGIN PRIVATE KEY-----\n");
    write(r, "config/.env", "DATABASE_PASSWORD=hunter2\n");
    write(r, "scripts/id_rsa", "PRIVATE\n");
    let smoke = write(
        r,
        "scripts/smoke-tests.sh",
        "#!/bin/sh\ncurl -f http://localhost/health\n",
    );
    chmod(&smoke, 0o755);
    write(r, "Dockerfile", "FROM python:3.11-slim\n");
    write(r, "docker-compose.staging.yml", "services: {}\n");
    write(r, "bandit.yaml", "skips: ['B101']\n");
    write(r, "src/app.py", "print('not pipeline config')\n");
    std::os::unix::fs::symlink("../config/app.yml", r.join("scripts/app.yml")).unwrap();
    t
}

/// Member names of a .tar.gz, in order.
pub fn members(archive: &Path) -> Vec<String> {
    let f = fs::File::open(archive).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    ar.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// Every file below `dir` (relative paths), for "nothing was written" checks.
pub fn snapshot(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| {
            e.unwrap()
                .path()
                .strip_prefix(dir)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    v.sort();
    v
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A service a test needs. Missing: skip locally, but fail when `.ci/run` sets
/// XTASK_REQUIRE_SERVICES=1, so CI can never pass by skipping.
pub fn service(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            if std::env::var("XTASK_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
                panic!(
                    "{what} is required (XTASK_REQUIRE_SERVICES=1) but {var} is not set: run the tests through scripts/test.sh"
                );
            }
            eprintln!("skipped: {what} not available ({var} not set; scripts/test.sh sets it)");
            None
        }
    }
}

pub fn has_program(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// A real HTTP/1.1 server on 127.0.0.1 for tests: each request is answered by `handler`
/// (path, request headers) → (status, extra headers, body); every request is logged.
pub struct TestServer {
    pub port: u16,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

pub type Handler = dyn Fn(&str, &str) -> (u16, Vec<String>, Vec<u8>) + Send + Sync;

impl TestServer {
    pub fn start(handler: std::sync::Arc<Handler>) -> TestServer {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (log2, stop2) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                let (stream, _) = match listener.accept() {
                    Ok(s) => s,
                    Err(_) => {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        continue;
                    }
                };
                let (handler, log) = (handler.clone(), log2.clone());
                std::thread::spawn(move || {
                    stream.set_nonblocking(false).unwrap();
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut first = String::new();
                    if reader.read_line(&mut first).is_err() {
                        return;
                    }
                    let mut headers = String::new();
                    loop {
                        let mut l = String::new();
                        if reader.read_line(&mut l).is_err() || l.trim().is_empty() {
                            break;
                        }
                        headers.push_str(&l);
                    }
                    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let (status, extra, body) = handler(&path, &headers);
                    log.lock()
                        .unwrap()
                        .push(format!("{path} {status} {}", headers.replace("\r\n", "|")));
                    let mut s = stream;
                    let mut head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                        body.len()
                    );
                    for h in extra {
                        head.push_str(&h);
                        head.push_str("\r\n");
                    }
                    head.push_str("\r\n");
                    let _ = s.write_all(head.as_bytes());
                    let _ = s.write_all(&body);
                });
            }
        });
        TestServer { port, log, stop }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `xtask --root ROOT --format json ARGS...`.
pub fn xtask_json(root: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--format", "json"];
    all.extend(args);
    xtask(root, &all)
}

/// `xtask --root ROOT ARGS...` with environment changes; an empty value removes the variable.
pub fn xtask_env(root: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut c = bin();
    for (k, v) in env {
        if v.is_empty() {
            c.env_remove(k);
        } else {
            c.env(k, v);
        }
    }
    c.arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("running xtask")
        .into()
}

/// Hold the lock at `path` the way a running xtask does, with `holder` recorded in it.
pub fn hold_lock(path: &Path, holder: &str) -> fs::File {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap();
    f.try_lock().unwrap();
    fs::write(path, holder).unwrap();
    f
}

/// The first finding with `code` in a JSON report (panics, showing the report, when none).
pub fn finding_with_code<'a>(v: &'a serde_json::Value, code: &str) -> &'a serde_json::Value {
    findings(v)
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no `{code}` finding in {v:#}"))
}

/// Temporary files (`.tmp-*`) left anywhere under `dir`: a finished or refused run leaves none.
pub fn tmp_leftovers(dir: &Path) -> Vec<String> {
    snapshot(dir)
        .into_iter()
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

/// The findings of a JSON report.
pub fn findings(v: &serde_json::Value) -> &Vec<serde_json::Value> {
    v["findings"].as_array().unwrap()
}

/// The findings with `code` of a JSON report, in order.
pub fn findings_with_code<'a>(v: &'a serde_json::Value, code: &str) -> Vec<&'a serde_json::Value> {
    findings(v).iter().filter(|f| f["code"] == code).collect()
}

/// A JSON report has a finding with `code`.
pub fn has_finding(v: &serde_json::Value, code: &str) -> bool {
    findings(v).iter().any(|f| f["code"] == code)
}

/// Where a finding points: (path, line).
pub fn place_of(f: &serde_json::Value) -> (Option<&str>, Option<u64>) {
    (f["path"].as_str(), f["line"].as_u64())
}

/// The string `key` of every element of the JSON array `items`, in order (`code` of
/// `v["findings"]`: the codes of a report's findings).
pub fn strings_of<'a>(items: &'a serde_json::Value, key: &str) -> Vec<&'a str> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[key].as_str().unwrap())
        .collect()
}

/// A finding's message.
pub fn message_of(f: &serde_json::Value) -> &str {
    f["message"].as_str().unwrap()
}

/// (package, version, advisory id) of every advisory a JSON audit report names, sorted.
pub fn advisory_hits(v: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = findings(v)
        .iter()
        .filter(|f| f.get("id").is_some())
        .map(|f| {
            let s = |key: &str| f[key].as_str().unwrap().to_string();
            (s("package"), s("version"), s("id"))
        })
        .collect();
    out.sort();
    out
}

/// The fetch record of an advisory database folder `db`: last updated at `updated` (RFC 3339).
pub fn source_updated(root: &Path, db: &str, updated: &str) -> PathBuf {
    write(
        root,
        &format!("{db}/.xtask-source.json"),
        &format!("{{\"updated\": \"{updated}\"}}"),
    )
}

/// `git ARGS...` in `dir` as a test committer; returns what git printed on stdout, trimmed.
/// Fails the test when git fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_with(dir, &[], args)
}

/// `git ARGS...` in `dir` as a test committer, authored and committed at `date`; returns
/// what git printed on stdout, trimmed. Fails the test when git fails.
pub fn git_at(dir: &Path, date: &str, args: &[&str]) -> String {
    let env = [("GIT_AUTHOR_DATE", date), ("GIT_COMMITTER_DATE", date)];
    git_with(dir, &env, args)
}

fn git_with(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Run `c` to its end and return what it printed on stdout; fails the test, showing `what`
/// and all the program printed, unless it exits 0.
pub fn run_ok(c: &mut Command, what: &str) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Programs a test needs on PATH: present, or skip locally (a failure when
/// XTASK_REQUIRE_SERVICES=1, like [`service`]). `from` says what `.ci/run` installs them from.
pub fn required_programs(names: &[&str], from: &str) -> bool {
    let missing: Vec<&str> = names.iter().copied().filter(|n| !has_program(n)).collect();
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join(", ");
    if std::env::var("XTASK_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
        panic!(
            "{missing} required (XTASK_REQUIRE_SERVICES=1) but not on PATH: .ci/run installs {from}"
        );
    }
    eprintln!("skipped: {missing} not on PATH (.ci/run installs {from})");
    false
}

/// A free port of 127.0.0.1 (nothing listens there until a test binds it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A SQLite database at the runbook's default path (`ai_knowledge_hub/knowledge_hub.db`)
/// under `root`, made by `sql`.
pub fn default_database(root: &Path, sql: &str) -> PathBuf {
    let db = root.join("ai_knowledge_hub/knowledge_hub.db");
    fs::create_dir_all(db.parent().unwrap()).unwrap();
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
    db
}
