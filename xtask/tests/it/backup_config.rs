//! `backup config`, `backup list`, `backup verify`, `backup prune`, `backup`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::*;

fn backup(root: &Path) -> (PathBuf, serde_json::Value) {
    let run = xtask_json(root, &["backup", "config"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let v = run.json();
    (PathBuf::from(v["archive"].as_str().unwrap()), v)
}

#[test]
fn archive_has_manifest_sidecar_and_json_fields() {
    let t = sample_tree();
    let (archive, v) = backup(t.path());
    let name = archive.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("pipeline-backup-") && name.ends_with(".tar.gz"),
        "{name}"
    );
    assert_eq!(archive.parent().unwrap(), t.path().join("backups/pipeline"));
    assert_eq!(v["files"], 8, "{v:#}");
    assert!(v["bytes"].as_u64().unwrap() > 0);
    let sidecar = fs::read_to_string(format!("{}.sha256", archive.display())).unwrap();
    assert_eq!(
        sidecar,
        format!("{}  {name}\n", v["sha256"].as_str().unwrap())
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&archive).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let m = members(&archive);
    assert_eq!(m[0], ".xtask-manifest.json");
    assert!(m.contains(&"scripts/smoke-tests.sh".to_string()), "{m:?}");
    assert!(
        m.contains(&"scripts/app.yml".to_string()),
        "symlink stored: {m:?}"
    );
    assert!(!m.iter().any(|p| p.starts_with("src/")), "{m:?}");
    // sha256sum agrees with the sidecar.
    run_ok(
        std::process::Command::new("sha256sum")
            .arg("-c")
            .arg(format!("{name}.sha256"))
            .current_dir(archive.parent().unwrap()),
        "sha256sum -c",
    );
}

#[test]
fn secrets_are_excluded_and_listed_unless_included() {
    let t = sample_tree();
    let (archive, v) = backup(t.path());
    let m = members(&archive);
    for secret in ["config/.env", "config/tls/server.pem", "scripts/id_rsa"] {
        assert!(!m.contains(&secret.to_string()), "{secret} archived: {m:?}");
        assert!(
            v["excluded_secrets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == secret),
            "{secret} not reported: {v:#}"
        );
    }
    let codes = strings_of(&v["findings"], "code");
    assert_eq!(
        codes.iter().filter(|c| **c == "secret-excluded").count(),
        3,
        "{codes:?}"
    );

    write(
        t.path(),
        "maintenance.toml",
        "[pipeline]\ninclude_secrets = [\"config/tls/*.pem\"]\n",
    );
    let (archive, v) = backup(t.path());
    let m = members(&archive);
    assert!(m.contains(&"config/tls/server.pem".to_string()), "{m:?}");
    assert!(!m.contains(&"config/.env".to_string()));
    assert_eq!(v["excluded_secrets"].as_array().unwrap().len(), 2);
}

/// Links that are harmless one by one but lead outside through each other are left out
/// (restore would refuse the archive), and say so.
#[test]
fn chained_links_that_leave_the_tree_are_left_out() {
    let t = sample_tree();
    std::os::unix::fs::symlink(".", t.path().join("config/a")).unwrap();
    std::os::unix::fs::symlink("a/../..", t.path().join("config/b")).unwrap();
    let (archive, v) = backup(t.path());
    let m = members(&archive);
    assert!(m.contains(&"config/a".to_string()), "{m:?}");
    assert!(!m.contains(&"config/b".to_string()), "{m:?}");
    let f = finding_with_code(&v, "symlink-outside-tree");
    assert_eq!(f["path"], "config/b", "{v:#}");
    assert!(message_of(f).contains("through the link"), "{f:#}");
    assert_eq!(
        xtask(t.path(), &["backup", "verify", archive.to_str().unwrap()]).code,
        0
    );
}

/// Credential files in any letter case, with backup suffixes, and well-known credential
/// paths are left out by default, each with its own `secret-excluded` finding.
#[test]
fn common_credential_files_are_left_out_in_any_case() {
    let t = sample_tree();
    let secrets = [
        "config/.ENV",
        "config/ID_RSA",
        "config/Server.PEM",
        "config/tls.key.bak",
        "config/.aws/credentials",
        "config/.docker/config.json",
        "config/.htpasswd",
        "config/secrets.yaml",
        "config/kubeconfig",
        "config/terraform.tfvars",
        "config/prod.auto.tfvars.json",
        "config/.kube/config",
        "config/deploy.PFX",
    ];
    let kept = [
        "config/keyboard.yml",
        "config/pem-notes.md",
        "config/aws/config.yml",
        "config/secrets-manager.md",
        "config/environment.yml",
    ];
    for rel in secrets.iter().chain(&kept) {
        write(t.path(), rel, "x\n");
    }
    let (archive, v) = backup(t.path());
    let m = members(&archive);
    let excluded: Vec<&str> = v["excluded_secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let reported: Vec<&str> = findings_with_code(&v, "secret-excluded")
        .into_iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for secret in secrets {
        assert!(!m.contains(&secret.to_string()), "{secret} archived: {m:?}");
        assert!(
            excluded.contains(&secret),
            "{secret} not listed: {excluded:?}"
        );
        assert!(
            reported.contains(&secret),
            "{secret} not reported: {reported:?}"
        );
    }
    for rel in kept {
        assert!(m.contains(&rel.to_string()), "{rel} left out: {excluded:?}");
    }
    // The sample tree's own three, plus these: one finding each.
    assert_eq!(reported.len(), secrets.len() + 3, "{reported:?}");
}

/// A backup store inside a pipeline path would leave that path out of every backup: a
/// config error naming both, before anything is written.
#[test]
fn a_backup_dir_inside_a_pipeline_path_is_refused() {
    for dir in ["config", "config/backups", "./config/"] {
        let t = sample_tree();
        write(
            t.path(),
            "maintenance.toml",
            &format!("[backup]\ndir = {dir:?}\n"),
        );
        for args in [&["backup", "config"][..], &["backup"][..]] {
            let run = xtask(t.path(), args);
            assert_eq!(run.code, 2, "{dir} {args:?}: {}{}", run.stdout, run.stderr);
            assert!(
                run.stderr.contains("backup.dir") && run.stderr.contains("`config`"),
                "{dir}: {}",
                run.stderr
            );
        }
        let list = xtask_json(t.path(), &["backup", "list"]).json();
        assert_eq!(list["backups"].as_array().unwrap().len(), 0, "{dir}");
    }
}

#[test]
fn same_tree_gives_identical_bytes() {
    let a = sample_tree();
    let b = sample_tree();
    // Different mtimes and a different location must not matter.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    write(b.path(), "config/app.yml", "debug: false\n");
    let (pa, va) = backup(a.path());
    let (pa2, _) = backup(a.path());
    let (pb, vb) = backup(b.path());
    assert_ne!(pa, pa2, "a second run gets its own name");
    assert_eq!(fs::read(&pa).unwrap(), fs::read(&pa2).unwrap());
    assert_eq!(fs::read(&pa).unwrap(), fs::read(&pb).unwrap());
    assert_eq!(va["sha256"], vb["sha256"]);
}

#[test]
fn if_changed_skips_identical_content() {
    let t = sample_tree();
    let (first, _) = backup(t.path());
    let run = xtask_json(t.path(), &["backup", "config", "--if-changed"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.json();
    assert_eq!(v["skipped"], true);
    assert_eq!(v["archive"].as_str().unwrap(), first.to_str().unwrap());
    write(t.path(), "config/app.yml", "debug: true\n");
    let v = xtask_json(t.path(), &["backup", "config", "--if-changed"]).json();
    assert_eq!(v["skipped"], false);
    assert_ne!(v["archive"].as_str().unwrap(), first.to_str().unwrap());
}

#[test]
fn verify_names_the_member_for_flipped_bytes() {
    let t = sample_tree();
    // Bigger, incompressible-ish members so that flips land inside member data.
    let mut big = String::new();
    for i in 0..20000u32 {
        big.push_str(&format!("{:x}\n", i.wrapping_mul(2654435761)));
    }
    write(t.path(), "config/big.yml", &big);
    let (archive, _) = backup(t.path());
    let ok = xtask(t.path(), &["backup", "verify", archive.to_str().unwrap()]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    let original = fs::read(&archive).unwrap();
    let len = original.len();
    for offset in [20, len / 4, len / 2, 3 * len / 4, len - 12, len - 1] {
        let mut bytes = original.clone();
        bytes[offset] ^= 0x5a;
        fs::write(&archive, &bytes).unwrap();
        let run = xtask_json(t.path(), &["backup", "verify", "latest"]);
        assert_eq!(
            run.code, 1,
            "offset {offset}: {}\n{}",
            run.stdout, run.stderr
        );
        let v = run.json();
        let msgs: Vec<String> = findings(&v)
            .iter()
            .map(|f| message_of(f).to_string())
            .collect();
        assert!(
            msgs.iter().any(|m| m.contains("sha256")),
            "offset {offset}: {msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.contains("member `")),
            "offset {offset}: {msgs:?}"
        );
    }
    fs::write(&archive, &original).unwrap();
    assert_eq!(xtask(t.path(), &["backup", "verify", "--all"]).code, 0);
}

#[test]
fn list_shows_newest_first_with_checksum_state() {
    let t = sample_tree();
    let (a, _) = backup(t.path());
    let (b, _) = backup(t.path());
    fs::remove_file(format!("{}.sha256", a.display())).unwrap();
    let v = xtask_json(t.path(), &["backup", "list"]).json();
    let rows = v["backups"].as_array().unwrap();
    assert_eq!(rows[0]["path"], b.to_str().unwrap());
    assert_eq!(rows[0]["checksum"], "ok");
    assert_eq!(rows[0]["files"], 8);
    assert_eq!(rows[1]["checksum"], "missing");
    assert_eq!(v["exit_code"], 1);
}

/// Make a backup look `days` old by renaming it (the time is in the name).
fn age(archive: &Path, days: i64, seq: usize) -> PathBuf {
    let t = chrono::Utc::now() - chrono::Duration::days(days);
    let name = format!("pipeline-backup-{}-{seq}.tar.gz", t.format("%Y%m%d_%H%M%S"));
    let dest = archive.with_file_name(&name);
    fs::rename(archive, &dest).unwrap();
    let side = fs::read_to_string(format!("{}.sha256", archive.display())).unwrap();
    let hex = side.split_whitespace().next().unwrap();
    fs::write(
        format!("{}.sha256", dest.display()),
        format!("{hex}  {name}\n"),
    )
    .unwrap();
    fs::remove_file(format!("{}.sha256", archive.display())).unwrap();
    dest
}

#[test]
fn prune_keeps_the_newest_verified_backup() {
    let t = sample_tree();
    write(
        t.path(),
        "maintenance.toml",
        "[backup.retention]\nkeep_days = 7\nkeep_last = 1\n",
    );
    let mut made = Vec::new();
    for (i, days) in [40, 30, 20, 10].iter().enumerate() {
        let (p, _) = backup(t.path());
        made.push(age(&p, *days, i + 1));
    }
    // The newest (10 days) is corrupt: keep_last keeps it, but the newest *verified* one
    // (20 days) must survive too although it is outside every rule.
    let mut bytes = fs::read(&made[3]).unwrap();
    let n = bytes.len() / 2;
    bytes[n] ^= 1;
    fs::write(&made[3], bytes).unwrap();

    let dry = xtask_json(t.path(), &["backup", "prune", "--dry-run"]).json();
    assert_eq!(dry["would_delete"].as_array().unwrap().len(), 2, "{dry:#}");
    assert!(made.iter().all(|p| p.exists()), "dry run deleted something");

    let run = xtask_json(t.path(), &["backup", "prune"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!made[0].exists() && !made[1].exists());
    assert!(!Path::new(&format!("{}.sha256", made[0].display())).exists());
    assert!(made[2].exists(), "newest verified backup deleted");
    assert!(made[3].exists());
}

#[test]
fn prune_deletes_nothing_when_nothing_verifies() {
    let t = sample_tree();
    let (p, _) = backup(t.path());
    let old = age(&p, 30, 1);
    fs::write(&old, b"garbage").unwrap();
    let run = xtask_json(t.path(), &["backup", "prune"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("no-verified-backup"));
    assert!(old.exists());
}

#[test]
fn plain_backup_runs_every_kind_then_prunes() {
    let t = sample_tree();
    write(
        t.path(),
        "maintenance.toml",
        "[backup.retention]\nkeep_last = 1\n",
    );
    let (p, _) = backup(t.path());
    let old = age(&p, 30, 1);
    let (p, _) = backup(t.path());
    let _older = age(&p, 31, 2);
    let run = xtask_json(t.path(), &["backup"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(v["backup_config"]["files"], 8, "{v:#}");
    assert_eq!(
        v["backup_prune"]["deleted"].as_array().unwrap().len(),
        2,
        "{v:#}"
    );
    assert!(!old.exists());
    let list = xtask_json(t.path(), &["backup", "list"]).json();
    assert_eq!(list["backups"].as_array().unwrap().len(), 1);
}

#[test]
fn second_concurrent_run_is_refused_by_the_lock() {
    let t = sample_tree();
    let lock_path = t.path().join("backups/.xtask.lock");
    let f = hold_lock(&lock_path, "`backup` (pid 1, user test, since now)");
    let run = xtask(t.path(), &["backup", "config"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("locked by `backup` (pid 1"),
        "{}",
        run.stderr
    );
    drop(f);
    assert_eq!(xtask(t.path(), &["backup", "config"]).code, 0);
}

#[test]
fn killed_runs_never_leave_a_valid_looking_backup() {
    let t = sample_tree();
    // Enough data that the run takes a while.
    let chunk: String = (0..200_000u32)
        .map(|i| format!("{:x}", i.wrapping_mul(2654435761)))
        .collect();
    for i in 0..20 {
        write(t.path(), &format!("config/data{i}.yml"), &chunk);
    }
    // A complete backup made before the kills: every listing below must still show it, so
    // the checks of what is listed never pass on an empty list.
    let (done, _) = backup(t.path());
    for delay_ms in [5u64, 20, 40, 80, 120] {
        let mut child = bin()
            .arg("--root")
            .arg(t.path())
            .args(["backup", "config"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let list = xtask_json(t.path(), &["backup", "list"]).json();
        let rows = list["backups"].as_array().unwrap();
        assert!(
            rows.iter().any(|r| r["path"] == done.to_str().unwrap()),
            "delay {delay_ms}: the complete backup is not listed: {list:#}"
        );
        for row in rows {
            let path = row["path"].as_str().unwrap();
            // Whatever is listed must be complete: checksum ok and verify clean.
            assert_eq!(
                row["checksum"], "ok",
                "delay {delay_ms} ({status:?}): {row:#}"
            );
            assert_eq!(xtask(t.path(), &["backup", "verify", path]).code, 0);
        }
    }
    // The next run succeeds and cleans up what the killed ones left.
    let run = xtask(t.path(), &["backup", "config"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let leftovers = tmp_leftovers(&t.path().join("backups/pipeline"));
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn empty_tree_is_a_finding_not_an_empty_archive() {
    let t = tempfile::tempdir().unwrap();
    let run = xtask(t.path(), &["backup", "config"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("pipeline-empty"));
    assert!(
        !t.path().join("backups/pipeline").exists()
            || snapshot(&t.path().join("backups/pipeline")).len() <= 1
    );
}

/// `backup` shows one labelled block per kind, each with its own `sha256:` line.
#[test]
fn plain_backup_prints_one_labelled_block_per_kind() {
    let t = sample_tree();
    default_database(
        t.path(),
        "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('x');",
    );
    let run = xtask(t.path(), &["backup"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // Blocks are separated by blank lines and start with their label.
    let blocks: Vec<Vec<&str>> = run
        .stdout
        .split("\n\n")
        .map(|b| b.lines().collect())
        .collect();
    let block = |label: &str| {
        blocks
            .iter()
            .find(|b| b.first() == Some(&label))
            .unwrap_or_else(|| panic!("no `{label}` block: {}", run.stdout))
    };
    let sha_lines = |b: &Vec<&str>| {
        b.iter()
            .filter(|l| l.trim_start().starts_with("sha256: "))
            .count()
    };
    let config = block("config backup");
    assert_eq!(sha_lines(config), 1, "{config:?}");
    assert!(
        config
            .iter()
            .any(|l| l.trim_start() == "secrets left out: 3"),
        "{config:?}"
    );
    let database = block("database backup");
    assert_eq!(sha_lines(database), 1, "{database:?}");
    assert!(
        database
            .iter()
            .any(|l| l.trim_start() == "check: integrity_check: ok"),
        "{database:?}"
    );
    let retention = block("retention");
    assert_eq!(
        retention[1..],
        ["  config: 1 kept, 0 deleted", "      db: 1 kept, 0 deleted"]
    );
    // Nowhere else: no unlabelled sha256 line before the first block.
    assert!(
        blocks[0].first() == Some(&"config backup"),
        "{}",
        run.stdout
    );
}

/// The runbook's default pipeline paths are optional: one that does not exist is not
/// reported; a path the user added that matches nothing is.
#[test]
fn only_configured_pipeline_paths_are_reported_missing() {
    let t = sample_tree();
    // The sample tree has neither azure-pipelines.yml nor .trivyignore (both defaults).
    let (_, v) = backup(t.path());
    let missing = findings_with_code(&v, "pipeline-path-missing");
    assert!(missing.is_empty(), "{missing:?}");
    write(
        t.path(),
        "maintenance.toml",
        "[pipeline]\npaths = [\".github/workflows\", \"azure-pipelines.yml\", \"ci/jenkins\"]\n",
    );
    let run = xtask(t.path(), &["backup", "config"]);
    assert_eq!(
        run.code, 1,
        "medium fails a backup: {}{}",
        run.stdout, run.stderr
    );
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("pipeline-path-missing"))
        .collect();
    assert_eq!(
        lines,
        [
            "medium[pipeline-path-missing]: `ci/jenkins` (pipeline.paths) matched nothing under the root"
        ]
    );
}
