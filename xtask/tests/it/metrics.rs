//! `metrics`: the exposition checked by promtool, the textfile, the alert rules against
//! promtool's unit tests, a real Prometheus scraping `metrics serve` (values and alerts read
//! back through its query API) and a real Pushgateway receiving `metrics push`.
//!
//! promtool and Prometheus come from Debian's `prometheus` package, the Pushgateway from
//! `prometheus-pushgateway` (`.ci/run` installs both): missing, the tests skip locally and
//! fail when XTASK_REQUIRE_SERVICES=1.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};

use crate::support::*;

/// Programs a test needs: present, or skip locally (a failure in CI, like services).
fn programs(names: &[&str]) -> bool {
    required_programs(
        names,
        "Debian's prometheus and prometheus-pushgateway (apt-get install prometheus prometheus-pushgateway)",
    )
}

/// A child process killed (and reaped) when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.0 exchange with 127.0.0.1:`port`: (status, body).
fn http(port: u16, request: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((status, body.to_string()))
}

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    http(
        port,
        &format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"),
    )
}

/// Retry `f` until it gives something, for at most `limit`.
fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The samples of an exposition: `name{labels}` as written → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

fn value(s: &BTreeMap<String, f64>, key: &str) -> f64 {
    *s.get(key)
        .unwrap_or_else(|| panic!("no {key} in {:#?}", s.keys().collect::<Vec<_>>()))
}

/// `promtool check metrics` on `text`: its complaints (empty when it accepts it).
fn promtool_check(text: &str) -> String {
    let mut p = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    p.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = p.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && said.trim().is_empty() {
        String::new()
    } else {
        format!("exit {:?}: {said}", out.status.code())
    }
}

/// A fake PyPI: requests 2.0.0 is behind 2.31.0 (inside `requests>=2`), flask 1.0 behind
/// 3.0 (outside `flask<2`).
fn fake_pypi() -> TestServer {
    TestServer::start(Arc::new(|path: &str, _: &str| {
        let releases = match path {
            "/pypi/requests/json" => r#"{"releases": {"2.0.0": [{}], "2.31.0": [{}]}}"#,
            "/pypi/flask/json" => r#"{"releases": {"1.0": [{}], "1.1": [{}], "3.0.0": [{}]}}"#,
            _ => return (404, vec![], b"not found".to_vec()),
        };
        (200, vec![], releases.as_bytes().to_vec())
    }))
}

/// A project with everything the metrics describe: backups of both kinds, a vulnerable pin
/// and an advisory database 10 days old, outdated pins (answers in the HTTP cache), an
/// end-of-life base image, a ledger whose newest deploy was rolled back, an overdue secret,
/// a certificate expiring in 10 days, a daily checklist report. Returns it, the HTTP cache
/// and the fake PyPI (whose request log must not grow when metrics run).
struct Project {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
    pypi: TestServer,
}

impl Project {
    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("XTASK_PYPI_URL", format!("{}/pypi", self.pypi.url())),
            ("XTASK_EOL_API", self.pypi.url()),
            ("XTASK_GITHUB_API", self.pypi.url()),
            ("XTASK_HTTP_CACHE", self.cache.path().display().to_string()),
        ]
    }

    fn run(&self, args: &[&str]) -> Run {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        xtask_env(self.root(), &env, args)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = bin();
        for (k, v) in self.env() {
            c.env(k, v);
        }
        c.arg("--root").arg(self.root()).args(args);
        c
    }
}

