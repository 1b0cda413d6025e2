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
