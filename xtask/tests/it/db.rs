//! `backup db` / `restore db` on real SQLite files, with fault injection.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::Connection;

use crate::support::*;

const DB: &str = "ai_knowledge_hub/knowledge_hub.db";

/// A WAL database with an invariant: `SELECT n FROM counter` equals `count(*)` of `items`.
fn make_db(root: &Path, rows: usize, body: usize) -> PathBuf {
    make_db_in_mode(root, rows, body, "WAL")
}

fn make_db_in_mode(root: &Path, rows: usize, body: usize, mode: &str) -> PathBuf {
    let path = root.join(DB);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut c = Connection::open(&path).unwrap();
    c.execute_batch(&format!("PRAGMA journal_mode = {mode};"))
        .unwrap();
    c.execute_batch(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT);
         CREATE TABLE counter (n INTEGER);
         INSERT INTO counter VALUES (0);",
    )
    .unwrap();
    let tx = c.transaction().unwrap();
    for i in 0..rows {
        let text: String = format!("row {i} ").repeat(body / 8 + 1);
        tx.execute("INSERT INTO items (body) VALUES (?1)", [text])
            .unwrap();
    }
    tx.execute("UPDATE counter SET n = ?1", [rows as i64])
        .unwrap();
    tx.commit().unwrap();
    path
}

fn consistent(db: &Path) -> (i64, String) {
    let c = Connection::open(db).unwrap();
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    let n: i64 = c
        .query_row("SELECT n FROM counter", [], |r| r.get(0))
        .unwrap();
    let count: i64 = c
        .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        n,
        count,
        "{} holds a state no transaction committed",
        db.display()
    );
    (n, check)
}