fn project() -> Project {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    let day = |ago: i64| (Utc::now() - Days::days(ago)).date_naive();
    write(r, ".github/workflows/ci.yml", "name: ci\non: [push]\n");
    write(r, "config/app.yml", "debug: false\n");
    write(
        r,
        "config/.env",
        "DATABASE_PASSWORD=hunter2-never-a-label\n",
    );
    write(r, "Dockerfile", "FROM python:3.8-slim\n");
    write(r, "requirements.in", "requests>=2\nflask<2\n");
    write(r, "requirements.txt", "requests==2.0.0\nflask==1.0\n");
    let config = format!(
        "[audit]\ndb = [\"advisories/osv\"]\n\n[secrets]\ncerts = [\"certs\"]\n\n\
         [secrets.inventory]\nVAULT_DB_PASSWORD = {{ kind = \"db-password\", rotated = \"{}\" }}\n\
         DEPLOY_SSH_KEY = {{ kind = \"ssh-key\", rotated = \"{}\" }}\n\n\
         [deploy.environments.staging]\n\n[ci]\nenvironment = \"staging\"\n\n\
         [alerts.test_flakiness]\nenabled = false\n",
        day(200),
        day(10)
    );
    write(r, "maintenance.toml", &config);
    write(
        r,
        "advisories/osv/PYSEC-2099-1.json",
        r#"{"id":"PYSEC-2099-1","modified":"2099-01-01T00:00:00Z","summary":"requests leaks credentials",
          "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
          "affected":[{"package":{"ecosystem":"PyPI","name":"requests"},
            "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.31.0"}]}]}]}"#,
    );
    let fetched = (Utc::now() - Days::days(10)).to_rfc3339();
    source_updated(r, "advisories/osv", &fetched);
    default_database(
        r,
        "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes(body) VALUES ('a'), ('b');",
    );
    let ledger = [
        ("d1", "v1", "null", "succeeded", ""),
        ("d2", "v2", "\"v1\"", "rolled-back", r#","rolled_back_to":"v1""#),
    ]
    .map(|(id, v, prev, outcome, extra)| {
        format!(
            r#"{{"id":"{id}","time":"{t}","finished":"{t}","actor":"ci","environment":"staging","action":"deploy","version":"{v}","previous":{prev},"commit":null,"outcome":"{outcome}"{extra},"checks":[]}}"#,
            // A minute ago: windows end before the second they are computed in.
            t = (Utc::now() - Days::minutes(1)).to_rfc3339()
        ) + "\n"
    })
    .concat();
    write(r, "backups/deployments/staging.jsonl", &ledger);
    // Two completed CI runs, as `ci fetch` leaves them: a success an hour ago, a failure
    // two days ago (too few runs for a failure-rate verdict).
    let runs: Vec<serde_json::Value> = [(1, 3600, "success"), (2, 48 * 3600, "failure")]
        .into_iter()
        .map(|(id, ago, conclusion)| {
            let created = (Utc::now() - Days::seconds(ago)).to_rfc3339();
            let ended = (Utc::now() - Days::seconds(ago - 600)).to_rfc3339();
            let times = [created.as_str(), &created, &ended];
            crate::ci::rest_run(id, "ci", 1, times, "completed", Some(conclusion))
        })
        .collect();
    let page = serde_json::json!({"total_count": 2, "workflow_runs": runs});
    write(r, "backups/ci/runs-1.json", &page.to_string());
    certificate(dir.path(), &r.join("certs/site.pem"), 10);
    let p = Project {
        dir,
        cache: tempfile::tempdir().unwrap(),
        pypi: fake_pypi(),
    };
    for args in [&["backup"][..], &["outdated"], &["checklist", "daily"]] {
        let run = p.run(args);
        assert!(run.code <= 1, "{args:?}: {}{}", run.stdout, run.stderr);
    }
    p
}

/// A self-signed certificate valid for `days` from now, written to `dest` (its key stays
/// outside the tree).
fn certificate(scratch: &Path, dest: &Path, days: u32) {
    let key = tempfile::NamedTempFile::new_in(scratch.parent().unwrap()).unwrap();
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    run_ok(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=site.example.test",
            ])
            .arg("-days")
            .arg(days.to_string())
            .arg("-keyout")
            .arg(key.path())
            .arg("-out")
            .arg(dest),
        "openssl req",
    );
}

/// The time of the newest backup of `kind` as `backup list` shows it.
fn newest_backup(p: &Project, kind: &str) -> i64 {
    let v = p.run(&["--format", "json", "backup", "list"]).json();
    let time = v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} backup in {v:#}"))["time"]
        .as_str()
        .unwrap()
        .to_string();
    chrono::DateTime::parse_from_rfc3339(&time)
        .unwrap()
        .timestamp()
}

