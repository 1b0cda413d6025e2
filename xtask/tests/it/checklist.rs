//! `checklist`: the runbook's lists item by item, their commands run in-process into one
//! report (file, job summary, stdout), manual items as boxes.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::support::*;

/// The runbook's weekly list, word for word (Dependency Management's three commands by
/// their comments), in its order.
const WEEKLY: [&str; 11] = [
    "Update Python dependencies",
    "Check for outdated packages",
    "Update requirements files",
    "Analyze build times",
    "Review test execution duration",
    "Check cache hit rates",
    "Optimize slow stages",
    "Review security scan results",
    "Update base Docker images",
    "Check for new security advisories",
    "Validate secret rotation schedule",
];

fn checklist(root: &Path, cadence: &str, env: &[(&str, &str)]) -> Run {
    let mut c = bin();
    c.arg("--root")
        .arg(root)
        .args(["--format", "json", "checklist", cadence]);
    // Nothing here may leave the machine: enrichment services point at a closed local port.
    c.env("XTASK_EOL_API", "http://127.0.0.1:9")
        .env("XTASK_GITHUB_API", "http://127.0.0.1:9")
        .env("XTASK_PYPI_URL", "http://127.0.0.1:9/pypi");
    let outside = std::env::temp_dir().join(format!("xtask-checklist-{}", std::process::id()));
    c.env("XTASK_ADVISORY_CACHE", outside.join("advisories"))
        .env("XTASK_HTTP_CACHE", root.join("../http-cache"));
    c.env_remove("XTASK_ADVISORY_DB")
        .env_remove("GITHUB_STEP_SUMMARY");
    // `deps lock --check` checks offline when no compiler is on PATH (uv would ask PyPI).
    c.env("PATH", path_without(&["uv", "pip-compile"]));
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap().into()
}

/// PATH without the folders that hold one of `programs`.
fn path_without(programs: &[&str]) -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| !programs.iter().any(|p| d.join(p).is_file()))
        .collect();
    std::env::join_paths(kept).unwrap().into_string().unwrap()
}

fn items(v: &Value) -> &Vec<Value> {
    v["items"].as_array().unwrap()
}

fn item<'a>(v: &'a Value, name: &str) -> &'a Value {
    items(v)
        .iter()
        .find(|i| i["item"] == name)
        .unwrap_or_else(|| panic!("no item `{name}` in {v:#}"))
}

/// What the `n`th command of an item found, in a few words.
fn figure(i: &Value, n: usize) -> &str {
    i["runs"][n]["figure"].as_str().unwrap()
}

fn commands(i: &Value) -> Vec<&str> {
    strings_of(&i["runs"], "command")
}

const CLEAN_WORKFLOW: &str = "name: ci\non: [push]\npermissions:\n  contents: read\njobs:\n  test:\n    name: test\n    runs-on: ubuntu-24.04\n    timeout-minutes: 10\n    steps:\n      - run: echo ok\n";

/// A small project every checklist can look at without the network: an advisory database
/// with one PyPI advisory (foo before 1.2.0), foo pinned at `pin`, its pip-compile input, a
/// clean workflow and a passing JUnit report. In `<tmp>/project` (the path returned), the
/// HTTP cache beside it.
fn project(pin: &str) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("project");
    let r = &root;
    write(r, "maintenance.toml", "[audit]\ndb = [\"advisories\"]\n");
    write(
        r,
        "advisories/vulns/foo/PYSEC-2099-9.yaml",
        "id: PYSEC-2099-9\nsummary: foo runs code from its input\nmodified: \"2099-01-01T00:00:00Z\"\naffected:\n- package:\n    name: foo\n    ecosystem: PyPI\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: \"0\"\n    - fixed: 1.2.0\n",
    );
    let fresh = chrono::Utc::now().to_rfc3339();
    source_updated(r, "advisories", &fresh);
    write(r, "requirements.in", "foo>=1.0\n");
    write(r, "requirements.txt", &format!("foo=={pin}\n"));
    write(r, ".github/workflows/ci.yml", CLEAN_WORKFLOW);
    write(
        r,
        "junit.xml",
        r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="2" time="0.50" timestamp="2026-01-05T10:00:00">
<testcase classname="tests.test_app" name="test_a" time="0.20"/>
<testcase classname="tests.test_app" name="test_b" time="0.30"/>
</testsuite></testsuites>
"#,
    );
    (t, root)
}

