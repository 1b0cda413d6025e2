//! The CLI frame: help, config, errors and exit codes.

use crate::support::*;

#[test]
fn help_lists_every_command() {
    let out = bin().arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for cmd in ["backup", "restore", "config", "bench"] {
        assert!(
            help.contains(&format!("  {cmd}")),
            "{cmd} missing from:\n{help}"
        );
    }
    assert!(help.contains("--root") && help.contains("--format") && help.contains("--quiet"));
}

#[test]
fn unknown_config_key_is_a_tool_failure_naming_key_and_line() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "maintenance.toml",
        "[backup]\ndir = \"b\"\nretension = 3\n",
    );
    let run = xtask(t.path(), &["config", "show"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("maintenance.toml"), "{}", run.stderr);
    assert!(
        run.stderr.contains("retension") && run.stderr.contains("line 3"),
        "{}",
        run.stderr
    );
}

#[test]
fn config_init_writes_an_example_that_show_accepts() {
    let t = tempfile::tempdir().unwrap();
    assert_eq!(xtask(t.path(), &["config", "init"]).code, 0);
    assert!(t.path().join("maintenance.toml").exists());
    let again = xtask(t.path(), &["config", "init"]);
    assert_eq!(again.code, 2, "refuses to overwrite");
    let v = xtask(t.path(), &["--format", "json", "config", "show"]).json();
    assert_eq!(v["config"]["backup"]["retention"]["keep_days"], 7);
    assert_eq!(
        v["config"]["database"]["path"],
        "ai_knowledge_hub/knowledge_hub.db"
    );
}

#[test]
fn markdown_and_output_file() {
    let t = sample_tree();
    let out = t.path().join("report.md");
    let run = xtask(
        t.path(),
        &[
            "--format",
            "markdown",
            "--output",
            out.to_str().unwrap(),
            "backup",
            "config",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let md = std::fs::read_to_string(out).unwrap();
    assert!(md.starts_with("## cargo xtask backup config"), "{md}");
    assert!(md.contains("| info | `secret-excluded` |"), "{md}");
}

#[test]
fn quiet_prints_nothing_when_clean() {
    let t = sample_tree();
    let run = xtask(t.path(), &["-q", "backup", "config"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout, "");
}

#[test]
fn missing_root_is_a_clear_error() {
    let run = bin()
        .args(["--root", "/nonexistent/xyz", "backup", "list"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("/nonexistent/xyz"));
}

/// `--output` replaces only a regular file (keeping its mode); a link, directory or FIFO at
/// the path is refused and left as it was, with no temporary file behind.
#[test]
fn output_replaces_only_regular_files_and_keeps_their_mode() {
    use std::os::unix::fs::PermissionsExt;
    let t = sample_tree();
    let out_dir = tempfile::tempdir().unwrap();
    let run_to = |p: &std::path::Path| {
        xtask(
            t.path(),
            &[
                "--format",
                "json",
                "--output",
                p.to_str().unwrap(),
                "config",
                "show",
            ],
        )
    };

    let private = out_dir.path().join("private.json");
    std::fs::write(&private, "old").unwrap();
    chmod(&private, 0o600);
    let r = run_to(&private);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "an existing file's mode is kept");
    assert!(
        std::fs::read_to_string(&private)
            .unwrap()
            .contains("\"config\"")
    );

    let target = out_dir.path().join("target.txt");
    std::fs::write(&target, "keep me").unwrap();
    let link = out_dir.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let r = run_to(&link);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("symbolic link"), "{}", r.stderr);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");

    let dir = out_dir.path().join("a-dir");
    std::fs::create_dir(&dir).unwrap();
    let r = run_to(&dir);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("directory"), "{}", r.stderr);

    let fifo = out_dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let r = run_to(&fifo);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("FIFO"), "{}", r.stderr);
    assert!(
        tmp_leftovers(out_dir.path()).is_empty(),
        "{:?}",
        tmp_leftovers(out_dir.path())
    );
    assert!(tmp_leftovers(&dir).is_empty());
}

