//! `alerts [--notify]`: the runbook's rules on fixture inputs, and notifications to HTTP
//! servers on 127.0.0.1 that check what they are sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::ci::rest_run;
use crate::support::{finding_with_code, write, xtask, xtask_env};

const NOW: &str = "2026-01-08T12:00:00Z";

/// One request a [`Hooks`] server received.
#[derive(Debug, Clone)]
struct Got {
    path: String,
    headers: String,
    body: String,
}

type Answer = dyn Fn(&str, usize) -> (u16, String) + Send + Sync;

/// An HTTP/1.1 server that reads whole POST bodies; `answer(path, nth request to that
/// path)` gives the status and body.
struct Hooks {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Hooks {
    fn start(answer: Arc<Answer>) -> Hooks {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let got = Arc::new(Mutex::new(Vec::new()));
        let log = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (answer, log) = (answer.clone(), log.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut first = String::new();
                    if reader.read_line(&mut first).is_err() {
                        return;
                    }
                    let mut headers = String::new();
                    let mut len = 0usize;
                    loop {
                        let mut l = String::new();
                        if reader.read_line(&mut l).is_err() || l.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        headers.push_str(&l);
                    }
                    let mut body = vec![0u8; len];
                    let _ = reader.read_exact(&mut body);
                    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let nth = {
                        let mut log = log.lock().unwrap();
                        log.push(Got {
                            path: path.clone(),
                            headers,
                            body: String::from_utf8_lossy(&body).into_owned(),
                        });
                        log.iter().filter(|g| g.path == path).count()
                    };
                    let (status, text) = answer(&path, nth);
                    let mut s = stream;
                    let _ = write!(
                        s,
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                        text.len()
                    );
                });
            }
        });
        Hooks { url, got }
    }

    fn to(&self, path: &str) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|g| g.path == path)
            .map(|g| serde_json::from_str(&g.body).unwrap_or(Value::Null))
            .collect()
    }

    fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

fn ledger_line(id: &str, time: &str, version: &str, previous: &str, outcome: &str) -> String {
    let mut e = json!({"id": id, "time": time, "actor": "ci", "environment": "production",
        "action": "deploy", "version": version, "previous": previous, "commit": null,
        "outcome": outcome, "checks": [], "finished": time});
    if outcome == "rolled-back" {
        e["rolled_back_to"] = json!(previous);
    }
    format!("{e}\n")
}

/// Inputs that breach every rule:
/// - 5 runs finished in the hour to 12:00, 2 failed: 40% > 10%;
/// - their median (150 s) is 50% above the week before's (100 s): > 20%;
/// - a deploy rolled back at 10:00: a failed deployment in the last 24 h;
/// - requests 2.0.0 against a critical advisory;
/// - a test that failed once and passed twice on one commit.
fn breaching_project(root: &Path) {
    let mut runs = Vec::new();
    for (k, (dur, ok)) in [
        (100, true),
        (120, false),
        (150, true),
        (150, true),
        (200, false),
    ]
    .iter()
    .enumerate()
    {
        let created = format!("2026-01-08T11:{:02}:00Z", k * 10);
        let t = chrono::DateTime::parse_from_rfc3339(&created).unwrap();
        let end = (t + chrono::Duration::seconds(*dur))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        runs.push(rest_run(
            500 + k as u64,
            "ci",
            1,
            [&created, &created, &end],
            "completed",
            Some(if *ok { "success" } else { "failure" }),
        ));
    }
    for k in 0..5u64 {
        let created = format!("2025-12-{:02}T10:00:00Z", 27 + k);
        runs.push(rest_run(
            400 + k,
            "ci",
            1,
            [&created, &created, &created.replace("10:00:00", "10:01:40")],
            "completed",
            Some("success"),
        ));
    }
    write(
        root,
        "backups/ci/o/r/runs/page.json",
        &json!({"total_count": runs.len(), "workflow_runs": runs}).to_string(),
    );
    write(
        root,
        "backups/deployments/production.jsonl",
        &(ledger_line("d1", "2026-01-07T09:00:00Z", "v8", "v7", "succeeded")
            + &ledger_line("d2", "2026-01-08T10:00:00Z", "v9", "v8", "rolled-back")),
    );
    write(root, "requirements.txt", "requests==2.0.0\n");
    write(
        root,
        "advisories/PYSEC-2099-1.json",
        r#"{"id":"PYSEC-2099-1","modified":"2099-01-01T00:00:00Z","summary":"Credentials leak in requests",
        "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected":[{"package":{"ecosystem":"PyPI","name":"requests"},
          "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.1.0"}]}]}]}"#,
    );
    let junit = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit/flaky");
    for n in 1..=3 {
        let xml = std::fs::read_to_string(junit.join(format!("run-{n}.xml"))).unwrap();
        write(root, &format!("reports/junit-{n}.xml"), &xml);
    }
}