/// A PyPI that knows foo 1.0.0 and 1.2.0, and its URL for XTASK_PYPI_URL.
fn fake_pypi() -> (TestServer, String) {
    let pypi = TestServer::start(Arc::new(|path: &str, _: &str| {
        if path == "/pypi/foo/json" {
            let body =
                br#"{"releases": {"1.0.0": [{"yanked": false}], "1.2.0": [{"yanked": false}]}}"#;
            (200, vec![], body.to_vec())
        } else {
            (404, vec![], b"not found".to_vec())
        }
    }));
    let url = format!("{}/pypi", pypi.url());
    (pypi, url)
}

#[test]
fn weekly_lists_every_runbook_item_runs_its_commands_and_writes_the_job_summary() {
    let (t, root) = project("1.0.0");
    let (_pypi, pypi_url) = fake_pypi();
    let summary = write(t.path(), "step-summary.md", "earlier step\n");
    let env = [
        ("XTASK_PYPI_URL", pypi_url.as_str()),
        ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
    ];
    let run = checklist(&root, "weekly", &env);
    assert_eq!(
        run.code, 1,
        "foo 1.0.0 is vulnerable: {}{}",
        run.stdout, run.stderr
    );
    let v = run.json();
    let names = strings_of(&v["items"], "item");
    assert_eq!(
        names, WEEKLY,
        "every item of the runbook's week, in its order"
    );
    for ci in ["Analyze build times", "Optimize slow stages"] {
        let i = item(&v, ci);
        assert_eq!(i["status"], "not-configured", "no CI exports: {i:#}");
        assert_eq!(i["runs"][0]["command"], "cargo xtask ci stats", "{i:#}");
    }
    {
        let i = item(&v, "Check cache hit rates");
        assert_eq!(
            (
                &i["kind"],
                &i["status"],
                i["runs"].as_array().unwrap().len()
            ),
            (&Value::from("manual"), &Value::from("unchecked"), 0),
            "{i:#}"
        );
    }
    let audit = item(&v, "Update Python dependencies");
    assert_eq!(audit["status"], "findings", "{audit:#}");
    assert_eq!(audit["kind"], "automated");
    let ran = &audit["runs"][0];
    assert_eq!(ran["command"], "cargo xtask audit");
    assert!(ran["failing"].as_u64().unwrap() >= 1, "{ran:#}");
    assert!(ran["duration_ms"].is_u64(), "{ran:#}");
    assert!(figure(audit, 0).contains("1 vulnerabilities"), "{ran:#}");
    // The same audit answers the security review's item: it ran once.
    let again = item(&v, "Check for new security advisories");
    assert_eq!(again["runs"][0]["reused"], true, "{again:#}");
    assert_eq!(again["status"], "findings");
    assert!(audit["runs"][0].get("reused").is_none());
    let vulns: Vec<&Value> = findings(&v)
        .iter()
        .filter(|f| f["id"] == "PYSEC-2099-9")
        .collect();
    assert_eq!(vulns.len(), 1, "carried once: {v:#}");
    assert_eq!(vulns[0]["checklist_item"], "Update Python dependencies");

    let secrets = item(&v, "Validate secret rotation schedule");
    assert_eq!(secrets["status"], "not-configured", "{secrets:#}");
    assert!(figure(secrets, 0).contains("[secrets.inventory]"));
    let scans = item(&v, "Review security scan results");
    assert_eq!(scans["kind"], "partly");
    assert_eq!(
        commands(scans),
        [
            "cargo xtask workflows lint",
            "cargo xtask scan-config check"
        ]
    );
    assert_eq!(scans["runs"][0]["status"], "ok");
    assert_eq!(scans["runs"][1]["status"], "not-configured");
    assert_eq!(scans["status"], "ok", "not configured does not hide an ok");
    let lock = item(&v, "Update requirements files");
    assert_eq!(commands(lock), ["cargo xtask deps lock --check"]);
    assert_eq!(lock["status"], "ok", "{lock:#}");
    let tests = item(&v, "Review test execution duration");
    assert_eq!(tests["status"], "ok");
    assert!(
        figure(tests, 0).starts_with("tests 2 (passed 2"),
        "{tests:#}"
    );
    assert_eq!(item(&v, "Check for outdated packages")["status"], "ok");

    let md = fs::read_to_string(v["report"].as_str().unwrap()).unwrap();
    for line in [
        "## cargo xtask checklist weekly",
        "| Dependency Management | Update Python dependencies | cargo xtask audit | findings |",
        "- [ ] Check cache hit rates\n",
        "- [ ] Review test execution duration: compare the duration trend",
        "- [ ] Optimize slow stages: act on the slowest steps",
    ] {
        assert!(md.contains(line), "{line}\n{md}");
    }
    assert!(
        !md.contains("- [ ] Update Python dependencies"),
        "automated: no box"
    );
    let job = fs::read_to_string(&summary).unwrap();
    let appended = job.strip_prefix("earlier step\n").expect("appended");
    assert!(
        appended.starts_with("## cargo xtask checklist weekly"),
        "{appended}"
    );
    assert!(
        appended.contains("- [ ] Check cache hit rates"),
        "{appended}"
    );
    assert!(
        appended.contains(v["report"].as_str().unwrap()),
        "{appended}"
    );
    assert!(
        !run.stderr.contains("[1/"),
        "no progress off a terminal: {}",
        run.stderr
    );

    // Fixed: every command is ok (or has nothing to look at), and so is the checklist.
    write(&root, "requirements.txt", "foo==1.2.0\n");
    let run = checklist(&root, "weekly", &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    for i in items(&v).iter().filter(|i| i["kind"] != "manual") {
        assert!(
            i["status"] == "ok" || i["status"] == "not-configured",
            "{i:#}"
        );
    }
}

#[test]
fn quarterly_runs_the_security_commands_at_fail_on_low_and_checks_coverage() {
    let (_t, root) = project("1.2.0");
    // Low: a checkout that keeps its token in .git/config in a job that uploads nothing.
    write(
        &root,
        ".github/workflows/lint.yml",
        "name: lint\non: [push]\npermissions:\n  contents: read\njobs:\n  lint:\n    name: lint\n    runs-on: ubuntu-24.04\n    timeout-minutes: 10\n    steps:\n      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n      - run: make lint\n",
    );
    let lint = xtask_json(&root, &["workflows", "lint"]);
    assert_eq!(
        lint.code, 0,
        "below the lint's own threshold: {}",
        lint.stdout
    );
    finding_with_code(&lint.json(), "artipacked");

    let run = checklist(&root, "quarterly", &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let posture = item(&v, "Security posture assessment");
    assert_eq!(
        commands(posture),
        [
            "cargo xtask audit --fail-on low --deny unmaintained,unsound",
            "cargo xtask workflows lint --fail-on low",
            "cargo xtask secrets check --fail-on low",
            "cargo xtask scan-config check --fail-on low",
        ]
    );
    assert_eq!(posture["runs"][0]["status"], "ok", "{posture:#}");
    assert_eq!(posture["runs"][1]["status"], "findings", "{posture:#}");
    assert_eq!(posture["status"], "findings");
    assert_eq!(
        finding_with_code(&v, "artipacked")["checklist_item"],
        "Security posture assessment"
    );
    let coverage = item(&v, "Test coverage analysis");
    assert_eq!(coverage["status"], "not-configured", "{coverage:#}");
    assert!(
        figure(coverage, 0).contains("no coverage report"),
        "{coverage:#}"
    );

    // A coverage report below the runbook's 80%.
    write(
        &root,
        "lcov.info",
        "SF:app.py\nDA:1,1\nDA:2,0\nDA:3,1\nDA:4,0\nend_of_record\n",
    );
    let v = checklist(&root, "quarterly", &[]).json();
    let coverage = item(&v, "Test coverage analysis");
    assert_eq!(coverage["status"], "findings", "{coverage:#}");
    assert_eq!(commands(coverage), ["cargo xtask coverage check"]);
    let figure = figure(coverage, 0);
    assert!(figure.contains("lcov.info: 50"), "{figure}");
    finding_with_code(&v, "coverage-below-threshold");
}

#[test]
fn daily_verifies_test_results_only_when_there_are_some() {
    let (_t, root) = project("1.2.0");
    assert_eq!(xtask(&root, &["backup", "config"]).code, 0);
    fs::remove_file(root.join("junit.xml")).unwrap();
    let run = checklist(&root, "daily", &[]);
    assert_eq!(
        run.code, 0,
        "nothing to look at is no failure: {}",
        run.stdout
    );
    let v = run.json();
    let tests = item(&v, "Test result verification");
    assert_eq!(tests["status"], "not-configured", "{tests:#}");
    assert_eq!(
        item(&v, "Deployment status checks")["status"],
        "not-configured"
    );
    assert_eq!(
        item(&v, "Check resource utilization")["status"],
        "unchecked"
    );
    // Without GitHub Actions exports, the CI items have nothing to look at.
    for ci in [
        "Pipeline execution monitoring",
        "Review failed builds",
        "Monitor pipeline performance metrics",
    ] {
        assert_eq!(item(&v, ci)["status"], "not-configured", "{ci}");
    }

    write(
        &root,
        "reports/junit-unit.xml",
        r#"<testsuite name="pytest" tests="2" failures="1" errors="0" skipped="0" time="1.0">
<testcase classname="tests.test_app" name="test_ok" time="0.5"/>
<testcase classname="tests.test_app" name="test_broken" time="0.5"><failure message="assert 1 == 2">trace</failure></testcase>
</testsuite>
"#,
    );
    let run = checklist(&root, "daily", &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let v = run.json();
    assert_eq!(item(&v, "Test result verification")["status"], "findings");
    let f = finding_with_code(&v, "test-failed");
    assert_eq!(f["checklist_item"], "Test result verification");
}

#[test]
fn monthly_runs_a_restore_drill_and_writes_one_report() {
    let (_t, root) = project("1.2.0");
    default_database(&root, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
    assert_eq!(xtask(&root, &["backup"]).code, 0);
    let before = snapshot(&root);

    let (_pypi, pypi_url) = fake_pypi();
    let run = checklist(&root, "monthly", &[("XTASK_PYPI_URL", &pypi_url)]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(items(&v).len(), 8, "the runbook's month: {v:#}");
    let dr = item(&v, "Review disaster recovery procedures");
    assert_eq!(dr["kind"], "partly");
    assert_eq!(dr["status"], "ok", "{dr:#}");
    assert_eq!(
        commands(dr),
        [
            "cargo xtask backup verify --all",
            "cargo xtask restore config|db latest --to (a scratch folder, removed after)"
        ]
    );
    let drill = figure(dr, 1);
    assert!(
        drill.contains("pipeline configuration: restored") && drill.contains("database: restored"),
        "{drill}"
    );
    assert_eq!(
        item(&v, "Update CI/CD tools and actions")["runs"][0]["reused"],
        true,
        "outdated --all ran once for two items"
    );
    let report = v["report"].as_str().unwrap();
    let md = fs::read_to_string(report).unwrap();
    assert!(md.starts_with("## cargo xtask checklist monthly"), "{md}");
    for manual in [
        "Performance benchmarking",
        "Update maintenance procedures",
        "Review and update runbooks",
        "Update deployment documentation",
    ] {
        assert!(md.contains(&format!("- [ ] {manual}\n")), "{md}");
    }
    // The drill wrote only its report (and the audit trail); the scratch folder is gone.
    let after: Vec<String> = snapshot(&root)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert!(
        after.iter().all(|p| p.starts_with("backups/reports")),
        "{after:?}"
    );
}

#[test]
fn an_item_that_cannot_run_fails_the_checklist_but_not_the_others() {
    let (_t, root) = project("1.2.0");
    // No advisory database anywhere: the audit fails, the other commands still run.
    write(&root, "maintenance.toml", "");
    let (_pypi, pypi_url) = fake_pypi();
    let run = checklist(&root, "weekly", &[("XTASK_PYPI_URL", &pypi_url)]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let failed = findings_with_code(&v, "checklist-item-failed");
    assert_eq!(failed.len(), 1, "the audit ran (and failed) once: {v:#}");
    assert!(
        message_of(failed[0]).contains("advisories update"),
        "{:#}",
        failed[0]
    );
    let audit = item(&v, "Update Python dependencies");
    assert_eq!(audit["status"], "failed");
    assert!(figure(audit, 0).starts_with("could not run: "), "{audit:#}");
    assert_eq!(
        item(&v, "Check for new security advisories")["status"],
        "failed"
    );
    assert_eq!(item(&v, "Check for outdated packages")["status"], "ok");
    assert!(
        fs::read_to_string(v["report"].as_str().unwrap())
            .unwrap()
            .contains("checklist-item-failed")
    );
}

#[test]
fn daily_checks_backups_and_every_environment() {
    let (_t, root) = project("1.2.0");
    write(
        &root,
        "maintenance.toml",
        "[deploy.environments.staging]\n[deploy.environments.production]\n",
    );
    let run = checklist(&root, "daily", &[]);
    assert_eq!(run.code, 1, "no backup yet: verify fails");
    assert_eq!(
        item(&run.json(), "Verify the newest backups")["status"],
        "failed"
    );
    assert_eq!(xtask(&root, &["backup", "config"]).code, 0);
    let run = checklist(&root, "daily", &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let status = item(&v, "Deployment status checks");
    assert_eq!(
        commands(status),
        [
            "cargo xtask releases production",
            "cargo xtask releases staging"
        ]
    );
    assert_eq!(status["status"], "ok");
}

#[test]
fn findings_that_need_attention_fail_the_checklist_and_rows_name_their_environment() {
    let (_t, root) = project("1.2.0");
    write(
        &root,
        "maintenance.toml",
        "[deploy.environments.staging]\n[deploy.environments.production]\n",
    );
    assert_eq!(xtask(&root, &["backup", "config"]).code, 0);
    // A torn ledger line: a medium finding, which `releases` itself fails on.
    write(
        &root,
        "backups/deployments/production.jsonl",
        "{\"time\":\"2026-01-0",
    );
    assert_eq!(xtask(&root, &["releases", "production"]).code, 1);
    let run = checklist(&root, "daily", &[]);
    let v = run.json();
    let status = item(&v, "Deployment status checks");
    let runs = status["runs"].as_array().unwrap();
    let got: Vec<(&str, &str)> = runs
        .iter()
        .map(|r| {
            (
                r["command"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("cargo xtask releases production", "findings"),
            ("cargo xtask releases staging", "ok"),
        ],
        "{v:#}"
    );
    assert!(
        figure(status, 0).ends_with("; 1 need attention"),
        "{:#}",
        runs[0]
    );
    assert_eq!(run.code, 1, "an item needs attention: {v:#}");
    finding_with_code(&v, "ledger-torn-line");
}

#[test]
fn two_runs_in_the_same_second_keep_both_reports() {
    let (_t, root) = project("1.2.0");
    assert_eq!(xtask(&root, &["backup", "config"]).code, 0);
    // Reports of other runs already hold the names of this second and the next ones.
    let reports = root.join("backups/reports");
    let now = chrono::Utc::now();
    let taken: Vec<PathBuf> = (0..30)
        .map(|s| {
            let stamp = (now + chrono::Duration::seconds(s)).format("%Y%m%d_%H%M%S");
            write(
                &reports,
                &format!("checklist-daily-{stamp}.md"),
                &format!("another run {s}\n"),
            )
        })
        .collect();
    let run = checklist(&root, "daily", &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let report = PathBuf::from(v["report"].as_str().unwrap());
    assert!(!taken.contains(&report), "{}", report.display());
    assert!(
        report.display().to_string().ends_with("-2.md"),
        "{}",
        report.display()
    );
    assert!(
        fs::read_to_string(&report)
            .unwrap()
            .contains("checklist daily")
    );
    for (s, p) in taken.iter().enumerate() {
        assert_eq!(fs::read_to_string(p).unwrap(), format!("another run {s}\n"));
    }
    assert!(tmp_leftovers(&reports).is_empty());
    let again = checklist(&root, "daily", &[]).json();
    assert_ne!(again["report"], v["report"]);
}

#[test]
fn an_unwritable_reports_folder_still_prints_the_results_then_fails() {
    let (_t, root) = project("1.2.0");
    assert_eq!(xtask(&root, &["backup", "config"]).code, 0);
    write(
        &root,
        "backups/reports",
        "a file where the folder should be\n",
    );
    let run = checklist(&root, "daily", &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(
        item(&v, "Verify the newest backups")["status"],
        "ok",
        "the results are printed: {v:#}"
    );
    let f = finding_with_code(&v, "checklist-report-unwritten");
    assert!(message_of(f).contains("backups/reports"), "{f:#}");
    assert!(v.get("report").is_none(), "{v:#}");
}

#[test]
fn an_unwritable_job_summary_fails_the_run() {
    let (t, root) = project("1.2.0");
    assert_eq!(xtask(&root, &["backup", "config"]).code, 0);
    let folder = t.path().join("summary-is-a-folder");
    fs::create_dir(&folder).unwrap();
    let run = checklist(
        &root,
        "daily",
        &[("GITHUB_STEP_SUMMARY", folder.to_str().unwrap())],
    );
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let f = finding_with_code(&v, "checklist-summary-unwritten");
    assert!(message_of(f).contains("GITHUB_STEP_SUMMARY"), "{f:#}");
    assert!(v["report"].is_string(), "the report file is still written");
}

#[test]
fn the_items_come_from_maintenance_toml() {
    let (_t, root) = project("1.2.0");
    write(
        &root,
        "maintenance.toml",
        r#"[checklist]
daily = [
  { item = "Lint our workflows strictly", section = "Ours", run = ["workflows-lint"], fail_on = "info" },
  { item = "Water the plants", by_hand = "the ficus too" },
]
"#,
    );
    let run = checklist(&root, "daily", &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let names = strings_of(&v["items"], "item");
    assert_eq!(names, ["Lint our workflows strictly", "Water the plants"]);
    assert_eq!(
        commands(item(&v, "Lint our workflows strictly")),
        ["cargo xtask workflows lint --fail-on info"]
    );
    let md = fs::read_to_string(v["report"].as_str().unwrap()).unwrap();
    assert!(
        md.contains("- [ ] Water the plants: the ficus too\n"),
        "{md}"
    );
    // The other cadences keep the runbook's lists.
    let weekly = xtask_json(&root, &["config", "show"]).json();
    assert_eq!(
        weekly["config"]["checklist"]["weekly"][0]["item"],
        "Update Python dependencies"
    );

    for (toml, says) in [
        (
            "[checklist]\ndaily = [{ item = \"x\", run = [\"tests-report\"], fail_on = \"low\" }]\n",
            "checklist.daily item `x`: fail_on applies to",
        ),
        (
            "[checklist]\nweekly = [{ item = \"x\", run = [\"deploy\"] }]\n",
            "unknown variant `deploy`",
        ),
        (
            "[checklist]\nweekly = [{ item = \"x\", runs = [\"audit\"] }]\n",
            "unknown field `runs`",
        ),
        (
            "[checklist]\nmonthly = [{ item = \"x\" }, { item = \"x\" }]\n",
            "listed twice",
        ),
    ] {
        write(&root, "maintenance.toml", toml);
        let run = checklist(&root, "daily", &[]);
        assert_eq!(run.code, 2, "{toml}");
        assert!(run.stderr.contains(says), "{toml}: {}", run.stderr);
        assert!(run.stderr.contains("maintenance.toml"), "{}", run.stderr);
    }
}

#[test]
fn a_terminal_gets_a_progress_line_per_command() {
    if !has_program("script") {
        // util-linux's `script` gives the run a terminal (Debian always has it).
        assert_ne!(
            std::env::var("XTASK_REQUIRE_SERVICES").as_deref(),
            Ok("1"),
            "`script` (util-linux) is required to test the terminal output"
        );
        eprintln!("skipped: no `script` to run under a terminal");
        return;
    }
    let (t, root) = project("1.2.0");
    assert_eq!(xtask(&root, &["backup", "config"]).code, 0);
    let line = format!(
        "{} --root {} --output {} checklist daily",
        env!("CARGO_BIN_EXE_xtask"),
        root.display(),
        t.path().join("out.txt").display()
    );
    let run: Run = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("XTASK_ROOT")
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(
        out.contains("[3/8] not configured")
            && out.contains("Deployment status checks (cargo xtask releases ENV)"),
        "{out}"
    );
    assert!(
        out.contains("[8/8] ok") && out.contains("Verify the newest backups"),
        "{out}"
    );
    let report = fs::read_to_string(t.path().join("out.txt")).unwrap();
    assert!(
        !report.contains("[1/8]"),
        "progress goes to the terminal only"
    );
}

#[test]
fn this_repositorys_maintenance_workflow_passes_its_own_lint() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let run = xtask_json(
        repo,
        &[
            "workflows",
            "lint",
            "--fail-on",
            "info",
            ".github/workflows/maintenance.yml",
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(v["findings"], serde_json::json!([]), "{v:#}");
    let text = fs::read_to_string(repo.join(".github/workflows/maintenance.yml")).unwrap();
    for cadence in ["daily", "weekly", "monthly", "quarterly"] {
        assert!(
            text.contains(&format!(") cadence={cadence} ;;")),
            "{cadence}"
        );
    }
    assert!(
        text.contains("cargo xtask checklist \"$CADENCE\""),
        "{text}"
    );
    assert!(
        text.contains("github/codeql-action/upload-sarif@"),
        "{text}"
    );
}
