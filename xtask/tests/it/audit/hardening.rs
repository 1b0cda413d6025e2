//! Hostile and damaged advisory sources.

use std::fs;

use super::{cargo_lock_v3, ids};
use crate::support::*;

/// The `advisory-malformed` findings of a JSON report, as "path: message".
fn malformed(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "advisory-malformed")
        .map(|f| format!("{}: {} ({})", f["path"], f["message"], f["severity"]))
        .collect()
}

// --- the cache never gets stuck ---------------------------------------------------------

#[test]
fn a_change_inside_a_package_folder_rebuilds_the_index_instead_of_failing_forever() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(r, "requirements.txt", "requests==2.30.0\n");
    write(
        r,
        "plain/vulns/requests/PYSEC-2099-1.yaml",
        "id: PYSEC-2099-1\nsummary: leak\nmodified: \"2099-01-04T00:00:00Z\"\naffected:\n- package:\n    name: requests\n    ecosystem: PyPI\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: \"0\"\n    - fixed: 2.31.0\n",
    );
    let cache = r.join("cache");
    let env = [("XTASK_ADVISORY_CACHE", cache.to_str().unwrap())];
    let args = [
        "--format",
        "json",
        "audit",
        "requirements.txt",
        "--db",
        "plain",
        "--allow-stale",
    ];
    let run = || xtask_env(r, &env, &args);
    let first = run();
    assert_eq!(first.code, 1, "{}{}", first.stdout, first.stderr);
    let want = ids(&first.json());
    assert_eq!(want.len(), 1);
    // A file added to the package's folder, then removed: the folder's times changed.
    let extra = write(r, "plain/vulns/requests/notes.txt", "x");
    fs::remove_file(extra).unwrap();
    for n in 0..2 {
        let again = run();
        assert_eq!(again.code, 1, "run {n}: {}{}", again.stdout, again.stderr);
        assert_eq!(ids(&again.json()), want);
    }
    let last = run().json();
    assert_eq!(last["databases"][0]["index"], "reused", "{last:#}");
}

// --- unreadable advisories of audited packages -------------------------------------------

#[test]
fn an_unreadable_advisory_of_an_audited_package_makes_the_audit_incomplete() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(
        r,
        "Cargo.lock",
        &cargo_lock_v3()
            .replace("\"foo 1.0.0\"", "\"foo 1.2.3\"")
            .replace("version = \"1.0.0\"", "version = \"1.2.3\""),
    );
    let args = |db: &str| {
        [
            "--format",
            "json",
            "audit",
            "Cargo.lock",
            "--allow-stale",
            "--db",
            db,
        ]
        .map(str::to_string)
    };
    let audit = |db: &str| {
        let a = args(db);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        xtask(r, &a)
    };
    // A package not audited: a low warning, the audit passes.
    write(
        r,
        "other/crates/quux/RUSTSEC-2099-0301.md",
        "no front matter\n",
    );
    let run = audit("other");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let m = malformed(&run.json());
    assert!(m.len() == 1 && m[0].contains("\"low\""), "{m:?}");

    // foo is audited: its advisory could say anything, so the audit is incomplete.
    for (db, file, content) in [
        (
            "native",
            "crates/foo/RUSTSEC-2099-0302.md",
            "no front matter\n",
        ),
        (
            "flat",
            "crates/RUSTSEC-2099-0303.json",
            r#"{"id":"RUSTSEC-2099-0303","affected":[{"package":{"ecosystem":"crates.io","name":"foo"},"ranges":"not a list"}]}"#,
        ),
        ("unknown", "crates/RUSTSEC-2099-0304.json", "{ not json"),
    ] {
        write(r, &format!("{db}/{file}"), content);
        let run = audit(db);
        assert_eq!(run.code, 2, "{db}: {}{}", run.stdout, run.stderr);
        let m = malformed(&run.json());
        assert!(m.len() == 1 && m[0].contains("\"high\""), "{db}: {m:?}");
    }
}
