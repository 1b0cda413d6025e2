//! `restore config`: round trips, refusals, and a corpus of malicious archives.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::*;

fn backup(root: &Path) -> PathBuf {
    let run = xtask_json(root, &["backup", "config"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    PathBuf::from(run.json()["archive"].as_str().unwrap())
}

/// The global options of a run: JSON output, or the default text.
const JSON: &[&str] = &["--format", "json"];
const TEXT: &[&str] = &[];

/// `xtask GLOBAL restore config FROM --to TARGET EXTRA...`.
fn restore_to(root: &Path, global: &[&str], from: &str, target: &Path, extra: &[&str]) -> Run {
    let target = target.to_str().unwrap();
    let mut args = global.to_vec();
    args.extend(["restore", "config", from, "--to", target]);
    args.extend(extra);
    xtask(root, &args)
}

#[test]
fn round_trip_into_a_new_directory() {
    let t = sample_tree();
    let archive = backup(t.path());
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("restored");
    let run = restore_to(t.path(), JSON, "latest", &target, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.json()["restored"], true);
    for rel in [
        ".github/workflows/ci.yml",
        "config/app.yml",
        "scripts/smoke-tests.sh",
        "Dockerfile",
        "bandit.yaml",
    ] {
        assert_eq!(
            fs::read(t.path().join(rel)).unwrap(),
            fs::read(target.join(rel)).unwrap(),
            "{rel}"
        );
    }
    let mode = fs::metadata(target.join("scripts/smoke-tests.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        fs::read_link(target.join("scripts/app.yml")).unwrap(),
        Path::new("../config/app.yml")
    );
    assert!(
        !target.join("config/.env").exists(),
        "secrets are not in backups"
    );
    // No staging directory left behind.
    assert!(
        snapshot(&target)
            .iter()
            .all(|p| !p.contains(".xtask-restore"))
    );
    // Restoring by path works too.
    let target2 = out.path().join("again");
    let run = restore_to(t.path(), TEXT, archive.to_str().unwrap(), &target2, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn dry_run_shows_changes_and_force_is_needed_to_overwrite() {
    let t = sample_tree();
    backup(t.path());
    write(t.path(), "config/app.yml", "debug: true\n");
    fs::remove_file(t.path().join(".github/workflows/ci.yml")).unwrap();
    let before = snapshot(t.path());

    let run = xtask_json(t.path(), &["restore", "config", "latest", "--dry-run"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let changes = v["changes"].as_array().unwrap();
    let action = |p: &str| changes.iter().find(|c| c["path"] == p).unwrap()["action"].clone();
    assert_eq!(action("config/app.yml"), "overwrite");
    assert_eq!(action(".github/workflows/ci.yml"), "add");
    assert_eq!(action("Dockerfile"), "unchanged");
    assert_eq!(snapshot(t.path()), before, "dry run wrote something");
    assert_eq!(
        fs::read_to_string(t.path().join("config/app.yml")).unwrap(),
        "debug: true\n"
    );

    let run = xtask(t.path(), &["restore", "config", "latest"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(
        fs::read_to_string(t.path().join("config/app.yml")).unwrap(),
        "debug: true\n"
    );

    let run = xtask(t.path(), &["restore", "config", "latest", "--force"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        fs::read_to_string(t.path().join("config/app.yml")).unwrap(),
        "debug: false\n"
    );
    assert!(t.path().join(".github/workflows/ci.yml").exists());
    // Files the archive does not hold are left alone.
    assert!(t.path().join("src/app.py").exists() && t.path().join("config/.env").exists());
}

#[test]
fn corrupt_archive_is_refused_before_anything_is_written() {
    let t = sample_tree();
    let archive = backup(t.path());
    let mut bytes = fs::read(&archive).unwrap();
    let n = bytes.len() / 2;
    bytes[n] ^= 0xff;
    fs::write(&archive, bytes).unwrap();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("t");
    let run = restore_to(t.path(), TEXT, "latest", &target, &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(!target.exists());
}

#[test]
fn never_writes_through_a_link_in_the_target() {
    let t = sample_tree();
    backup(t.path());
    let outside = tempfile::tempdir().unwrap();
    let target = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), target.path().join("config")).unwrap();
    let run = restore_to(t.path(), TEXT, "latest", target.path(), &["--force"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("restore-conflict"), "{}", run.stdout);
    assert_eq!(
        snapshot(outside.path()),
        vec![""],
        "wrote outside the target"
    );
}

/// A folder nobody can write to for the length of a test: mode 0555, or for root (whom
/// modes do not stop) the immutable attribute. `None` when neither works here.
struct ReadOnly {
    dir: PathBuf,
    immutable: bool,
}

impl ReadOnly {
    fn make(dir: &Path) -> Option<ReadOnly> {
        // SAFETY: geteuid has no preconditions.
        let immutable = unsafe { libc::geteuid() } == 0;
        let ok = if immutable {
            std::process::Command::new("chattr")
                .arg("+i")
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success())
        } else {
            chmod(dir, 0o555);
            true
        };
        let guard = ReadOnly {
            dir: dir.to_path_buf(),
            immutable,
        };
        if !ok || fs::write(dir.join(".probe"), "x").is_ok() {
            let _ = fs::remove_file(dir.join(".probe"));
            eprintln!("skipped: cannot make {} read-only here", dir.display());
            return None;
        }
        Some(guard)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.immutable {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(&self.dir)
                .status();
        } else {
            chmod(&self.dir, 0o755);
        }
    }
}

/// A folder of the target that cannot be written stops the restore before the first move
/// (and a dry run says so): nothing is half restored.
#[test]
fn an_unwritable_folder_stops_the_restore_before_anything_moves() {
    let t = sample_tree();
    backup(t.path());
    write(t.path(), "config/app.yml", "debug: true\n");
    fs::remove_file(t.path().join(".github/workflows/ci.yml")).unwrap();
    let Some(_read_only) = ReadOnly::make(&t.path().join("config")) else {
        return;
    };
    let outside_store = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .filter(|p| !p.starts_with("backups"))
            .collect()
    };
    let before = outside_store(snapshot(t.path()));
    for extra in ["--dry-run", "--force"] {
        let run = xtask_json(t.path(), &["restore", "config", "latest", extra]);
        assert_eq!(run.code, 1, "{extra}: {}{}", run.stdout, run.stderr);
        let v = run.json();
        assert_eq!(v["restored"], false);
        let f = finding_with_code(&v, "restore-target-unwritable");
        assert!(message_of(f).contains("config"), "{f:#}");
        assert_eq!(outside_store(snapshot(t.path())), before, "{extra}");
        assert!(!t.path().join(".github/workflows/ci.yml").exists());
        assert_eq!(
            fs::read_to_string(t.path().join("config/app.yml")).unwrap(),
            "debug: true\n"
        );
    }
}

/// One member of a hand-made archive.
struct Member {
    name: &'static str,
    kind: tar::EntryType,
    data: &'static [u8],
    link: Option<&'static str>,
}

fn file(name: &'static str, data: &'static [u8]) -> Member {
    Member {
        name,
        kind: tar::EntryType::Regular,
        data,
        link: None,
    }
}

fn link(name: &'static str, kind: tar::EntryType, target: &'static str) -> Member {
    Member {
        name,
        kind,
        data: b"",
        link: Some(target),
    }
}

/// Write raw headers (bypassing the tar crate's own path checks), with a manifest that
/// describes every member and a correct .sha256: only the safety rules can refuse it.
fn hostile_archive(dir: &Path, members: &[Member]) -> PathBuf {
    let mut files = Vec::new();
    for m in members {
        let entry = if m.kind == tar::EntryType::Symlink {
            serde_json::json!({"path": m.name, "type": "symlink", "size": 0, "mode": 0o777, "target": m.link})
        } else {
            let sha = sha256_hex(m.data);
            serde_json::json!({"path": m.name, "type": "file", "size": m.data.len(), "mode": 0o644, "sha256": sha})
        };
        files.push(entry);
    }
    let manifest = serde_json::to_vec(
        &serde_json::json!({"format": "xtask-pipeline-backup/1", "files": files}),
    )
    .unwrap();
    let path = dir.join("pipeline-backup-20260101_000000.tar.gz");
    let gz = flate2::write::GzEncoder::new(
        fs::File::create(&path).unwrap(),
        flate2::Compression::default(),
    );
    let mut b = tar::Builder::new(gz);
    let mut h = tar::Header::new_gnu();
    h.set_path(".xtask-manifest.json").unwrap();
    h.set_size(manifest.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, manifest.as_slice()).unwrap();
    for m in members {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..m.name.len()].copy_from_slice(m.name.as_bytes());
        if let Some(l) = m.link {
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_entry_type(m.kind);
        h.set_size(m.data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, m.data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
    let sha = sha256_hex(&fs::read(&path).unwrap());
    fs::write(
        format!("{}.sha256", path.display()),
        format!("{sha}  pipeline-backup-20260101_000000.tar.gz\n"),
    )
    .unwrap();
    path
}

fn special(name: &'static str, kind: tar::EntryType) -> Member {
    Member {
        name,
        kind,
        data: b"",
        link: None,
    }
}

/// Every rule of `archive::check`, each broken by a hand-made archive (with a manifest that
/// describes every member and a correct .sha256, so only the rule can refuse it), and the
/// finding code that must say so.
fn hostile_corpus() -> Vec<(&'static str, &'static str, Vec<Member>)> {
    use tar::EntryType::*;
    const UNSAFE: &str = "backup-unsafe-entry";
    vec![
        (
            "dot-dot",
            UNSAFE,
            vec![
                file("config/ok.yml", b"ok\n"),
                file("../escaped.txt", b"pwned\n"),
            ],
        ),
        (
            "deep dot-dot",
            UNSAFE,
            vec![file("config/../../escaped.txt", b"pwned\n")],
        ),
        (
            "absolute",
            UNSAFE,
            vec![file("/tmp/xtask-escaped-absolute.txt", b"pwned\n")],
        ),
        (
            "dot component",
            UNSAFE,
            vec![file("./config/x.yml", b"x\n")],
        ),
        (
            "empty component",
            UNSAFE,
            vec![file("config//x.yml", b"x\n")],
        ),
        (
            "symlink escape",
            UNSAFE,
            vec![link("config", Symlink, "../..")],
        ),
        (
            "absolute symlink",
            UNSAFE,
            vec![link("etc", Symlink, "/etc")],
        ),
        (
            "deep escaping link",
            UNSAFE,
            vec![link("a/b/c", Symlink, "../../../x")],
        ),
        (
            "chained links: b -> a/.. with a -> .",
            UNSAFE,
            vec![link("a", Symlink, "."), link("b", Symlink, "a/..")],
        ),
        (
            "chained links to a file: c -> a/../x",
            UNSAFE,
            vec![link("a", Symlink, "."), link("c", Symlink, "a/../x")],
        ),
        (
            "chained further: a/a/a/../..",
            UNSAFE,
            vec![link("a", Symlink, "."), link("b", Symlink, "a/a/a/../..")],
        ),
        (
            "chain through a deep link: z -> x/y/.. with x/y -> ..",
            UNSAFE,
            vec![link("x/y", Symlink, ".."), link("z", Symlink, "x/y/..")],
        ),
        (
            "chain of three: c -> b/.., b -> a/x, a -> .",
            UNSAFE,
            vec![
                link("a", Symlink, "."),
                link("b", Symlink, "a/x"),
                link("c", Symlink, "b/../.."),
            ],
        ),
        (
            "link loop",
            UNSAFE,
            vec![link("p", Symlink, "q"), link("q", Symlink, "p/x")],
        ),
        (
            "file through a link",
            UNSAFE,
            vec![
                link("sub", Symlink, "inner"),
                file("sub/escaped.txt", b"pwned\n"),
            ],
        ),
        (
            "link then file via link",
            UNSAFE,
            vec![link("a", Symlink, "."), file("a/b.txt", b"x\n")],
        ),
        (
            "hard link",
            UNSAFE,
            vec![
                file("config/ok.yml", b"ok\n"),
                link("hard", Link, "config/ok.yml"),
            ],
        ),
        (
            "hard link outside",
            UNSAFE,
            vec![link("passwd", Link, "/etc/passwd")],
        ),
        ("char device", UNSAFE, vec![special("null", Char)]),
        ("block device", UNSAFE, vec![special("sda", Block)]),
        ("fifo", UNSAFE, vec![special("pipe", Fifo)]),
        (
            "duplicate",
            "backup-member-duplicate",
            vec![
                file("config/ok.yml", b"ok\n"),
                file("config/ok.yml", b"ok\n"),
            ],
        ),
        (
            "duplicate that turns into a link",
            "backup-member-duplicate",
            vec![file("x", b"ok\n"), link("x", Symlink, "../..")],
        ),
    ]
}

#[test]
fn malicious_archives_are_refused_with_nothing_written_outside() {
    for (label, code, members) in hostile_corpus() {
        let store = tempfile::tempdir().unwrap();
        let archive = hostile_archive(store.path(), &members);
        let sandbox = tempfile::tempdir().unwrap();
        let target = sandbox.path().join("a/b/target");
        fs::create_dir_all(&target).unwrap();
        let before = snapshot(sandbox.path());
        for extra in [&[][..], &["--force"][..], &["--dry-run"][..]] {
            // The root (audit log) is outside the sandbox.
            let run = restore_to(
                store.path(),
                JSON,
                archive.to_str().unwrap(),
                &target,
                extra,
            );
            assert_eq!(
                run.code, 1,
                "{label} {extra:?}: {}\n{}",
                run.stdout, run.stderr
            );
            let v = run.json();
            assert_eq!(v["restored"], false, "{label}");
            assert!(has_finding(&v, code), "{label}: no {code}: {v:#}");
            assert_eq!(
                snapshot(sandbox.path()),
                before,
                "{label} {extra:?}: something was written"
            );
        }
        assert!(!Path::new("/tmp/xtask-escaped-absolute.txt").exists());
        // verify reports the same refusal.
        let run = xtask_json(
            sandbox.path(),
            &["backup", "verify", archive.to_str().unwrap()],
        );
        assert_eq!(run.code, 1, "{label}: verify passed: {}", run.stdout);
        assert!(run.stdout.contains(code), "{label}: {}", run.stdout);
    }
}

/// A restore says which files the archive does not hold on purpose: the secrets left out at
/// backup time (and what `pipeline.exclude` left out), so nobody looks for them in it.
#[test]
fn restore_names_the_files_left_out_at_backup_time() {
    let t = sample_tree();
    write(
        t.path(),
        "maintenance.toml",
        "[pipeline]\nexclude = [\"*.log\"]\n",
    );
    write(t.path(), "config/debug.log", "noise\n");
    backup(t.path());
    let out = tempfile::tempdir().unwrap();
    let to = out.path().join("restored");
    let run = restore_to(t.path(), TEXT, "latest", &to, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines.contains(
            &"not in the archive: 4 files left out at backup time, 3 of them secrets: restore separately"
        ),
        "{}",
        run.stdout
    );
    let i = lines
        .iter()
        .position(|l| *l == "Left out at backup time")
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert_eq!(
        lines[i + 1..i + 6],
        [
            "path                   why",
            "config/.env            excluded as a secret at backup time: restore it from your secret store",
            "config/debug.log       excluded by pipeline.exclude at backup time",
            "config/tls/server.pem  excluded as a secret at backup time: restore it from your secret store",
            "scripts/id_rsa         excluded as a secret at backup time: restore it from your secret store",
        ]
    );
    assert!(!to.join("config/.env").exists());
    let v = restore_to(t.path(), JSON, "latest", &out.path().join("again"), &[]).json();
    assert_eq!(v["left_out"][0]["path"], "config/.env");
    assert_eq!(v["left_out"][0]["why"], "secret");
    assert_eq!(v["left_out"][1]["why"], "excluded");
}