#[test]
fn the_exposition_passes_promtool_and_says_what_the_commands_say() {
    if !programs(&["promtool", "openssl"]) {
        return;
    }
    let p = project();
    let asked = p.pypi.requests().len();
    let run = p.run(&["metrics"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(promtool_check(&run.stdout), "", "{}", run.stdout);
    assert_eq!(p.pypi.requests().len(), asked, "metrics asked the network");
    assert!(!run.stdout.contains("hunter2"), "a secret value in a label");

    let s = samples(&run.stdout);
    let now = Utc::now().timestamp() as f64;
    let newest_db = newest_backup(&p, "db") as f64;
    for (series, want) in [
        (r#"xtask_backups{kind="config"}"#, 1.0),
        (r#"xtask_backups{kind="db"}"#, 1.0),
        (
            r#"xtask_backup_last_success_timestamp_seconds{kind="db"}"#,
            newest_db,
        ),
        (r#"xtask_backup_verified{kind="db"}"#, 1.0),
        (r#"xtask_backup_verified{kind="config"}"#, 1.0),
        (r#"xtask_backup_up_to_date{kind="config"}"#, 1.0),
        (
            r#"xtask_vulnerabilities{ecosystem="PyPI",severity="high"}"#,
            1.0,
        ),
        (
            r#"xtask_vulnerabilities{ecosystem="PyPI",severity="critical"}"#,
            0.0,
        ),
        (
            r#"xtask_outdated_packages{ecosystem="PyPI",kind="compatible"}"#,
            1.0,
        ),
        (
            r#"xtask_outdated_packages{ecosystem="PyPI",kind="major"}"#,
            1.0,
        ),
        ("xtask_outdated_unchecked_packages", 0.0),
        ("xtask_eol_runtimes", 1.0),
        (r#"xtask_deploy_info{env="staging",version="v1"}"#, 1.0),
        (
            r#"xtask_deploy_last_outcome{env="staging",outcome="rolled-back"}"#,
            1.0,
        ),
        (
            r#"xtask_deploy_last_outcome{env="staging",outcome="succeeded"}"#,
            0.0,
        ),
        (
            r#"xtask_deploys_total{env="staging",outcome="rolled-back"}"#,
            1.0,
        ),
        (
            r#"xtask_deploys_total{env="staging",outcome="succeeded"}"#,
            1.0,
        ),
        (
            r#"xtask_secret_rotation_overdue{name="VAULT_DB_PASSWORD",kind="db-password"}"#,
            1.0,
        ),
        (
            r#"xtask_secret_rotation_overdue{name="DEPLOY_SSH_KEY",kind="ssh-key"}"#,
            0.0,
        ),
    ] {
        assert_eq!(value(&s, series), want, "{series}");
    }
    assert!(
        !s.keys().any(|k| k.contains("db-postgres")),
        "not configured"
    );
    let age = value(&s, r#"xtask_advisory_db_age_seconds{source="osv"}"#);
    assert!((age - 10.0 * 86400.0).abs() < 3600.0, "{age}");
    let expiry = value(
        &s,
        r#"xtask_certificate_expiry_timestamp_seconds{path="certs/site.pem",index="1"}"#,
    );
    assert!((expiry - now - 10.0 * 86400.0).abs() < 3600.0, "{expiry}");
    let items: f64 = ["ok", "findings", "failed", "not_configured"]
        .iter()
        .map(|r| {
            value(
                &s,
                &format!(r#"xtask_checklist_items{{cadence="daily",result="{r}"}}"#),
            )
        })
        .sum();
    assert!(items >= 2.0, "backup verify and releases staging: {items}");
    for c in [
        "backup",
        "checklist",
        "deploy",
        "audit",
        "outdated",
        "secrets",
    ] {
        assert_eq!(
            value(
                &s,
                &format!(r#"xtask_collector_success{{collector="{c}"}}"#)
            ),
            1.0
        );
    }

    // OpenMetrics: families without their _total/_info, units, and the end marker.
    let om = p.run(&["metrics", "--openmetrics"]);
    assert_eq!(om.code, 0, "{}", om.stderr);
    assert!(om.stdout.ends_with("\n# EOF\n"), "{}", om.stdout);
    assert!(om.stdout.contains("# TYPE xtask_deploys counter\n"));
    assert!(om.stdout.contains("# TYPE xtask_deploy info\n"));
    assert!(
        om.stdout
            .contains("# UNIT xtask_backup_last_success_timestamp_seconds seconds\n")
    );
    assert!(!om.stdout.contains("\n\n"));
}

#[test]
fn the_textfile_is_replaced_atomically_and_a_failed_collector_is_named() {
    if !programs(&["promtool", "openssl"]) {
        return;
    }
    let p = project();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let run = p.run(&["--format", "json", "metrics", "--textfile", d]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let file = dir.path().join("xtask.prom");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(promtool_check(&text), "");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o444, 0o444, "node_exporter must read it: {mode:o}");
    assert!(tmp_leftovers(dir.path()).is_empty());
    let v = run.json();
    assert_eq!(v["textfile"], file.display().to_string());
    assert!(v["series"].as_u64().unwrap() > 40, "{v:#}");

    // The advisory database gone: the file is still written, says so, and the run is exit 2.
    std::fs::remove_dir_all(p.root().join("advisories")).unwrap();
    let run = p.run(&["--format", "json", "metrics", "--textfile", d]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let f = finding_with_code(&v, "metrics-collector-failed");
    assert!(message_of(f).contains("audit"), "{f}");
    let s = samples(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(
        value(&s, r#"xtask_collector_success{collector="audit"}"#),
        0.0
    );
    assert!(!s.keys().any(|k| k.starts_with("xtask_vulnerabilities")));
    assert_eq!(value(&s, r#"xtask_backups{kind="config"}"#), 1.0);
    // On standard output the exposition is printed and the run still fails, naming it.
    let run = p.run(&["metrics"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("metrics are missing: audit"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains(r#"xtask_collector_success{collector="audit"} 0"#)
    );

    let missing = dir.path().join("nope");
    let run = p.run(&["metrics", "--textfile", missing.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no such directory"), "{}", run.stderr);
    let run = p.run(&["metrics", "--textfile", d, "--openmetrics"]);
    assert_eq!(
        run.code, 2,
        "the textfile collector reads the text format only"
    );
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/metrics")
        .join(name)
}

#[test]
fn rules_pass_promtool_check_and_unit_tests() {
    if !programs(&["promtool"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let rules = t.path().join("rules.yml");
    let run = xtask(t.path(), &["metrics", "rules", rules.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run_ok(
        Command::new("promtool")
            .args(["check", "rules"])
            .arg(&rules),
        "promtool check rules",
    );
    // The committed unit tests, on the rules just written.
    std::fs::copy(fixture("rules.test.yml"), t.path().join("rules.test.yml")).unwrap();
    run_ok(
        Command::new("promtool")
            .args(["test", "rules", "rules.test.yml"])
            .current_dir(t.path()),
        "promtool test rules",
    );
    // Every alert has a test that makes it fire.
    let tests = std::fs::read_to_string(fixture("rules.test.yml")).unwrap();
    let text = std::fs::read_to_string(&rules).unwrap();
    let alerts: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert!(alerts.len() >= 12, "{alerts:?}");
    for a in alerts {
        let fires = tests
            .split(&format!("alertname: {a}\n"))
            .skip(1)
            .any(|rest| rest.trim_start().starts_with("exp_alerts:\n"));
        assert!(fires, "no promtool test makes {a} fire");
    }
    // Standard output gives the same rules.
    let run = xtask(t.path(), &["metrics", "rules"]);
    assert_eq!(run.stdout, text);
}

/// `metrics serve` on a free port: the process and its port.
fn serve(p: &Project) -> (Running, u16) {
    let mut child = p
        .command(&[
            "metrics",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--cache-secs",
            "600",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let running = Running(child);
    let line = lines.next().expect("serve printed nothing").unwrap();
    let port = line
        .rsplit_once("127.0.0.1:")
        .and_then(|(_, rest)| rest.split('/').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no address in `{line}`"));
    // Keep draining what it says (a full pipe would block it).
    std::thread::spawn(move || lines.for_each(drop));
    (running, port)
}

/// A Prometheus query through the HTTP API: the result vector.
fn query(port: u16, q: &str) -> Option<Vec<serde_json::Value>> {
    let q = percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC);
    let (status, body) = get(port, &format!("/api/v1/query?query={q}"))?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    assert_eq!(v["status"], "success", "{q}: HTTP {status} {body}");
    v["data"]["result"].as_array().cloned()
}

#[test]
fn prometheus_scrapes_serve_and_reads_the_values_back() {
    if !programs(&["prometheus", "promtool", "openssl"]) {
        return;
    }
    let p = project();
    let (_serve, port) = serve(&p);
    // The first computation (audit index, backup verification) before Prometheus's 1 s scrape
    // timeout counts: later scrapes are answered from the cache.
    let (status, text) = get(port, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(text.contains("xtask_metrics_cache_age_seconds "), "{text}");
    // Bad requests get an answer, and the server goes on.
    assert_eq!(http(port, "POST /metrics HTTP/1.1\r\n\r\n").unwrap().0, 405);
    assert_eq!(http(port, "\u{1}\u{2} nonsense\r\n\r\n").unwrap().0, 400);
    assert_eq!(get(port, "/../../etc/passwd").unwrap().0, 404);
    let long = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
    assert_eq!(http(port, &long).map(|a| a.0), Some(431));
    let om = http(
        port,
        "GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text; version=1.0.0\r\n\r\n",
    )
    .unwrap();
    assert!(om.1.ends_with("# EOF\n"));

    let t = tempfile::tempdir().unwrap();
    let rules = t.path().join("rules.yml");
    assert_eq!(
        p.run(&["metrics", "rules", rules.to_str().unwrap()]).code,
        0
    );
    let config = t.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: xtask\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n",
            rules.display()
        ),
    )
    .unwrap();
    let prom_port = free_port();
    let _prometheus = Running(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                t.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .arg("--log.level=error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let limit = Duration::from_secs(90);
    let newest = wait_for("Prometheus to scrape metrics serve", limit, || {
        let r = query(
            prom_port,
            r#"xtask_backup_last_success_timestamp_seconds{kind="db"}"#,
        )?;
        r.first()?["value"][1].as_str()?.parse::<f64>().ok()
    });
    assert_eq!(newest, newest_backup(&p, "db") as f64);
    let r = query(prom_port, r#"xtask_deploy_info{env="staging"}"#).unwrap();
    assert_eq!(r[0]["metric"]["version"], "v1", "{r:?}");
    assert_eq!(r[0]["metric"]["job"], "xtask");

    // Every query of the dashboard is valid PromQL on the real data, and most find series.
    let dash: serde_json::Value =
        serde_json::from_str(&p.run(&["metrics", "dashboard"]).stdout).unwrap();
    let exprs: Vec<String> = dash["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect();
    assert!(exprs.len() > 20);
    // `increase` needs two scrapes in its window.
    wait_for("three scrapes", limit, || {
        let r = query(prom_port, "count_over_time(xtask_build_info[5m])")?;
        (r.first()?["value"][1].as_str()?.parse::<f64>().ok()? >= 3.0).then_some(())
    });
    // The fixture's ledger records no commit: no lead time (left out, not 0). Its two CI
    // runs are fewer than build_failure_rate's min_runs: no failure ratio (absent, not 0).
    let empty: Vec<&String> = exprs
        .iter()
        .filter(|e| *e != "xtask_dora_lead_time_seconds" && *e != "xtask_ci_build_failure_ratio")
        .filter(|e| query(prom_port, e).unwrap().is_empty())
        .collect();
    assert!(empty.is_empty(), "no data for {empty:?}");

    // The rules evaluated on these metrics: the alerts the project should raise fire.
    let firing = wait_for("the alerts to fire", limit, || {
        let (_, body) = get(prom_port, "/api/v1/alerts")?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let names: Vec<String> = v["data"]["alerts"]
            .as_array()?
            .iter()
            .filter(|a| a["state"] == "firing")
            .map(|a| a["labels"]["alertname"].as_str().unwrap().to_string())
            .collect();
        (names.len() >= 6).then_some(names)
    });
    for a in [
        "XtaskVulnerabilityHighOrCritical",
        "XtaskAdvisoryDatabaseStale",
        "XtaskDeploymentFailed",
        "XtaskSecretRotationOverdue",
        "XtaskCertificateExpiringSoon",
        "XtaskEolRuntimeInUse",
    ] {
        assert!(firing.iter().any(|f| f == a), "{a} not firing: {firing:?}");
    }
    for a in [
        "XtaskBackupStale",
        "XtaskBackupNotVerified",
        "XtaskBackupMissing",
        "XtaskBuildFailureRate",
    ] {
        assert!(!firing.iter().any(|f| f == a), "{a} fires: {firing:?}");
    }
}

#[test]
fn pushgateway_receives_a_put_and_replaces_the_group() {
    if !programs(&["prometheus-pushgateway", "openssl"]) {
        return;
    }
    let p = project();
    let port = free_port();
    let _gateway = Running(
        Command::new("prometheus-pushgateway")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--persistence.file=")
            .arg("--log.level=error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the Pushgateway", Duration::from_secs(30), || {
        get(port, "/-/ready").filter(|(s, _)| *s == 200)
    });
    let url = format!("http://127.0.0.1:{port}");
    let push = |instance: &str| {
        let run = p.run(&[
            "--format",
            "json",
            "metrics",
            "push",
            &url,
            "--instance",
            instance,
        ]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        run.json()
    };
    // An instance with a `/` goes base64-encoded into the grouping key.
    let v = push("ci/1");
    assert_eq!(
        v["url"],
        format!("{url}/metrics/job/xtask/instance@base64/Y2kvMQ==")
    );
    push("ci-2");
    let gateway = || samples(&get(port, "/metrics").unwrap().1);
    let s = gateway();
    let key = |labels: &str, instance: &str| {
        format!(
            r#"xtask_deploy_info{{env="staging",instance="{instance}",job="xtask",version="v1"}}{labels}"#
        )
    };
    assert_eq!(value(&s, &key("", "ci/1")), 1.0);
    assert_eq!(value(&s, &key("", "ci-2")), 1.0);
    assert!(
        s.keys()
            .any(|k| k.starts_with("push_time_seconds{instance=\"ci/1\""))
    );

    // PUT replaces the whole group: the environment gone from the ledger is gone from the
    // gateway for ci/1, and still there for ci-2 (not pushed again).
    std::fs::remove_file(p.root().join("backups/deployments/staging.jsonl")).unwrap();
    std::fs::write(
        p.root().join("maintenance.toml"),
        "[audit]\ndb = [\"advisories/osv\"]\n",
    )
    .unwrap();
    push("ci/1");
    let s = gateway();
    assert!(
        !s.contains_key(&key("", "ci/1")),
        "a stale series survived the PUT"
    );
    assert_eq!(value(&s, &key("", "ci-2")), 1.0);
    assert_eq!(
        value(
            &s,
            r#"xtask_backups{instance="ci/1",job="xtask",kind="config"}"#
        ),
        1.0
    );

    // A refused push is an error naming the gateway's answer.
    let run = p.run(&["metrics", "push", &format!("{url}/nowhere")]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("HTTP"), "{}", run.stderr);
}

/// CI runs of a small export folder (REST pages, as `ci fetch` writes them) and the DORA
/// figures of a production ledger: the values `ci stats` and `ci dora` compute, and nothing
/// for what has no data.
#[test]
fn ci_and_dora_metrics_come_from_the_exports_and_the_ledger() {
    if !programs(&["promtool"]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    // Before any export or ledger: no CI or DORA series, and not a failure.
    let run = xtask(root, &["metrics"]);
    assert!(!run.stdout.contains("xtask_ci_"), "{}", run.stdout);
    assert!(!run.stdout.contains("xtask_dora_"), "{}", run.stdout);
    let s = samples(&run.stdout);
    assert_eq!(value(&s, r#"xtask_collector_success{collector="ci"}"#), 1.0);
    assert_eq!(
        value(&s, r#"xtask_collector_success{collector="dora"}"#),
        1.0
    );

    let now = Utc::now();
    let at = |ago_secs: i64| (now - Days::seconds(ago_secs)).to_rfc3339();
    // id, workflow, created (seconds ago), duration, status, conclusion. Build: two
    // successes and a failure of 100, 200 and 300 s in the window, one cancelled, one in
    // progress, one success 30 days ago (outside ci.window: counted by the counter only).
    #[rustfmt::skip]
    let runs: Vec<serde_json::Value> = [
        (1, "build", 3 * 3600, 100, "completed", Some("success")),
        (2, "build", 2 * 3600, 200, "completed", Some("success")),
        (3, "build", 3600, 300, "completed", Some("failure")),
        (4, "build", 1800, 50, "completed", Some("cancelled")),
        (5, "build", 600, 0, "in_progress", None),
        (6, "build", 30 * 86400, 400, "completed", Some("success")),
        (7, "release", 7200, 60, "completed", Some("failure")),
    ]
    .into_iter()
    .map(|(id, wf, ago, took, status, conclusion)| {
        let end = if conclusion.is_some() { at(ago - took) } else { at(ago) };
        crate::ci::rest_run(id, wf, 1, [&at(ago), &at(ago), &end], status, conclusion)
    })
    .collect();
    let page = serde_json::json!({"total_count": runs.len(), "workflow_runs": runs});
    write(root, "backups/ci/runs-1.json", &page.to_string());
    // Production: a succeeded deploy (no commit recorded: no lead time), then a failed one
    // whose rollback ended 1 h 6 min after it started.
    let entry = |id: &str, start: i64, end: i64, action: &str, version: &str, outcome: &str| {
        let e = serde_json::json!({
            "id": id, "time": at(start), "finished": at(end), "actor": "ci",
            "environment": "production", "action": action, "version": version,
            "previous": null, "commit": null, "outcome": outcome, "checks": [],
        });
        format!("{e}\n")
    };
    let base = 5 * 86400;
    let ledger = [
        entry(
            "e1",
            10 * 86400,
            10 * 86400 - 300,
            "deploy",
            "v1",
            "succeeded",
        ),
        entry("e2", base, base - 600, "deploy", "v2", "failed"),
        entry(
            "e3",
            base - 3600,
            base - 3960,
            "rollback",
            "v1",
            "succeeded",
        ),
    ]
    .concat();
    write(root, "backups/deployments/production.jsonl", &ledger);

    let run = xtask(root, &["metrics"]);
    assert_eq!(promtool_check(&run.stdout), "", "{}", run.stdout);
    let s = samples(&run.stdout);
    assert_eq!(
        value(&s, r#"xtask_collector_success{collector="ci"}"#),
        1.0,
        "{}",
        run.stderr
    );
    assert_eq!(
        value(&s, r#"xtask_collector_success{collector="dora"}"#),
        1.0,
        "{}",
        run.stderr
    );
    let close = |key: &str, want: f64| {
        let got = value(&s, key);
        assert!((got - want).abs() < 1e-6, "{key}: {got}, not {want}");
    };
    for (key, want) in [
        (
            r#"xtask_ci_runs_total{workflow="build",conclusion="success"}"#,
            3.0,
        ),
        (
            r#"xtask_ci_runs_total{workflow="build",conclusion="failure"}"#,
            1.0,
        ),
        (
            r#"xtask_ci_runs_total{workflow="build",conclusion="cancelled"}"#,
            1.0,
        ),
        (
            r#"xtask_ci_runs_total{workflow="release",conclusion="failure"}"#,
            1.0,
        ),
        (r#"xtask_ci_success_ratio{workflow="build"}"#, 2.0 / 3.0),
        (r#"xtask_ci_success_ratio{workflow="release"}"#, 0.0),
        (
            r#"xtask_ci_duration_seconds{workflow="build",percentile="50"}"#,
            200.0,
        ),
        (
            r#"xtask_ci_duration_seconds{workflow="build",percentile="95"}"#,
            290.0,
        ),
        (
            r#"xtask_ci_duration_seconds{workflow="release",percentile="50"}"#,
            60.0,
        ),
        (
            r#"xtask_dora_deployments_per_week{env="production"}"#,
            2.0 * 7.0 / 30.0,
        ),
        (r#"xtask_dora_change_failure_ratio{env="production"}"#, 0.5),
        (
            r#"xtask_dora_time_to_restore_seconds{env="production"}"#,
            3960.0,
        ),
    ] {
        close(key, want);
    }
    let ci_series = s.keys().filter(|k| k.starts_with("xtask_ci_")).count();
    assert_eq!(ci_series, 4 + 2 + 4, "{:#?}", s.keys().collect::<Vec<_>>());
    // No commit recorded: no lead time, rather than a zero.
    assert!(
        !run.stdout.contains("xtask_dora_lead_time_seconds{"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("# TYPE xtask_ci_runs_total counter"));
}