/// A database password never reaches output or the audit log, whatever characters it holds
/// (`/`, `?`, `#` used to end the password early and leak it), parsed or not.
#[test]
fn database_passwords_are_redacted_everywhere() {
    let t = tempfile::tempdir().unwrap();
    for (url, secret) in [
        ("postgres://app:pa/ss?wo#rd@127.0.0.1:1/hub", "pa/ss?wo#rd"),
        ("postgres://app:s3cr%40t-pw@127.0.0.1:1/hub", "s3cr"),
    ] {
        let arg = format!("--database={url}");
        let r = xtask(t.path(), &["backup", "db", &arg]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        for (what, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
            assert!(!text.contains(secret), "{what} leaks the password: {text}");
        }
        assert!(r.stderr.contains("127.0.0.1"), "{}", r.stderr);
    }
    let log = std::fs::read_to_string(t.path().join("backups/audit.log")).unwrap();
    assert_eq!(log.lines().count(), 2, "{log}");
    assert!(
        !log.contains("pa/ss") && !log.contains("wo#rd") && !log.contains("s3cr"),
        "{log}"
    );
    assert!(log.contains("app:***@127.0.0.1"), "{log}");
}

/// The installed binary (`cargo install --path xtask`) runs against a tree elsewhere, from
/// any directory: `--root DIR`, or `XTASK_ROOT` (what cron and systemd use); `--root` wins.
#[test]
fn runs_against_a_tree_elsewhere_by_root_or_xtask_root() {
    let t = sample_tree();
    let other = sample_tree();
    let cwd = tempfile::tempdir().unwrap();
    let archive_of = |run: Run| -> std::path::PathBuf {
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        run.json()["archive"].as_str().unwrap().into()
    };
    let store = t.path().canonicalize().unwrap().join("backups/pipeline");
    let by_root = bin()
        .current_dir(cwd.path())
        .arg("--root")
        .arg(t.path())
        .args(["--format", "json", "backup", "config"])
        .output()
        .unwrap();
    assert_eq!(archive_of(by_root.into()).parent().unwrap(), store);
    let by_env = bin()
        .current_dir(cwd.path())
        .env("XTASK_ROOT", t.path())
        .args(["--format", "json", "backup", "config"])
        .output()
        .unwrap();
    assert_eq!(archive_of(by_env.into()).parent().unwrap(), store);
    let both = bin()
        .current_dir(cwd.path())
        .env("XTASK_ROOT", other.path())
        .arg("--root")
        .arg(t.path())
        .args(["--format", "json", "backup", "config"])
        .output()
        .unwrap();
    assert_eq!(archive_of(both.into()).parent().unwrap(), store);
    assert!(!other.path().join("backups").exists(), "--root wins");
    assert!(
        snapshot(cwd.path()) == [""],
        "nothing written in the working directory"
    );
    let missing = bin()
        .current_dir(cwd.path())
        .env("XTASK_ROOT", "/nonexistent/tree")
        .args(["backup", "list"])
        .output()
        .unwrap();
    let missing: Run = missing.into();
    assert_eq!(missing.code, 2);
    assert_eq!(
        missing.stderr,
        "error: --root /nonexistent/tree: no such directory: No such file or directory (os error 2)\n"
    );
}

/// `--version`: the version and the commit the binary was built from (`unknown` when it
/// was built without git).
#[test]
fn version_names_the_commit_it_was_built_from() {
    let run: Run = bin().arg("--version").output().unwrap().into();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".to_string(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        });
    assert_eq!(
        run.stdout,
        format!(
            "cargo xtask {} (commit {commit})\n",
            env!("CARGO_PKG_VERSION")
        )
    );
}

/// Completion scripts need no tree; `--help` lists the commands by the runbook's cadence.
#[test]
fn completions_and_help_by_cadence() {
    for (shell, marker) in [
        ("bash", "complete -F _xtask"),
        ("zsh", "#compdef xtask"),
        ("fish", "complete -c xtask"),
    ] {
        let run: Run = bin()
            .args(["--root", "/nonexistent/tree", "completions", shell])
            .output()
            .unwrap()
            .into();
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(run.stdout.contains(marker), "{shell}: {}", run.stdout);
        assert!(run.stdout.contains("advisories"), "{shell}");
    }
    let help = String::from_utf8(bin().arg("--help").output().unwrap().stdout).unwrap();
    let cadences: Vec<&str> = help
        .lines()
        .filter_map(|l| l.strip_prefix("  ")?.split_whitespace().next())
        .filter(|w| ["daily", "weekly", "monthly", "quarterly", "DR"].contains(w))
        .collect();
    assert_eq!(
        cadences,
        ["daily", "weekly", "monthly", "quarterly", "DR"],
        "{help}"
    );
}
