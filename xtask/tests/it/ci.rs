//! `ci stats|dora|fetch|report`: fixture exports written here, with answers computed by hand.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::support::{TestServer, finding_with_code, git_at, snapshot, write, xtask, xtask_env};

const NOW: &str = "2026-01-08T12:00:00Z";

/// A REST run object with the fields `ci` reads (and one it does not).
pub fn rest_run(
    id: u64,
    name: &str,
    attempt: u32,
    times: [&str; 3],
    status: &str,
    conclusion: Option<&str>,
) -> Value {
    let [created, started, updated] = times;
    json!({
        "id": id, "name": name, "workflow_id": 7, "status": status, "conclusion": conclusion,
        "run_attempt": attempt, "created_at": created, "run_started_at": started,
        "updated_at": updated, "head_sha": format!("{id:040x}"), "head_branch": "main",
        "event": "push", "html_url": format!("https://github.com/o/r/actions/runs/{id}"),
    })
}

fn job(
    id: u64,
    run: u64,
    attempt: u32,
    name: &str,
    conclusion: &str,
    times: [&str; 3],
    steps: Value,
) -> Value {
    json!({
        "id": id, "run_id": run, "run_attempt": attempt, "name": name, "status": "completed",
        "conclusion": conclusion, "created_at": times[0], "started_at": times[1],
        "completed_at": times[2], "steps": steps,
    })
}

fn step(name: &str, conclusion: &str, from: &str, to: &str) -> Value {
    json!({"name": name, "status": "completed", "conclusion": conclusion, "number": 1, "started_at": from, "completed_at": to})
}

/// The fixture of the module docs: workflow `ci` as a REST page, `deploy` (and an earlier
/// attempt of run 102) as `gh run list` output, and jobs pages of runs 101 and 102.
fn fixture(root: &Path) {
    let d = |day: u32, hms: &str| format!("2026-01-{day:02}T{hms}Z");
    // Workflow `ci`: id, attempt, day, [created, started, updated], conclusion (none while
    // in progress).
    #[rustfmt::skip]
    let runs: Vec<Value> = [
        (101, 1, "2026-01-05", ["10:00:00", "10:00:30", "10:05:30"], Some("success")),
        (102, 2, "2026-01-06", ["10:00:00", "10:01:00", "10:11:00"], Some("failure")),
        (103, 1, "2026-01-07", ["09:00:00", "09:00:00", "09:03:20"], Some("success")),
        (104, 1, "2026-01-07", ["10:00:00", "10:00:00", "10:01:00"], Some("cancelled")),
        (105, 1, "2026-01-08", ["11:30:00", "11:30:05", "11:31:00"], None),
        (106, 1, "2026-01-08", ["11:00:00", "11:00:00", "11:02:00"], Some("success")),
        // The previous window (2025-12-25 12:00 to 2026-01-01 12:00).
        (90, 1, "2025-12-30", ["10:00:00", "10:00:00", "10:03:20"], Some("success")),
        (91, 1, "2025-12-31", ["10:00:00", "10:00:00", "10:05:00"], Some("success")),
        // Before both windows: read, never counted.
        (80, 1, "2025-12-01", ["10:00:00", "10:00:00", "11:00:00"], Some("failure")),
    ]
    .into_iter()
    .map(|(id, attempt, day, hms, conclusion)| {
        let [c, s, u] = hms.map(|t| format!("{day}T{t}Z"));
        let status = if conclusion.is_some() { "completed" } else { "in_progress" };
        rest_run(id, "ci", attempt, [&c, &s, &u], status, conclusion)
    })
    .collect();
    let page = json!({"total_count": runs.len(), "workflow_runs": runs});
    write(root, "exports/runs-rest.json", &page.to_string());
    let gh = json!([
        {"databaseId": 201, "attempt": 1, "workflowName": "deploy", "name": "Deploy v2", "status": "completed",
         "conclusion": "success", "createdAt": d(6, "12:00:00"), "startedAt": d(6, "12:00:10"),
         "updatedAt": d(6, "12:10:10"), "headSha": "ab", "headBranch": "main", "event": "release"},
        {"databaseId": 102, "attempt": 1, "workflowName": "ci", "status": "completed", "conclusion": "failure",
         "createdAt": d(6, "10:00:00"), "startedAt": d(6, "10:00:10"), "updatedAt": d(6, "10:00:40"),
         "headSha": "cd", "headBranch": "main", "event": "push"},
    ]);
    write(root, "exports/runs-gh.json", &gh.to_string());
    let j101 = json!({"total_count": 2, "jobs": [
        job(1011, 101, 1, "test", "success", [&d(5, "10:00:30"), &d(5, "10:00:40"), &d(5, "10:03:40")], json!([
            step("Checkout", "success", &d(5, "10:00:40"), &d(5, "10:00:50")),
            step("Run tests", "success", &d(5, "10:00:50"), &d(5, "10:03:40")),
        ])),
        job(1012, 101, 1, "build", "success", [&d(5, "10:03:40"), &d(5, "10:04:10"), &d(5, "10:05:30")], json!([
            step("Checkout", "success", &d(5, "10:04:10"), &d(5, "10:04:20")),
            step("Build image", "success", &d(5, "10:04:20"), &d(5, "10:05:30")),
        ])),
    ]});
    // `filter=all`: the jobs of attempt 1 come too, and are left out.
    let j102 = json!({"total_count": 3, "jobs": [
        job(1020, 102, 1, "test", "failure", [&d(6, "10:00:10"), &d(6, "10:00:10"), &d(6, "10:00:40")], json!([])),
        job(1021, 102, 2, "test", "failure", [&d(6, "10:01:00"), &d(6, "10:01:20"), &d(6, "10:09:00")], json!([
            step("Checkout", "success", &d(6, "10:01:20"), &d(6, "10:01:30")),
            step("Run tests", "failure", &d(6, "10:01:30"), &d(6, "10:09:00")),
        ])),
        job(1022, 102, 2, "build", "skipped", [&d(6, "10:09:00"), &d(6, "10:09:00"), &d(6, "10:09:00")], json!([
            step("Build image", "skipped", &d(6, "10:09:00"), &d(6, "10:09:00")),
        ])),
    ]});
    // Two pages in one file, back to back, as `gh api --paginate` writes them.
    write(root, "exports/jobs.json", &format!("{j101}\n{j102}\n"));
}