const CONFIG: &str = "[audit]\ndb = [\"advisories\"]\n";

/// A temporary [`breaching_project`] with `config` as its `maintenance.toml`.
fn breaching_tree(config: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    breaching_project(t.path());
    write(t.path(), "maintenance.toml", config);
    t
}

#[test]
fn every_rule_fires_with_its_figure_threshold_and_window() {
    let t = breaching_tree(CONFIG);
    let r = t.path();
    let out = xtask(r, &["--format", "json", "alerts", "--now", NOW]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let v = out.json();
    let states: Vec<(&str, &str)> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rule"].as_str().unwrap(), r["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("build_failure_rate", "breached"),
            ("deployment_failure", "breached"),
            ("security_vulnerability", "breached"),
            ("build_time_trend", "breached"),
            ("test_flakiness", "breached"),
        ]
    );
    let f = finding_with_code(&v, "build-failure-rate");
    assert_eq!(
        f["message"],
        "40% of 5 CI runs failed in the hour to 12:00 UTC on 2026-01-08 (threshold 10%)"
    );
    assert_eq!(
        (f["severity"].as_str(), f["action"].as_str()),
        (Some("high"), Some("notify"))
    );
    close(&f["details"]["failure_rate"], 0.4);
    let f = finding_with_code(&v, "build-time-trend");
    assert_eq!(
        f["message"],
        "workflow `ci`: median duration 2m 30s in the week to 2026-01-08 12:00 UTC against 1m 40s in the window before (+50%, threshold +20%)"
    );
    let f = finding_with_code(&v, "deployment-failure");
    assert_eq!(
        (f["severity"].as_str(), f["action"].as_str()),
        (Some("critical"), Some("page"))
    );
    let m = f["message"].as_str().unwrap();
    assert!(
        m.starts_with("production: the deploy of v9 failed its checks and was rolled back to v8"),
        "{m}"
    );
    assert!(m.contains("the day to 2026-01-08 12:00 UTC"), "{m}");
    let f = finding_with_code(&v, "security-vulnerability");
    assert_eq!(
        (f["severity"].as_str(), f["action"].as_str()),
        (Some("critical"), Some("incident"))
    );
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("requests 2.0.0: PYSEC-2099-1"),
        "{f}"
    );
    let f = finding_with_code(&v, "test-flakiness");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .starts_with("tests.test_api::test_sometimes is flaky"),
        "{f}"
    );
    // Without --notify nothing is written.
    assert!(!r.join("backups/alerts").exists());
}

fn close(v: &Value, want: f64) {
    assert!((v.as_f64().unwrap() - want).abs() < 1e-9, "{v} != {want}");
}

const TARGETS: &str = r#"
[alerts]
retries = 2
retry_backoff_ms = 10
[[alerts.targets]]
name = "slack"
kind = "slack"
url_env = "TEST_SLACK_URL"
[[alerts.targets]]
name = "incidents"
kind = "webhook"
url_env = "TEST_HOOK_URL"
actions = ["incident", "page"]
[[alerts.targets]]
name = "pagerduty"
kind = "pagerduty"
url_env = "TEST_PD_URL"
routing_key_env = "TEST_PD_KEY"
"#;

