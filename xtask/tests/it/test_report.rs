//! `tests report` on JUnit XML written by pytest (committed fixtures, and a fresh run when
//! pytest is installed): failures, errors and skips; three runs with a flaky test.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::coverage::python_tools;
use crate::support::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit")
}

fn report(root: &Path, args: &[&str]) -> Run {
    let mut argv = vec!["--format", "json", "tests", "report"];
    argv.extend(args);
    xtask(root, &argv)
}

fn codes(v: &serde_json::Value) -> Vec<(String, String)> {
    findings(v)
        .iter()
        .map(|f| {
            let id = message_of(f).split(' ').next().unwrap();
            (f["code"].as_str().unwrap().to_string(), id.to_string())
        })
        .collect()
}

/// The finding about the test `id` (its message starts with the id).
fn finding_about<'a>(v: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    findings(v)
        .iter()
        .find(|f| message_of(f).starts_with(id))
        .unwrap_or_else(|| panic!("no finding about {id}: {v:#}"))
}

/// `tests report PATH` of a fixture with failures: it exits 1; its JSON report.
fn failing_report(root: &Path, path: &Path) -> serde_json::Value {
    let r = report(root, &[path.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    r.json()
}

/// The counts a JUnit file's writer put on its `<testsuite>`.
fn suite_counts(xml: &str) -> [u64; 4] {
    let attr = |name: &str| -> u64 {
        let at = xml.find("<testsuite ").unwrap();
        let rest = &xml[at..];
        let v = rest.split(&format!(" {name}=\"")).nth(1).unwrap();
        v.split('"').next().unwrap().parse().unwrap()
    };
    [
        attr("tests"),
        attr("failures"),
        attr("errors"),
        attr("skipped"),
    ]
}

fn totals(v: &serde_json::Value) -> [u64; 4] {
    let t = &v["totals"];
    ["tests", "failures", "errors", "skipped"].map(|k| t[k].as_u64().unwrap())
}

#[test]
fn pytest_failures_errors_and_skips() {
    let t = tempfile::tempdir().unwrap();
    let f = fixtures().join("pytest-failures.xml");
    let v = failing_report(t.path(), &f);
    let xml = std::fs::read_to_string(&f).unwrap();
    assert_eq!(totals(&v), suite_counts(&xml));
    assert_eq!(totals(&v), [9, 3, 2, 2]);
    assert_eq!(v["totals"]["passed"], 2);
    assert_eq!(v["totals"]["time"], 0.159);
    let got = codes(&v);
    let want = [
        ("test-failed", "test_x.TestK::test_p[2]"),
        ("test-error", "test_x::test_error"),
        ("test-failed", "test_x::test_fail"),
        ("test-failed", "test_x::test_fail_and_teardown"),
        ("test-error", "test_x::test_fail_and_teardown"),
    ];
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (c, id) in want {
        assert!(
            got.contains(&(c.to_string(), id.to_string())),
            "{c} {id}: {got:?}"
        );
    }
    // The first line of the message; pytest's 0-based line made 1-based.
    let err = finding_about(&v, "test_x::test_error");
    assert_eq!(
        err["message"],
        "test_x::test_error errored: failed on setup with \"RuntimeError: fixture exploded"
    );
    assert_eq!(place_of(err), (Some("test_x.py"), Some(18)));
    assert_eq!(v["slowest"][0]["id"], "test_x::test_pass");
    // Human formats carry the same facts.
    let md = xtask(
        t.path(),
        &[
            "--format",
            "markdown",
            "tests",
            "report",
            f.to_str().unwrap(),
        ],
    );
    assert!(
        md.stdout
            .contains("| test_x::test_fail | failed | AssertionError: one is not two |"),
        "{}",
        md.stdout
    );
}

/// Three pytest runs on one commit; `test_sometimes` failed in the second only.
#[test]
fn three_runs_with_a_flaky_test() {
    let t = tempfile::tempdir().unwrap();
    let dir = fixtures().join("flaky");
    let v = failing_report(t.path(), &dir);
    assert_eq!(totals(&v), [9, 4, 0, 0]);
    let flaky = finding_with_code(&v, "test-flaky");
    assert_eq!(
        flaky["message"],
        "tests.test_api::test_sometimes is flaky: failed 1 and passed 2 time(s) in 3 run(s), on the same commit 9f2c1e7"
    );
    assert_eq!(
        (flaky["passed"].as_u64(), flaky["failed"].as_u64()),
        (Some(2), Some(1))
    );
    // It passed in the newest run: not a failure now. The broken test is.
    assert_eq!(
        codes(&v),
        [
            (
                "test-failed".to_string(),
                "tests.test_api::test_always_broken".to_string()
            ),
            (
                "test-flaky".to_string(),
                "tests.test_api::test_sometimes".to_string()
            ),
        ]
    );
    let runs = strings_of(&v["runs"], "file");
    assert_eq!(runs.len(), 3);
    assert!(
        runs[0].ends_with("run-1.xml") && runs[2].ends_with("run-3.xml"),
        "{runs:?}"
    );
    let trend = &v["trend"];
    assert_eq!(trend["runs_before"], 2);
    assert!(trend["latest"].as_f64().unwrap() > trend["median_before"].as_f64().unwrap());
    // Files named in any order are ordered by their timestamps.
    let files: Vec<String> = ["run-3.xml", "run-1.xml", "run-2.xml"]
        .iter()
        .map(|n| dir.join(n).display().to_string())
        .collect();
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let v2 = report(t.path(), &args).json();
    assert_eq!(codes(&v2), codes(&v));
    // Without the failing run there is nothing flaky.
    let v3 = report(t.path(), &[&files[0], &files[1]]).json();
    assert!(v3["flaky"].as_array().unwrap().is_empty(), "{v3:#}");
}

#[test]
fn junit_files_are_found_and_other_xml_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let r = xtask(d, &["tests", "report"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("pytest --junitxml"), "{}", r.stderr);
    let cov = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/coverage/coverage.xml");
    let r = xtask(d, &["tests", "report", cov.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("coverage.xml") && r.stderr.contains("not a JUnit report"),
        "{}",
        r.stderr
    );
    // A folder of CI artifacts: the coverage report in it is skipped, not an error.
    std::fs::create_dir_all(d.join("artifacts")).unwrap();
    std::fs::copy(&cov, d.join("artifacts/coverage.xml")).unwrap();
    std::fs::copy(
        fixtures().join("pytest-failures.xml"),
        d.join("artifacts/results.xml"),
    )
    .unwrap();
    let v = report(d, &["artifacts"]).json();
    assert_eq!(v["totals"]["tests"], 9);
    // Without FILE: tests.reports (junit*.xml anywhere).
    write(
        d,
        "build/junit.xml",
        &std::fs::read_to_string(fixtures().join("flaky/run-1.xml")).unwrap(),
    );
    let v = report(d, &[]).json();
    assert_eq!(v["runs"][0]["file"], "build/junit.xml");
    let xml = std::fs::read_to_string(fixtures().join("pytest-failures.xml")).unwrap();
    write(d, "cut.xml", &xml[..xml.len() / 2]);
    let r = xtask(d, &["tests", "report", "cut.xml"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cut.xml"), "{}", r.stderr);
}

/// A fresh pytest run: our totals are pytest's own.
#[test]
fn fresh_pytest_run_totals_equal_pytests() {
    if !python_tools(&["pytest"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(
        d,
        "test_mix.py",
        "import pytest\n\n\n@pytest.fixture\ndef broken():\n    raise OSError('disk gone')\n\n\ndef test_ok():\n    pass\n\n\ndef test_bad():\n    assert [1] == [2], 'lists differ'\n\n\ndef test_err(broken):\n    pass\n\n\n@pytest.mark.skip(reason='later')\ndef test_skip():\n    pass\n\n\n@pytest.mark.parametrize('x', [1, 2, 3])\ndef test_param(x):\n    assert x != 2\n",
    );
    let out = Command::new("pytest")
        .args(["-q", "-p", "no:cacheprovider", "--junitxml=junit.xml"])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let xml = std::fs::read_to_string(d.join("junit.xml")).unwrap();
    let v = report(d, &[]).json();
    assert_eq!(totals(&v), suite_counts(&xml));
    assert_eq!(totals(&v), [7, 2, 1, 1]);
    let got = codes(&v);
    assert!(
        got.contains(&("test-failed".into(), "test_mix::test_param[2]".into())),
        "{got:?}"
    );
    assert!(
        got.contains(&("test-error".into(), "test_mix::test_err".into())),
        "{got:?}"
    );
    let bad = finding_about(&v, "test_mix::test_bad");
    assert_eq!(
        bad["message"],
        "test_mix::test_bad failed: AssertionError: lists differ"
    );
}