/// The arguments that name [`fixture`]'s three exports.
const FIXTURE_EXPORTS: [&str; 6] = [
    "--runs",
    "exports/runs-rest.json",
    "--runs",
    "exports/runs-gh.json",
    "--jobs",
    "exports/jobs.json",
];

fn stats(root: &Path, extra: &[&str]) -> crate::support::Run {
    let mut args = vec!["--format", "json", "ci", "stats"];
    args.extend(FIXTURE_EXPORTS);
    args.extend(["--now", NOW]);
    args.extend(extra);
    xtask(root, &args)
}

/// `ci stats --since SINCE` in JSON, reading the exports where the configuration puts them.
fn stats_since(root: &Path, since: &str) -> crate::support::Run {
    xtask(
        root,
        &[
            "--format", "json", "ci", "stats", "--since", since, "--now", NOW,
        ],
    )
}

fn close(v: &Value, want: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"));
    assert!((got - want).abs() < 1e-9, "{got} != {want}");
}

fn by<'a>(list: &'a Value, key: &str, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|x| x[key] == name)
        .unwrap_or_else(|| panic!("no {key} = {name} in {list:#}"))
}

#[test]
fn stats_of_the_fixture_are_the_hand_computed_figures() {
    let t = tempfile::tempdir().unwrap();
    fixture(t.path());
    let r = stats(t.path(), &[]);
    let v = r.json();
    // ci: 6 runs created in the week (101–106); 104 cancelled and 105 unfinished are out of
    // the rate: 3 successes of 4. Durations 300, 600, 200, 120 s: p50 rank 1.5 → 250;
    // p95 rank 2.85 → 300 + 0.85·300 = 555. Run 102 is on its second attempt: 1 re-run.
    let ci = by(&v["workflows"], "name", "ci");
    assert_eq!(ci["runs"], 6);
    assert_eq!(
        (ci["completed"].as_u64(), ci["excluded"].as_u64()),
        (Some(5), Some(1))
    );
    close(&ci["success_rate"], 0.75);
    close(&ci["duration_p50_secs"], 250.0);
    close(&ci["duration_p95_secs"], 555.0);
    assert_eq!(ci["reruns"], 1);
    // Queue (job started − created): 10, 30 (101) and 20 (102's test; the skipped build is
    // out) → p50 20, p95 rank 1.9 → 20 + 0.9·10 = 29.
    close(&ci["queue_p50_secs"], 20.0);
    close(&ci["queue_p95_secs"], 29.0);
    // The week before: 90 and 91, both successes, 200 and 300 s.
    assert_eq!(ci["previous"]["runs"], 2);
    close(&ci["previous"]["success_rate"], 1.0);
    close(&ci["previous"]["duration_p50_secs"], 250.0);
    close(&ci["change"]["duration_p50_percent"], 0.0);
    close(&ci["change"]["success_rate"], -0.25);
    assert_eq!(ci["change"]["runs"], 4);
    // deploy, from gh output: one run of 600 s.
    let dep = by(&v["workflows"], "name", "deploy");
    assert_eq!(dep["runs"], 1);
    close(&dep["success_rate"], 1.0);
    close(&dep["duration_p95_secs"], 600.0);
    // All together: 4 of 5, durations 120, 200, 300, 600, 600 → p50 300, p95 600.
    close(&v["totals"]["success_rate"], 0.8);
    close(&v["totals"]["duration_p50_secs"], 300.0);
    // Failure rate by stage: test failed once of 2 (180 s, 460 s: p50 320, p95 446);
    // build: 1 counted (the skipped one is not), no failure.
    let jobs = &v["jobs"];
    let test = by(jobs, "name", "test");
    close(&test["failure_rate"], 0.5);
    close(&test["duration_p50_secs"], 320.0);
    close(&test["duration_p95_secs"], 446.0);
    close(&test["queue_p50_secs"], 15.0);
    let build = by(jobs, "name", "build");
    assert_eq!(
        (build["runs"].as_u64(), build["failed"].as_u64()),
        (Some(2), Some(0))
    );
    close(&build["failure_rate"], 0.0);
    // Steps: `Run tests` 170 and 450 s, one failure; slowest first.
    let slowest: Vec<(&str, f64)> = v["slowest_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["duration_p50_secs"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        slowest,
        [
            ("Run tests", 310.0),
            ("Build image", 70.0),
            ("Checkout", 10.0),
            ("Checkout", 10.0)
        ]
    );
    close(&by(&v["steps"], "name", "Run tests")["failure_rate"], 0.5);
    // The failed build to review, with the job that failed.
    let failed = v["failed_runs"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0]["id"].as_u64(), failed[0]["attempt"].as_u64()),
        (Some(102), Some(2))
    );
    assert_eq!(failed[0]["failed_jobs"], json!(["test"]));
    // Earlier attempts (run 102's, job 1020) are merged away and said so.
    let notes = &v["inputs"]["notes"];
    assert_eq!(notes["earlier_attempts"], 2, "{notes}");
    // ci failed 25% of 4 runs > 10%: a finding stating figure, threshold and window.
    let f = finding_with_code(&v, "build-failure-rate");
    assert_eq!(
        f["message"],
        "25% of 4 runs of workflow `ci` failed in the week to 2026-01-08 12:00 UTC (threshold 10%)"
    );
    assert_eq!(v["exit_code"], 1);
    assert_eq!(r.code, 1);
}