fn backup(root: &Path) -> serde_json::Value {
    let run = xtask_json(root, &["backup", "db"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run.json()
}

/// `restore db FROM --to TO`.
fn restore_to(root: &Path, from: &str, to: &Path) -> Run {
    xtask(root, &["restore", "db", from, "--to", to.to_str().unwrap()])
}

#[test]
fn backup_has_manifest_and_restores_to_a_new_file() {
    let t = tempfile::tempdir().unwrap();
    make_db(t.path(), 500, 100);
    let v = backup(t.path());
    let path = PathBuf::from(v["backup"].as_str().unwrap());
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with("db_backup_") && name.ends_with(".sqlite.gz"),
        "{name}"
    );
    assert_eq!(v["tables"]["items"], 500);
    assert_eq!(v["tables"]["counter"], 1);
    assert!(v["bytes"].as_u64().unwrap() > 0);
    let m = &v["manifest"];
    assert_eq!(m["engine"], "sqlite");
    assert_eq!(m["check"], "integrity_check: ok");
    assert!(m["page_size"].as_u64().unwrap() >= 512 && m["page_count"].as_u64().unwrap() > 1);
    assert!(m["sqlite_version"].as_str().unwrap().starts_with("3."));
    assert_eq!(m["sha256"], v["sha256"]);
    // The file is plain gzip: zcat gives the database back.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("zcat '{}' | sha256sum", path.display()))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(m["raw_sha256"].as_str().unwrap()));

    let target = t.path().join("copy/restored.db");
    let run = restore_to(t.path(), "latest", &target);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(consistent(&target), (500, "ok".into()));
    // --to never overwrites.
    let run = restore_to(t.path(), "latest", &target);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    let listed = xtask_json(t.path(), &["backup", "list"]).json();
    let rows = listed["backups"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["kind"], "db");
    assert_eq!(rows[0]["checksum"], "ok");
    assert_eq!(xtask(t.path(), &["backup", "verify", "--all"]).code, 0);
}

#[test]
fn restore_over_live_needs_yes_and_takes_a_safety_backup() {
    let t = tempfile::tempdir().unwrap();
    let live = make_db(t.path(), 100, 10);
    backup(t.path());
    {
        let c = Connection::open(&live).unwrap();
        c.execute_batch("INSERT INTO items (body) VALUES ('later'); UPDATE counter SET n = 101;")
            .unwrap();
    }
    let run = xtask(t.path(), &["restore", "db", "latest"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
    assert_eq!(consistent(&live).0, 101);

    let dry = xtask_json(t.path(), &["restore", "db", "latest", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(consistent(&live).0, 101);

    // The application keeps a connection open across the restore.
    let app = Connection::open(&live).unwrap();
    let run = xtask_json(t.path(), &["restore", "db", "latest", "--yes"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let safety = v["safety_backup"].as_str().unwrap();
    assert_eq!(consistent(&live).0, 100);
    let n: i64 = app
        .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 100, "open connections see the restored data");
    // The safety backup is listed like any other and holds the state before the restore.
    let list = xtask_json(t.path(), &["backup", "list"]).json();
    assert!(
        list["backups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["path"] == safety)
    );
    let back = t.path().join("before.db");
    assert_eq!(restore_to(t.path(), safety, &back).code, 0);
    assert_eq!(consistent(&back).0, 101);
}

#[test]
fn backups_under_a_continuous_writer_hold_committed_states() {
    let methods = writer_during_backups("WAL", 20);
    assert!(methods.iter().all(|m| m == "backup-api"), "{methods:?}");
}

/// Rollback-journal mode: the copy goes step by step, writers restart it, and VACUUM INTO
/// takes over after `max_restarts`.
#[test]
fn rollback_journal_database_under_a_writer_falls_back_to_vacuum_into() {
    let methods = writer_during_backups("DELETE", 10);
    assert!(methods.iter().any(|m| m == "vacuum-into"), "{methods:?}");
}

fn writer_during_backups(mode: &str, backups: usize) -> Vec<String> {
    let t = tempfile::tempdir().unwrap();
    let live = make_db_in_mode(t.path(), 20_000, 200, mode);
    // Few restarts allowed, so that both the backup API and the VACUUM INTO fallback run.
    write(
        t.path(),
        "maintenance.toml",
        "[database]\nstep_pages = 64\nmax_restarts = 0\n",
    );
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (live, stop) = (live.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut c = Connection::open(&live).unwrap();
            c.busy_timeout(Duration::from_secs(30)).unwrap();
            let mut commits = 0;
            while !stop.load(Ordering::Relaxed) {
                let tx = c
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .unwrap();
                for _ in 0..10 {
                    tx.execute("INSERT INTO items (body) VALUES ('w')", [])
                        .unwrap();
                }
                tx.execute("UPDATE counter SET n = n + 10", []).unwrap();
                tx.commit().unwrap();
                commits += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
            commits
        })
    };
    let mut methods = Vec::new();
    for i in 0..backups {
        let v = backup(t.path());
        methods.push(v["manifest"]["method"].as_str().unwrap().to_string());
        let target = t.path().join(format!("check{i}.db"));
        let path = v["backup"].as_str().unwrap();
        let run = restore_to(t.path(), path, &target);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let (n, check) = consistent(&target);
        assert_eq!(check, "ok");
        assert!(n >= 20_000);
        assert_eq!(
            v["tables"]["items"], n,
            "manifest row count is the snapshot's"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let commits = writer.join().unwrap();
    assert!(commits > 20, "the writer kept committing ({commits})");
    eprintln!("{mode}: methods {methods:?}, writer commits: {commits}");
    methods
}

/// Start `xtask --root ROOT ARGS...` and kill it (SIGKILL) after `delay_ms`.
fn kill_after(root: &Path, args: &[&str], delay_ms: u64) {
    let mut child = bin()
        .arg("--root")
        .arg(root)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(delay_ms));
    let _ = child.kill();
    child.wait().unwrap();
}

#[test]
fn killed_backups_are_never_listed_as_valid() {
    let t = tempfile::tempdir().unwrap();
    make_db(t.path(), 100_000, 300);
    // A complete backup made before the kills: every listing below must still show it, so
    // the checks of what is listed never pass on an empty list.
    let done = backup(t.path())["backup"].as_str().unwrap().to_string();
    for delay_ms in [1u64, 10, 30, 60, 100, 150, 250] {
        kill_after(t.path(), &["backup", "db"], delay_ms);
        let list = xtask_json(t.path(), &["backup", "list"]).json();
        let rows = list["backups"].as_array().unwrap();
        assert!(
            rows.iter().any(|r| r["path"] == done.as_str()),
            "delay {delay_ms}: the complete backup is not listed: {list:#}"
        );
        for row in rows {
            assert_eq!(row["checksum"], "ok", "delay {delay_ms}: {row:#}");
            let path = row["path"].as_str().unwrap();
            assert_eq!(
                xtask(t.path(), &["backup", "verify", path]).code,
                0,
                "delay {delay_ms}"
            );
        }
    }
    backup(t.path());
    let left = tmp_leftovers(&t.path().join("backups/db"));
    assert!(left.is_empty(), "{left:?}");
}

/// Files beside the live database other than the database itself (and its own -wal/-shm).
fn strays(dir: &Path) -> Vec<String> {
    snapshot(dir)
        .into_iter()
        .filter(|p| !p.is_empty() && !p.starts_with("knowledge_hub.db") && !p.starts_with("copy"))
        .collect()
}

/// A restore killed at any point leaves no database copy beside the live database: scratch
/// copies live in a private folder (0700, files 0600) that the next run removes.
#[test]
fn killed_restores_leave_no_copy_beside_the_live_database() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let live = make_db(t.path(), 100_000, 300);
    let dir = live.parent().unwrap().to_path_buf();
    backup(t.path());
    // What an older killed run left: its folder is removed (its process is gone).
    let stale = dir.join(".xtask-scratch/999999999");
    fs::create_dir_all(&stale).unwrap();
    fs::write(stale.join("verify.sqlite"), "old copy").unwrap();
    for (i, delay_ms) in [20u64, 80, 200, 400, 700].into_iter().enumerate() {
        let to = dir.join(format!("copy{i}.db"));
        kill_after(
            t.path(),
            &["restore", "db", "latest", "--to", to.to_str().unwrap()],
            delay_ms,
        );
        for rel in strays(&dir) {
            assert!(
                rel.starts_with(".xtask-scratch"),
                "delay {delay_ms}: {rel} left beside the live database"
            );
            let meta = fs::metadata(dir.join(&rel)).unwrap();
            let mode = meta.permissions().mode() & 0o777;
            if meta.is_dir() {
                assert_eq!(mode, 0o700, "{rel}");
            } else if !rel.ends_with("-journal") {
                assert_eq!(mode, 0o600, "{rel}");
            }
        }
    }
    let to = dir.join("copy-final.db");
    let run = restore_to(t.path(), "latest", &to);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(consistent(&to).0, 100_000);
    assert_eq!(strays(&dir), Vec::<String>::new(), "scratch copies left");
}

/// A zero-byte file, a file that is not a database, a database without tables and a
/// folder are refused with an error naming the file, and nothing is published.
#[test]
fn what_is_not_a_database_is_refused_by_name() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "empty.db", "");
    write(t.path(), "garbage.db", "hello, this is not a database\n");
    fs::create_dir(t.path().join("folder.db")).unwrap();
    {
        let c = Connection::open(t.path().join("no-tables.db")).unwrap();
        c.execute_batch("PRAGMA user_version = 7;").unwrap();
    }
    for (file, says) in [
        ("empty.db", "empty"),
        ("garbage.db", "not a SQLite database"),
        ("folder.db", "is a directory"),
        ("no-tables.db", "no tables"),
    ] {
        let run = xtask(t.path(), &["backup", "db", "--database", file]);
        assert_eq!(run.code, 2, "{file}: {}{}", run.stdout, run.stderr);
        let path = t.path().join(file);
        assert!(
            run.stderr.contains(path.to_str().unwrap()) && run.stderr.contains(says),
            "{file}: {}",
            run.stderr
        );
    }
    let list = xtask_json(t.path(), &["backup", "list"]).json();
    assert_eq!(list["backups"].as_array().unwrap().len(), 0, "{list:#}");
}

/// A backup holding an empty database (as older versions made of a zero-byte file) does
/// not verify, so it never counts as the newest verified backup.
#[test]
fn a_backup_of_an_empty_database_does_not_verify() {
    let t = tempfile::tempdir().unwrap();
    make_db(t.path(), 10, 10);
    let v = backup(t.path());
    let good = PathBuf::from(v["backup"].as_str().unwrap());
    // An empty database, published like a real backup (consistent checksums and manifest).
    let empty = t.path().join("empty.db");
    Connection::open(&empty)
        .unwrap()
        .execute_batch("PRAGMA user_version = 1;")
        .unwrap();
    let raw = fs::read(&empty).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    let bytes = gz.finish().unwrap();
    let name = "db_backup_20991231_000000.sqlite.gz";
    let path = good.with_file_name(name);
    let mut m = manifest_of(&good);
    m["raw_bytes"] = raw.len().into();
    m["raw_sha256"] = sha256_hex(&raw).into();
    m["bytes"] = bytes.len().into();
    m["sha256"] = sha256_hex(&bytes).into();
    m["tables"] = serde_json::json!({});
    publish(&path, &bytes, &m);
    let run = xtask_json(t.path(), &["backup", "verify", name]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    finding_with_code(&run.json(), "backup-empty");
    let run = restore_to(t.path(), name, &t.path().join("x.db"));
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        xtask(t.path(), &["backup", "verify", good.to_str().unwrap()]).code,
        0
    );
}

/// The manifest (`BACKUP.json`) of a backup.
fn manifest_of(backup: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(format!("{}.json", backup.display())).unwrap()).unwrap()
}

/// Publish `bytes` as the backup `path` the way the tool does: the file, its manifest `m`
/// and a `.sha256` with the manifest's checksum (right or wrong).
fn publish(path: &Path, bytes: &[u8], m: &serde_json::Value) {
    let name = path.file_name().unwrap().to_str().unwrap();
    fs::write(path, bytes).unwrap();
    fs::write(
        format!("{}.json", path.display()),
        serde_json::to_vec(m).unwrap(),
    )
    .unwrap();
    fs::write(
        format!("{}.sha256", path.display()),
        format!("{}  {name}\n", m["sha256"].as_str().unwrap()),
    )
    .unwrap();
}

/// A live database that holds nothing (truncated to zero bytes, or without tables) is
/// restored over without a safety backup: there is nothing to save, and it is no database
/// to back up.
#[test]
fn an_empty_live_database_is_restored_without_a_safety_backup() {
    let t = tempfile::tempdir().unwrap();
    let live = make_db(t.path(), 50, 10);
    backup(t.path());
    for no_tables in [false, true] {
        fs::remove_file(live.with_extension("db-wal")).ok();
        fs::remove_file(live.with_extension("db-shm")).ok();
        fs::write(&live, b"").unwrap();
        if no_tables {
            Connection::open(&live)
                .unwrap()
                .execute_batch("PRAGMA user_version = 3;")
                .unwrap();
        }
        let dry = xtask(t.path(), &["restore", "db", "latest", "--dry-run"]);
        assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
        assert!(dry.stdout.contains("no safety backup"), "{}", dry.stdout);
        let run = xtask_json(t.path(), &["restore", "db", "latest", "--yes"]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert!(run.json().get("safety_backup").is_none(), "{}", run.stdout);
        assert_eq!(consistent(&live).0, 50);
    }
    let list = xtask_json(t.path(), &["backup", "list"]).json();
    assert_eq!(list["backups"].as_array().unwrap().len(), 1, "{list:#}");
}

/// After a restore over the live database, `latest` still means the newest real backup,
/// not the safety backup that restore took.
#[test]
fn latest_is_never_a_safety_backup() {
    let t = tempfile::tempdir().unwrap();
    let live = make_db(t.path(), 100, 10);
    let first = backup(t.path())["backup"].as_str().unwrap().to_string();
    Connection::open(&live)
        .unwrap()
        .execute_batch("INSERT INTO items (body) VALUES ('later'); UPDATE counter SET n = 101;")
        .unwrap();
    let run = xtask_json(t.path(), &["restore", "db", "latest", "--yes"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let safety = run.json()["safety_backup"].as_str().unwrap().to_string();
    assert_ne!(safety, first);
    let dry = xtask_json(t.path(), &["restore", "db", "latest", "--dry-run"]).json();
    assert_eq!(dry["backup"], first.as_str(), "{dry:#}");
    let to = t.path().join("again.db");
    let run = restore_to(t.path(), "latest", &to);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(consistent(&to).0, 100);
    // By name, the safety backup restores like any other.
    let to = t.path().join("safety.db");
    let run = restore_to(t.path(), &safety, &to);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(consistent(&to).0, 101);
}

/// A fake `rclone` that logs its arguments, copies with `copyto` and answers `size` and
/// `hashsum` for local paths; it only understands calls that end their options with `--`.
fn fake_rclone(dir: &Path) -> (PathBuf, PathBuf) {
    let bin = dir.join("fake-bin");
    fs::create_dir_all(&bin).unwrap();
    let log = dir.join("rclone.log");
    let script = format!(
        r#"#!/bin/sh
echo "$*" >> '{log}'
cmd=$1
while [ $# -gt 0 ] && [ "$1" != "--" ]; do shift; done
[ "$1" = "--" ] || exit 2
shift
case "$cmd" in
  copyto) mkdir -p "$(dirname "$2")" && cp "$1" "$2" ;;
  size) printf '{{"count":1,"bytes":%s}}\n' "$(stat -c %s "$1")" ;;
  hashsum) sha256sum "$1" ;;
  *) exit 1 ;;
esac
"#,
        log = log.display()
    );
    let path = bin.join("rclone");
    fs::write(&path, script).unwrap();
    chmod(&path, 0o755);
    (bin, log)
}

/// A remote that looks like an option never reaches rclone; every rclone call ends its
/// options with `--`, so a remote or file name is never read as one.
#[test]
fn an_upload_remote_is_never_an_rclone_option() {
    let t = tempfile::tempdir().unwrap();
    make_db(t.path(), 10, 10);
    let (bin_dir, log) = fake_rclone(t.path());
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let evil = t.path().join("evil.conf");
    let arg = format!("--upload=--config={}", evil.display());
    let run = xtask_env(t.path(), &[("PATH", &path)], &["backup", "db", &arg]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("remote"), "{}", run.stderr);
    assert!(
        !log.exists(),
        "rclone ran: {}",
        fs::read_to_string(&log).unwrap()
    );

    let remote = t.path().join("offsite");
    let run = xtask_env(
        t.path(),
        &[("PATH", &path)],
        &[
            "--format",
            "json",
            "backup",
            "db",
            "--upload",
            remote.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.json()["uploaded"].is_string(), "{}", run.stdout);
    let calls = fs::read_to_string(&log).unwrap();
    assert_eq!(calls.lines().count(), 5, "{calls}");
    for call in calls.lines() {
        assert!(call.contains(" -- "), "no end of options: {call}");
    }
}

#[test]
fn write_failure_is_a_clean_error_and_keeps_older_backups() {
    let t = tempfile::tempdir().unwrap();
    make_db(t.path(), 20_000, 300);
    let first = backup(t.path());
    let before = snapshot(&t.path().join("backups"));
    // A file-size limit of 1 MiB: the snapshot cannot be written.
    let mut cmd = bin();
    cmd.arg("--root").arg(t.path()).args(["backup", "db"]);
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 1 << 20,
                rlim_max: 1 << 20,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let run: Run = cmd.output().unwrap().into();
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(
        snapshot(&t.path().join("backups")),
        before,
        "partial files left behind"
    );
    let path = first["backup"].as_str().unwrap();
    assert_eq!(xtask(t.path(), &["backup", "verify", path]).code, 0);
}

#[test]
fn fifty_corrupted_copies_are_refused_and_live_is_untouched() {
    let t = tempfile::tempdir().unwrap();
    let live = make_db(t.path(), 2000, 100);
    let v = backup(t.path());
    let good = PathBuf::from(v["backup"].as_str().unwrap());
    let bytes = fs::read(&good).unwrap();
    let manifest = manifest_of(&good);
    let live_before = fs::read(&live).unwrap();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let dir = t.path().join("backups/db");
    for i in 0..50 {
        let mut copy = bytes.clone();
        if i % 5 == 4 {
            copy.truncate((next() as usize) % copy.len());
        } else {
            let at = (next() as usize) % copy.len();
            copy[at] ^= 1 << (next() % 8);
        }
        let name = format!("db_backup_20260101_0000{:02}.sqlite.gz", i);
        let path = dir.join(&name);
        // Half of them get matching checksums, so the deeper checks must catch them.
        let mut m = manifest.clone();
        if i % 2 == 0 {
            m["sha256"] = sha256_hex(&copy).into();
        }
        m["bytes"] = copy.len().into();
        publish(&path, &copy, &m);

        let run = xtask(t.path(), &["backup", "verify", &name]);
        assert_eq!(run.code, 1, "copy {i} passed verify: {}", run.stdout);
        let run = xtask(t.path(), &["restore", "db", &name, "--yes"]);
        assert_eq!(
            run.code, 1,
            "copy {i} was restored: {}{}",
            run.stdout, run.stderr
        );
        assert_eq!(
            fs::read(&live).unwrap(),
            live_before,
            "copy {i} changed the live database"
        );
        fs::remove_file(&path).unwrap();
        fs::remove_file(format!("{}.json", path.display())).unwrap();
        fs::remove_file(format!("{}.sha256", path.display())).unwrap();
    }
    let leftovers = tmp_leftovers(live.parent().unwrap());
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_second_concurrent_run_is_refused() {
    let t = tempfile::tempdir().unwrap();
    make_db(t.path(), 10, 10);
    let lock = t.path().join("backups/.xtask.lock");
    let f = hold_lock(&lock, "");
    let run = xtask(t.path(), &["backup", "db"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let run = xtask(t.path(), &["backup"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    drop(f);
    backup(t.path());
}

#[test]
fn plain_backup_includes_the_database() {
    let t = sample_tree();
    make_db(t.path(), 10, 10);
    let run = xtask_json(t.path(), &["backup"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(v["backup_db"]["tables"]["items"], 10, "{v:#}");
    assert_eq!(v["backup_config"]["files"], 8);
    // Without a database the plain backup still succeeds, and says so.
    let t = sample_tree();
    let v = xtask_json(t.path(), &["backup"]).json();
    assert_eq!(v["exit_code"], 0);
    assert!(has_finding(&v, "database-missing"));
}

#[test]
fn upload_copies_and_verifies_off_site() {
    if !has_program("rclone") {
        service("XTASK_TEST_RCLONE", "rclone (apt-get install rclone)");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    make_db(t.path(), 100, 10);
    let remote = t.path().join("offsite/db");
    let run = xtask_json(
        t.path(),
        &["backup", "db", "--upload", remote.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let local = PathBuf::from(v["backup"].as_str().unwrap());
    let name = local.file_name().unwrap();
    assert_eq!(
        fs::read(remote.join(name)).unwrap(),
        fs::read(&local).unwrap()
    );
    assert!(
        remote
            .join(format!("{}.sha256", name.to_str().unwrap()))
            .exists()
    );
    assert!(
        v["uploaded"]
            .as_str()
            .unwrap()
            .ends_with(name.to_str().unwrap())
    );

    // An unreachable remote is a finding; the local backup stays valid.
    let run = xtask_json(
        t.path(),
        &["backup", "db", "--upload", "/proc/xtask-no-such-remote"],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert!(has_finding(&v, "upload-failed"), "{v:#}");
    assert_eq!(
        xtask(
            t.path(),
            &["backup", "verify", v["backup"].as_str().unwrap()]
        )
        .code,
        0
    );
}

/// A database path set in the config that does not exist fails the run, also under `-q`
/// (cron): the one line printed names the key, the config file and the path. Only the
/// runbook's default path may be missing quietly, and then the report says so in words.
#[test]
fn a_configured_database_that_is_missing_fails_even_quietly() {
    let t = sample_tree();
    let root = t.path().canonicalize().unwrap();
    write(
        &root,
        "maintenance.toml",
        "[database]\npath = \"data/app.db\"\n",
    );
    let run = xtask(&root, &["-q", "backup"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let r = root.display();
    assert_eq!(
        run.stdout,
        format!(
            "high[database-missing]: database.path `data/app.db` (set in {r}/maintenance.toml) does not exist: no database backed up; fix the path, or remove the key if this tree has no database ({r}/data/app.db)\n"
        )
    );
    // No database: nothing to prune against, so nothing is pruned.
    let v = xtask_json(&root, &["backup"]).json();
    assert_eq!(v["exit_code"], 1);
    assert!(v.get("backup_prune").is_none(), "{v:#}");

    // The runbook's default, unconfigured: a note, exit 0, and the summary says it.
    fs::remove_file(root.join("maintenance.toml")).unwrap();
    let run = xtask(&root, &["-q", "backup"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{}", run.stderr);
    let run = xtask(&root, &["backup"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.lines().any(|l| l
            == "  database: no database backed up (nothing at the default path ai_knowledge_hub/knowledge_hub.db)"),
        "{}",
        run.stdout
    );
}

/// `backup --if-changed` skips a database whose snapshot holds what the newest backup holds
/// (same content hash), with a line saying so; a change makes a new backup.
#[test]
fn if_changed_skips_a_database_backup_identical_to_the_newest() {
    let t = sample_tree();
    let db = make_db(t.path(), 10, 10);
    let run = xtask_json(t.path(), &["backup", "--if-changed"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let first = run.json();
    assert_eq!(first["backup_db"]["skipped"], false, "{first:#}");
    let newest = first["backup_db"]["backup"].as_str().unwrap().to_string();
    let name = Path::new(&newest).file_name().unwrap().to_str().unwrap();

    let run = xtask(t.path(), &["backup", "--if-changed"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.lines().any(|l| l
            == format!(
                "  unchanged: {name} already holds this content (the database is unchanged)"
            )),
        "{}",
        run.stdout
    );
    let backups = |root: &Path| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(root.join("backups/db"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sqlite.gz"))
            .collect();
        v.sort();
        v
    };
    assert_eq!(backups(t.path()), [name], "nothing new was written");
    let run = xtask_json(t.path(), &["backup", "--if-changed"]);
    let v = run.json();
    assert_eq!(v["backup_db"]["skipped"], true, "{v:#}");
    assert_eq!(v["backup_db"]["backup"], newest.as_str());

    // Without the flag, and after a change, a new backup is written.
    Connection::open(&db)
        .unwrap()
        .execute("INSERT INTO items (body) VALUES ('new')", [])
        .unwrap();
    let run = xtask_json(t.path(), &["backup", "--if-changed"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.json()["backup_db"]["skipped"], false);
    assert_eq!(backups(t.path()).len(), 2);
}