const SLACK: &str = "/services/T000/B000/sl4ck-s3cret";
const PD_KEY: &str = "pd-r0uting-key-123";

#[test]
fn notify_sends_each_breach_once_per_target_and_never_loses_one() {
    let t = breaching_tree(&format!("{CONFIG}{TARGETS}"));
    let r = t.path();
    let hook_down = Arc::new(AtomicBool::new(false));
    let down = hook_down.clone();
    let hooks = Hooks::start(Arc::new(move |path: &str, nth: usize| match path {
        // Slack answers its first request with a 500: retried.
        SLACK if nth == 1 => (500, "server_error".into()),
        SLACK => (200, "ok".into()),
        "/incidents" if down.load(Ordering::SeqCst) => (503, "unavailable".into()),
        "/incidents" => (200, "{}".into()),
        "/v2/enqueue" => (
            202,
            r#"{"status":"success","message":"Event processed"}"#.into(),
        ),
        _ => (404, "no".into()),
    }));
    let env = [
        ("TEST_SLACK_URL", format!("{}{SLACK}", hooks.url)),
        ("TEST_HOOK_URL", format!("{}/incidents", hooks.url)),
        ("TEST_PD_URL", format!("{}/v2/enqueue", hooks.url)),
        ("TEST_PD_KEY", PD_KEY.to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let notify = || {
        xtask_env(
            r,
            &env,
            &["--format", "json", "alerts", "--notify", "--now", NOW],
        )
    };
    let out = notify();
    assert_eq!(
        out.code, 1,
        "breaches, all delivered: {}{}",
        out.stdout, out.stderr
    );
    // Slack: every breach (the first attempt of the first one failed and was retried).
    let slack = hooks.to(SLACK);
    assert_eq!(slack.len(), 6, "{slack:#?}");
    let texts: Vec<&str> = slack[1..]
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("[HIGH] build-failure-rate: 40% of 5 CI runs failed")),
        "{texts:#?}"
    );
    for s in &slack {
        assert_eq!(s["blocks"][0]["type"], "header");
        assert_eq!(s["blocks"][1]["type"], "section");
    }
    // The incident webhook: the vulnerability (incident) and the deployment (page).
    let hook = hooks.to("/incidents");
    let mut codes: Vec<&str> = hook.iter().map(|h| h["code"].as_str().unwrap()).collect();
    codes.sort();
    assert_eq!(codes, ["deployment-failure", "security-vulnerability"]);
    assert!(
        hook.iter()
            .all(|h| h["source"] == "cargo-xtask" && h["firing"] == true)
    );
    // PagerDuty: the page, as an Events API v2 trigger.
    let pd = hooks.to("/v2/enqueue");
    assert_eq!(pd.len(), 1);
    assert_eq!(pd[0]["routing_key"], PD_KEY);
    assert_eq!(pd[0]["event_action"], "trigger");
    assert_eq!(pd[0]["payload"]["severity"], "critical");
    assert_eq!(pd[0]["payload"]["class"], "deployment-failure");
    assert!(
        pd[0]["dedup_key"]
            .as_str()
            .unwrap()
            .contains("deployment_failure:production:d2")
    );
    assert!(pd[0]["payload"]["summary"].as_str().unwrap().contains("v9"));
    let got = hooks.got.lock().unwrap().clone();
    assert!(got.iter().all(|g| {
        g.headers
            .to_ascii_lowercase()
            .contains("content-type: application/json")
    }));
    // No secret in output or state.
    let state = std::fs::read_to_string(r.join("backups/alerts/state.json")).unwrap();
    for text in [&out.stdout, &out.stderr, &state] {
        assert!(
            !text.contains("sl4ck-s3cret") && !text.contains(PD_KEY),
            "a secret leaked: {text}"
        );
    }
    // Again: nothing new, nothing sent.
    let before = hooks.count();
    let out = notify();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(hooks.count(), before, "no breach is sent twice");
    assert_eq!(out.json()["deliveries"], json!([]));

    // A new failed deploy while the incident webhook is down: exit 2, the breach is kept.
    hook_down.store(true, Ordering::SeqCst);
    let ledger = r.join("backups/deployments/production.jsonl");
    let mut text = std::fs::read_to_string(&ledger).unwrap();
    text += &ledger_line("d3", "2026-01-08T11:00:00Z", "v10", "v8", "failed");
    std::fs::write(&ledger, &text).unwrap();
    let out = notify();
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let v = out.json();
    let f = finding_with_code(&v, "notification-failed");
    let m = f["message"].as_str().unwrap();
    assert!(
        m.contains("incidents")
            && m.contains("HTTP 503")
            && m.contains("3 attempt(s)")
            && m.contains("next `alerts --notify`"),
        "{m}"
    );
    assert!(!m.contains("/incidents"), "the URL is not shown: {m}");
    assert_eq!(hooks.to("/incidents").len(), 2 + 3, "three attempts");
    assert_eq!(
        hooks.to("/v2/enqueue").len(),
        2,
        "PagerDuty got the new page"
    );
    // The failed deploy is fixed (the entry goes), the webhook is back: the kept breach
    // is still delivered, marked as no longer firing, and then forgotten.
    std::fs::write(
        &ledger,
        text.lines()
            .take(2)
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    )
    .unwrap();
    hook_down.store(false, Ordering::SeqCst);
    let out = notify();
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let hook = hooks.to("/incidents");
    let last = hook.last().unwrap();
    assert_eq!(last["code"], "deployment-failure");
    assert_eq!(last["firing"], false);
    assert!(last["message"].as_str().unwrap().contains("v10"));
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(r.join("backups/alerts/state.json")).unwrap(),
    )
    .unwrap();
    assert!(
        !state["breaches"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.contains("d3")),
        "{state:#}"
    );
    // The audit log records the notifying runs.
    let log = std::fs::read_to_string(r.join("backups/audit.log")).unwrap_or_default();
    assert!(log.contains("alerts --notify"), "{log}");
}

