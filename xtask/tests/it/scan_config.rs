//! `scan-config check`: .trivyignore, bandit.yaml / .bandit and `[audit] ignore`, each
//! problem at its line; expiry dates computed from today.

use chrono::{Duration, Utc};

use crate::support::*;

fn lines_of(v: &serde_json::Value, code: &str) -> Vec<(String, u64)> {
    findings_with_code(v, code)
        .into_iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn the_runbooks_own_examples_are_clean() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        ".trivyignore",
        "# Ignore specific vulnerabilities with justification\nCVE-2023-12345  # False positive in development dependencies\n",
    );
    write(
        t.path(),
        "bandit.yaml",
        "skips: ['B101']  # Skip test-related assert statements\nexclude_dirs: ['tests', 'venv']\n",
    );
    let run = xtask_json(t.path(), &["scan-config", "check", "--fail-on", "info"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(v["findings"], serde_json::json!([]));
    assert_eq!(v["files"][0]["entries"], 1);
}

#[test]
fn every_exception_needs_a_reason_and_expires() {
    let t = tempfile::tempdir().unwrap();
    let past = (Utc::now() - Duration::days(1)).date_naive();
    let future = (Utc::now() + Duration::days(30)).date_naive();
    write(
        t.path(),
        ".trivyignore",
        &format!(
            "CVE-2024-0001 # no fix upstream\nCVE-2024-0002\nCVE-2024-0003 exp:{past} # fixed in the next base image\n# waiting for the vendor\nCVE-2024-0004 exp:{future}\n"
        ),
    );
    write(
        t.path(),
        "bandit.yaml",
        "skips:\n  - B101 # asserts only in tests\n  - B603\nexclude_dirs:\n  - tests\n  - app/payments\n",
    );
    write(
        t.path(),
        "maintenance.toml",
        &format!(
            "[audit]\nignore = [\n  {{ id = \"RUSTSEC-2023-0071\", reason = \"no RSA decryption\", until = \"{past}\" }},\n  {{ id = \"CVE-2024-1\", reason = \"not reachable\", until = \"{future}\" }},\n]\n"
        ),
    );
    let run = xtask_json(t.path(), &["scan-config", "check"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let v = run.json();
    assert_eq!(
        lines_of(&v, "exception-unjustified"),
        vec![(".trivyignore".into(), 2), ("bandit.yaml".into(), 3)]
    );
    assert_eq!(
        lines_of(&v, "exception-expired"),
        vec![(".trivyignore".into(), 3), ("maintenance.toml".into(), 3)]
    );
    assert_eq!(
        lines_of(&v, "scan-excludes-code"),
        vec![("bandit.yaml".into(), 6)]
    );
    let md = xtask(t.path(), &["--format", "markdown", "scan-config", "check"]).stdout;
    assert!(md.contains("| medium | `exception-unjustified` |"), "{md}");
}

#[test]
fn bandit_ini_needs_a_comment_above_skips() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        ".bandit",
        "[bandit]\nskips = B404,B603\nexclude = ./venv,./src\n",
    );
    let v = xtask_json(t.path(), &["scan-config", "check"]).json();
    assert_eq!(
        lines_of(&v, "exception-unjustified"),
        vec![(".bandit".into(), 2), (".bandit".into(), 2)]
    );
    assert_eq!(
        lines_of(&v, "scan-excludes-code"),
        vec![(".bandit".into(), 3)]
    );
}