#[test]
fn since_and_the_default_export_folder() {
    let t = tempfile::tempdir().unwrap();
    fixture(t.path());
    // The export folder of the config holds everything; --since 1d keeps run 105 and 106.
    write(
        t.path(),
        "maintenance.toml",
        "[ci]\nexports = \"exports\"\n",
    );
    let v = stats_since(t.path(), "1d").json();
    let ci = by(&v["workflows"], "name", "ci");
    assert_eq!(ci["runs"], 2);
    close(&ci["success_rate"], 1.0);
    close(&ci["duration_p50_secs"], 120.0);
    // The day before: 103 (200 s) and 104 (cancelled); deploy's 201 too, but not in `ci`.
    close(&ci["previous"]["duration_p50_secs"], 200.0);
    close(&ci["change"]["duration_p50_percent"], -40.0);
    assert!(v["findings"].as_array().unwrap().is_empty(), "{v:#}");
    assert_eq!(v["exit_code"], 0);
    // The table format shows the same figures.
    let r = xtask(t.path(), &["ci", "stats", "--since", "1d", "--now", NOW]);
    assert!(r.stdout.contains("Workflows"), "{}", r.stdout);
    assert!(r.stdout.contains("100%"), "{}", r.stdout);
}

/// Each malformed or partial export is exit 2, naming the file (and the run), with no
/// figures printed.
#[test]
fn malformed_and_partial_exports_are_refused_by_file_and_run() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let ok = |id: u64| {
        rest_run(
            id,
            "ci",
            1,
            [
                "2026-01-05T10:00:00Z",
                "2026-01-05T10:00:00Z",
                "2026-01-05T10:01:00Z",
            ],
            "completed",
            Some("success"),
        )
    };
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("truncated.json", format!("{{\"total_count\": 1, \"workflow_runs\": [{}", ok(1)), vec!["truncated.json", "line 1"]),
        ("page1.json", json!({"total_count": 150, "workflow_runs": (1..=100).map(ok).collect::<Vec<_>>()}).to_string(), vec!["page1.json", "150 runs", "hold 100", "page is missing"]),
        ("noconclusion.json", json!({"total_count": 1, "workflow_runs": [rest_run(77, "ci", 1, ["2026-01-05T10:00:00Z", "2026-01-05T10:00:00Z", "2026-01-05T10:01:00Z"], "completed", None)]}).to_string(), vec!["noconclusion.json", "run 77", "conclusion"]),
        ("badtime.json", json!([{"databaseId": 78, "attempt": 1, "workflowName": "ci", "status": "completed", "conclusion": "success", "createdAt": "yesterday", "startedAt": "2026-01-05T10:00:00Z", "updatedAt": "2026-01-05T10:01:00Z"}]).to_string(), vec!["badtime.json", "run 78", "created_at", "yesterday"]),
        ("nostart.json", json!([{"databaseId": 79, "workflowName": "ci", "status": "completed", "conclusion": "success", "createdAt": "2026-01-05T10:00:00Z"}]).to_string(), vec!["nostart.json", "run 79", "startedAt"]),
        ("backwards.json", json!({"total_count": 1, "workflow_runs": [rest_run(81, "ci", 1, ["2026-01-05T10:00:00Z", "2026-01-05T10:05:00Z", "2026-01-05T10:01:00Z"], "completed", Some("success"))]}).to_string(), vec!["backwards.json", "run 81", "before run_started_at"]),
        ("oddconclusion.json", json!({"total_count": 1, "workflow_runs": [rest_run(82, "ci", 1, ["2026-01-05T10:00:00Z", "2026-01-05T10:00:00Z", "2026-01-05T10:01:00Z"], "completed", Some("kinda"))]}).to_string(), vec!["oddconclusion.json", "run 82", "kinda"]),
        ("notanexport.json", json!({"hello": "world"}).to_string(), vec!["notanexport.json", "not a GitHub Actions export"]),
        ("empty.json", String::new(), vec!["empty.json", "empty"]),
    ];
    for (name, text, says) in cases {
        write(r, &format!("bad/{name}"), &text);
        let out = xtask(
            r,
            &[
                "--format",
                "json",
                "ci",
                "stats",
                "--runs",
                &format!("bad/{name}"),
                "--now",
                NOW,
            ],
        );
        assert_eq!(out.code, 2, "{name}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.is_empty(),
            "{name}: no figures on a bad export: {}",
            out.stdout
        );
        for s in says {
            assert!(
                out.stderr.contains(s),
                "{name}: `{s}` not in {}",
                out.stderr
            );
        }
    }
    // A run's jobs pages that hold fewer jobs than their total: partial, named by run.
    write(
        r,
        "good.json",
        &json!({"total_count": 1, "workflow_runs": [ok(5)]}).to_string(),
    );
    let jobs = json!({"total_count": 3, "jobs": [job(51, 5, 1, "test", "success", ["2026-01-05T10:00:00Z"; 3], json!([]))]});
    write(r, "jobs-page1.json", &jobs.to_string());
    let out = xtask(
        r,
        &[
            "ci",
            "stats",
            "--runs",
            "good.json",
            "--jobs",
            "jobs-page1.json",
            "--now",
            NOW,
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("jobs-page1.json")
            && out.stderr.contains("run 5")
            && out.stderr.contains("1 of its 3 jobs"),
        "{}",
        out.stderr
    );
    // A runs export given as jobs (and the reverse) is named, not misread.
    let out = xtask(
        r,
        &["ci", "stats", "--runs", "jobs-page1.json", "--now", NOW],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("pass it with --jobs"), "{}", out.stderr);
    // No export at all: what to run.
    let out = xtask(r, &["ci", "stats"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("ci fetch"), "{}", out.stderr);
}

fn commit(dir: &Path, date: &str, n: u32) -> String {
    write(dir, "src/app.py", &format!("version = {n}\n"));
    git_at(dir, date, &["add", "."]);
    git_at(dir, date, &["commit", "-q", "-m", &format!("change {n}")]);
    git_at(dir, date, &["rev-parse", "HEAD"])
}

fn entry(
    id: &str,
    (time, finished): (&str, Option<&str>),
    action: &str,
    version: &str,
    previous: Option<&str>,
    commit: Option<&str>,
    outcome: &str,
) -> String {
    let mut e = json!({
        "id": id, "time": time, "actor": "ci", "environment": "production", "action": action,
        "version": version, "previous": previous, "commit": commit, "outcome": outcome, "checks": [],
    });
    if let Some(f) = finished {
        e["finished"] = json!(f);
    }
    if outcome == "rolled-back" {
        e["rolled_back_to"] = json!(previous);
    }
    format!("{e}\n")
}

/// `ci dora` in JSON over the first week of 2026.
const DORA_JSON: [&str; 8] = [
    "--format",
    "json",
    "ci",
    "dora",
    "--since",
    "2026-01-01",
    "--now",
    "2026-01-08",
];

/// DORA over a git repository with known commit times and a ledger of known outcomes.
#[test]
fn dora_of_a_known_ledger_and_git_history() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    git_at(r, "2026-01-01T00:00:00Z", &["init", "-q"]);
    let c1 = commit(r, "2026-01-01T00:00:00Z", 1);
    let _c2 = commit(r, "2026-01-02T00:00:00Z", 2);
    let c3 = commit(r, "2026-01-02T06:00:00Z", 3);
    let c4 = commit(r, "2026-01-04T00:00:00Z", 4);
    let c5 = commit(r, "2026-01-05T00:00:00Z", 5);
    // id, [day, started, finished (none while started)], action, version, previous, commit,
    // outcome. The `started` line and the outcome line of one operation (e2) are one deploy.
    #[rustfmt::skip]
    let ledger: String = [
        ("e0", ["2025-12-20", "00:00:00", "00:05:00"], "deploy", "v0", None, &c1, "succeeded"),
        ("e1", ["2026-01-01", "12:00:00", "12:05:00"], "deploy", "v1", Some("v0"), &c1, "succeeded"),
        ("e2", ["2026-01-03", "00:00:00", ""], "deploy", "v2", Some("v1"), &c3, "started"),
        ("e2", ["2026-01-03", "00:00:00", "00:10:00"], "deploy", "v2", Some("v1"), &c3, "succeeded"),
        ("e3", ["2026-01-04", "12:00:00", "12:30:00"], "deploy", "v3", Some("v2"), &c4, "rolled-back"),
        ("e4", ["2026-01-05", "00:00:00", "00:10:00"], "deploy", "v4", Some("v2"), &c4, "failed"),
        ("e5", ["2026-01-05", "02:00:00", "02:06:00"], "rollback", "v2", Some("v4"), &c4, "succeeded"),
        ("e6", ["2026-01-06", "00:00:00", "00:10:00"], "deploy", "v5", Some("v2"), &c5, "succeeded"),
        ("e7", ["2026-01-06", "06:00:00", "06:05:00"], "rollback", "v2", Some("v5"), &c5, "succeeded"),
        ("e8", ["2026-01-07", "00:00:00", "00:01:00"], "deploy", "v6", Some("v2"), &c5, "aborted"),
        ("e9", ["2026-01-07", "12:00:00", ""], "deploy", "v7", Some("v2"), &c5, "started"),
    ]
    .into_iter()
    .map(|(id, [day, start, end], action, version, previous, commit, outcome)| {
        let started = format!("{day}T{start}Z");
        let finished = (!end.is_empty()).then(|| format!("{day}T{end}Z"));
        let times = (started.as_str(), finished.as_deref());
        entry(id, times, action, version, previous, Some(commit), outcome)
    })
    .collect();
    write(r, "backups/deployments/production.jsonl", &ledger);
    let out = xtask(r, &DORA_JSON);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let v = out.json();
    let d = &v["dora"];
    // Deployments: v1, v2, v3 (rolled back), v4 (failed), v5 (undone by e7); not the
    // rollbacks, the aborted v6, the unfinished v7 or v0 before the window. One week.
    assert_eq!(d["deployments"], 5);
    close(&d["deployment_frequency_per_week"], 5.0);
    assert_eq!(d["deployment_frequency_tier"], "high");
    // Change failures: v3, v4, v5 → 3/5.
    close(&d["change_failure_rate"], 0.6);
    assert_eq!(d["change_failure_tier"], "low");
    // Lead times (deploy end − committer time): v1 brought nothing new (c1..c1); v2 brought
    // c2, c3: 24 h 10 m and 18 h 10 m; v5 brought c4, c5 (from v2's c3, the last succeeded
    // deploy): 48 h 10 m and 24 h 10 m. Median of 18⅙, 24⅙, 24⅙, 48⅙ = 24⅙ h.
    assert_eq!(d["lead_time_commits"], 4);
    close(&d["lead_time_p50_hours"], 24.0 + 10.0 / 60.0);
    assert_eq!(d["lead_time_tier"], "high");
    // Restores: v3 rolled back in 30 min; v4 from 00:00 to the rollback's end 02:06 = 2.1 h.
    assert_eq!(d["restores"], 2);
    close(&d["time_to_restore_p50_hours"], 1.3);
    assert_eq!(d["time_to_restore_tier"], "high");
    let notes = d["notes"].to_string();
    assert!(
        notes.contains("v7") && notes.contains("no outcome yet"),
        "{notes}"
    );
    assert!(
        v["definitions"]["change_failure_rate"]
            .as_str()
            .unwrap()
            .contains("rollback")
    );
    // The human report prints the definitions.
    let table = xtask(
        r,
        &["ci", "dora", "--since", "2026-01-01", "--now", "2026-01-08"],
    );
    assert!(
        table.stdout.contains("Definitions") && table.stdout.contains("2023"),
        "{}",
        table.stdout
    );
    // A commit git does not know: the lead time is incomplete, exit 2, named.
    let bad = ledger.replace(&c5, "0123456789abcdef0123456789abcdef01234567");
    write(r, "backups/deployments/production.jsonl", &bad);
    let out = xtask(r, &DORA_JSON);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let f = finding_with_code(&out.json(), "input-error").clone();
    assert!(f["message"].as_str().unwrap().contains("v5"), "{f}");
    // An environment without a ledger is named, with what to do.
    let out = xtask(r, &["ci", "dora", "--env", "staging"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("staging") && out.stderr.contains("cargo xtask deploy"),
        "{}",
        out.stderr
    );
}

/// A GitHub API on 127.0.0.1: two pages of runs joined by `Link`, a 403 rate-limit answer
/// with its reset time on the first try of page 2, a 502 on the first try of run 1's jobs.
struct FakeGitHub {
    server: TestServer,
    hits: Arc<Mutex<Vec<String>>>,
}

impl FakeGitHub {
    /// `cargo xtask ARGS` in `root` against this server, with a token.
    fn xtask(&self, root: &Path, args: &[&str]) -> crate::support::Run {
        let url = self.server.url();
        xtask_env(
            root,
            &[("GITHUB_API_URL", &url), ("GITHUB_TOKEN", "t0ken-abc")],
            args,
        )
    }

    /// `cargo xtask --format json ci fetch --repo o/r EXTRA` against this server.
    fn fetch_json(&self, root: &Path, extra: &[&str]) -> crate::support::Run {
        let mut args = vec!["--format", "json", "ci", "fetch", "--repo", "o/r"];
        args.extend(extra);
        self.xtask(root, &args)
    }
}

fn fake_github(reset_in: i64) -> FakeGitHub {
    let hits = Arc::new(Mutex::new(Vec::new()));
    let seen = hits.clone();
    let port = Arc::new(Mutex::new(0u16));
    let port2 = port.clone();
    let run = |id: u64, status: &str| {
        let c = if status == "completed" {
            json!("success")
        } else {
            json!(null)
        };
        json!({"id": id, "name": "ci", "status": status, "conclusion": c, "run_attempt": 1,
               "created_at": "2026-01-05T10:00:00Z", "run_started_at": "2026-01-05T10:00:00Z",
               "updated_at": "2026-01-05T10:02:00Z", "head_sha": "a", "head_branch": "main", "event": "push"})
    };
    let page1 =
        json!({"total_count": 3, "workflow_runs": [run(1, "completed"), run(2, "completed")]})
            .to_string();
    let page2 = json!({"total_count": 3, "workflow_runs": [run(3, "in_progress")]}).to_string();
    let handler = move |path: &str, headers: &str| -> (u16, Vec<String>, Vec<u8>) {
        let mut log = seen.lock().unwrap();
        log.push(format!(
            "{path} {}",
            headers
                .to_ascii_lowercase()
                .contains("authorization: bearer t0ken-abc")
        ));
        let count = |p: &str| log.iter().filter(|l| l.starts_with(p)).count();
        let base = format!("http://127.0.0.1:{}", *port2.lock().unwrap());
        if path.starts_with("/repos/o/r/actions/runs?") && !path.contains("page=2") {
            let link = format!(
                "Link: <{base}/repos/o/r/actions/runs?per_page=100&page=2>; rel=\"next\", <{base}/repos/o/r/actions/runs?per_page=100&page=2>; rel=\"last\""
            );
            return (
                200,
                vec![link, "x-ratelimit-remaining: 4999".into()],
                page1.clone().into_bytes(),
            );
        }
        if path.contains("page=2") {
            if count("/repos/o/r/actions/runs?per_page=100&page=2") == 1 {
                let reset = chrono::Utc::now().timestamp() + reset_in;
                return (
                    403,
                    vec![
                        "x-ratelimit-remaining: 0".into(),
                        format!("x-ratelimit-reset: {reset}"),
                    ],
                    br#"{"message":"API rate limit exceeded"}"#.to_vec(),
                );
            }
            return (200, vec![], page2.clone().into_bytes());
        }
        if let Some(rest) = path.strip_prefix("/repos/o/r/actions/runs/") {
            let id: u64 = rest.split('/').next().unwrap().parse().unwrap();
            if id == 1 && count("/repos/o/r/actions/runs/1/") == 1 {
                return (502, vec![], b"bad gateway".to_vec());
            }
            let jobs = json!({"total_count": 1, "jobs": [{"id": id * 10, "run_id": id, "run_attempt": 1, "name": "test",
                "status": "completed", "conclusion": "success", "created_at": "2026-01-05T10:00:00Z",
                "started_at": "2026-01-05T10:00:05Z", "completed_at": "2026-01-05T10:01:05Z", "steps": []}]});
            return (200, vec![], jobs.to_string().into_bytes());
        }
        (404, vec![], br#"{"message":"Not Found"}"#.to_vec())
    };
    let server = TestServer::start(Arc::new(handler));
    *port.lock().unwrap() = server.port;
    FakeGitHub { server, hits }
}

#[test]
fn fetch_follows_links_waits_out_the_rate_limit_retries_5xx_and_resumes() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let gh = fake_github(1);
    let out = gh.fetch_json(r, &["--since", "2026-01-01"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let v = out.json();
    assert_eq!(v["fetch"]["pages"], 2);
    assert_eq!(v["fetch"]["runs"], 3);
    // Jobs of the two completed runs; run 3 is still in progress.
    assert_eq!(v["fetch"]["jobs_fetched"], 2);
    assert!(
        v["fetch"]["waited_secs"].as_u64().unwrap() >= 2,
        "a rate-limit wait and a retry: {v:#}"
    );
    assert!(
        out.stderr.contains("rate limited") && out.stderr.contains("HTTP 502"),
        "{}",
        out.stderr
    );
    let hits = gh.hits.lock().unwrap().clone();
    assert!(
        hits.iter().all(|h| h.ends_with("true")),
        "every request carries the token: {hits:#?}"
    );
    assert!(
        hits[0].contains("per_page=100") && hits[0].contains("created=2026-01-01T00:00:00Z.."),
        "{hits:#?}"
    );
    assert!(
        hits.iter()
            .any(|h| h.starts_with("/repos/o/r/actions/runs/1/attempts/1/jobs?per_page=100"))
    );
    // The exports are where `ci stats` reads them, and read as complete.
    let files = snapshot(&r.join("backups/ci/o/r"));
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("runs/") && f.ends_with("-p002.json")),
        "{files:?}"
    );
    assert!(files.contains(&"jobs/1-1.json".to_string()), "{files:?}");
    for f in &files {
        let p = r.join("backups/ci/o/r").join(f);
        if p.is_file() {
            assert!(
                !std::fs::read_to_string(&p)
                    .unwrap_or_default()
                    .contains("t0ken"),
                "{f} holds the token"
            );
        }
    }
    assert!(!out.stdout.contains("t0ken") && !out.stderr.contains("t0ken"));
    let s = stats_since(r, "2026-01-01").json();
    assert_eq!(by(&s["workflows"], "name", "ci")["runs"], 3);
    assert_eq!(by(&s["jobs"], "name", "test")["runs"], 2);
    // Again: jobs come from the cache; the listing starts at the unfinished run 3.
    let before = gh.hits.lock().unwrap().len();
    let out = gh.fetch_json(r, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    assert_eq!(v["fetch"]["jobs_cached"], 2);
    assert_eq!(v["fetch"]["since"], "2026-01-05T10:00:00Z");
    let again: Vec<String> = gh.hits.lock().unwrap()[before..].to_vec();
    assert!(
        !again.iter().any(|h| h.contains("/jobs")),
        "no job fetched twice: {again:?}"
    );
}

#[test]
fn a_rate_limit_beyond_the_longest_wait_stops_and_the_next_fetch_continues() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let gh = fake_github(3600);
    write(r, "maintenance.toml", "[ci]\nmax_wait_secs = 5\n");
    let out = gh.xtask(
        r,
        &[
            "ci",
            "fetch",
            "--repo",
            "o/r",
            "--since",
            "2026-01-01",
            "--no-jobs",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr.contains("rate limit resets at") && out.stderr.contains("again"),
        "{}",
        out.stderr
    );
    // Page 1 is kept; stats would call the export partial until the fetch finishes.
    let s = xtask(r, &["ci", "stats", "--now", NOW]);
    assert_eq!(s.code, 2);
    assert!(
        s.stderr.contains("partial export") && s.stderr.contains("3 runs"),
        "{}",
        s.stderr
    );
    // The limit is gone on the next try (the server limits once): page 2 only.
    let before = gh.hits.lock().unwrap().len();
    let out = gh.fetch_json(r, &["--no-jobs"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["fetch"]["resumed"], true);
    let again: Vec<String> = gh.hits.lock().unwrap()[before..].to_vec();
    assert_eq!(again.len(), 1, "only the missing page: {again:?}");
    assert!(again[0].contains("page=2"));
    let s = stats_since(r, "2026-01-01");
    assert_eq!(s.code, 0, "{}", s.stderr);
}

/// Skips locally without Chromium; with XTASK_REQUIRE_SERVICES=1 (CI) a missing one fails.
fn chromium() -> Option<&'static str> {
    for name in ["chromium", "chromium-browser"] {
        if crate::support::has_program(name) {
            return Some(name);
        }
    }
    if std::env::var("XTASK_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
        panic!(
            "Chromium is required (XTASK_REQUIRE_SERVICES=1): install the Debian package `chromium` (.ci/run does)"
        );
    }
    eprintln!("skipped: chromium is not installed");
    None
}

fn count(dom: &str, needle: &str) -> usize {
    dom.matches(needle).count()
}

/// The page renders in a real browser without a console error (the CSP would report any
/// attempt to load something), with the points and bars the fixture calls for.
#[test]
fn html_report_renders_in_chromium_with_the_expected_marks() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    fixture(r);
    let mut args = vec!["--format", "json", "ci", "report", "--html", "report.html"];
    args.extend(FIXTURE_EXPORTS);
    args.extend(["--now", NOW]);
    let out = xtask(r, &args);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let html = std::fs::read_to_string(r.join("report.html")).unwrap();
    assert!(!html.contains("<script"), "no script");
    for remote in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "@import",
        "@font-face",
    ] {
        assert!(!html.contains(remote), "nothing from the network: {remote}");
    }
    assert!(html.contains("prefers-color-scheme:dark") && html.contains("name=\"viewport\""));
    let Some(browser) = chromium() else { return };
    let page = format!("file://{}", r.join("report.html").display());
    let run = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!(
            "--user-data-dir={}",
            r.join("chrome-profile").display()
        ))
        .args(["--virtual-time-budget=2000", "--dump-dom", &page])
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&run.stdout);
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "chromium failed: {log}");
    let console: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("CONSOLE")
                || l.contains("Content Security Policy")
                || l.contains("Refused to")
        })
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    // ci: 101, 102, 103, 106 (104 cancelled, 105 unfinished); deploy: 201.
    assert_eq!(
        count(&dom, "class=\"pt ok\"") + count(&dom, "class=\"pt bad\""),
        5,
        "{dom}"
    );
    assert_eq!(count(&dom, "class=\"pt bad\""), 1);
    assert_eq!(count(&dom, "class=\"p50\""), 2, "one p50 line per workflow");
    // Days with counted runs: Jan 5, 6, 7, 8.
    assert_eq!(count(&dom, "class=\"bar day"), 4);
    assert_eq!(count(&dom, "class=\"bar step\""), 4);
    // Failure rate by stage: test (50%) and build (0%).
    assert_eq!(count(&dom, "class=\"bar fail\""), 2);
    assert_eq!(count(&dom, "class=\"bar queue\""), 2);
    assert_eq!(
        count(&dom, "class=\"tile dora\""),
        0,
        "no ledger: the DORA section says so"
    );
    assert!(dom.contains("no deployment ledger"), "{dom}");
    let drawn = &out.json()["drawn"];
    assert_eq!(drawn["success_bars"], 4);
    // A screenshot at phone width renders too (looked at by a person during development).
    let shot = r.join("phone.png");
    let run = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=390,2400",
        ])
        .arg(format!(
            "--user-data-dir={}",
            r.join("chrome-profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real picture"
    );
}