#[test]
fn a_rule_without_its_input_is_not_a_pass() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let adb = r.join("empty-cache");
    let out = xtask_env(
        r,
        &[("XTASK_ADVISORY_CACHE", adb.to_str().unwrap())],
        &["--format", "json", "alerts", "--now", NOW],
    );
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let v = out.json();
    let not: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "alert-not-evaluated")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(not.len(), 4, "{not:#?}");
    assert!(
        not[0].starts_with("build_failure_rate could not be evaluated")
            && not[0].contains("ci fetch"),
        "{not:#?}"
    );
    assert!(
        not.iter()
            .any(|m| m.starts_with("security_vulnerability could not be evaluated: audit:")),
        "{not:#?}"
    );
    // Turned off, they are not evaluated, and nothing fails.
    write(
        r,
        "maintenance.toml",
        "[alerts.build_failure_rate]\nenabled = false\n[alerts.build_time_trend]\nenabled = false\n[alerts.security_vulnerability]\nenabled = false\n[alerts.test_flakiness]\nenabled = false\n",
    );
    let out = xtask(r, &["--format", "json", "alerts", "--now", NOW]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // --notify without a target says what to add.
    let out = xtask(r, &["alerts", "--notify"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("[[alerts.targets]]"), "{}", out.stderr);
    // A URL written into the config instead of a variable's name is refused.
    write(
        r,
        "maintenance.toml",
        "[[alerts.targets]]\nname = \"s\"\nkind = \"slack\"\nurl_env = \"https://hooks.slack.com/services/T/B/x\"\n",
    );
    let out = xtask(r, &["alerts"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("not an environment variable name"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("hooks.slack.com"),
        "the value is not echoed: {}",
        out.stderr
    );
}
