//! `outdated` against local HTTP servers on 127.0.0.1 (conditional requests, 404, 5xx then
//! success, slow answers), and once against the real crates.io index and PyPI.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::*;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn index_line(v: &str, yanked: bool, rust: Option<&str>) -> String {
    let rv = rust.map_or("null".to_string(), |r| format!("\"{r}\""));
    format!(
        "{{\"name\":\"x\",\"vers\":\"{v}\",\"deps\":[],\"cksum\":\"00\",\"features\":{{}},\"yanked\":{yanked},\"rust_version\":{rv}}}\n"
    )
}

fn pkg<'a>(v: &'a serde_json::Value, eco: &str, name: &str) -> &'a serde_json::Value {
    v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ecosystem"] == eco && p["name"] == name)
        .unwrap_or_else(|| panic!("{name}: {v:#}"))
}

fn run(root: &Path, env: &[(&str, String)], args: &[&str]) -> Run {
    run_as("json", root, env, args)
}

/// `outdated ARGS` in the output `format`, with env changes (`CONFIG` names a config file).
fn run_as(format: &str, root: &Path, env: &[(&str, String)], args: &[&str]) -> Run {
    let mut c = bin();
    c.arg("--root").arg(root);
    if let Some((_, cfg)) = env.iter().find(|(k, _)| *k == "CONFIG") {
        c.args(["--config", cfg]);
    }
    c.args(["--format", format, "outdated"]).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.env("NO_PROXY", "127.0.0.1")
        .env("no_proxy", "127.0.0.1")
        .output()
        .unwrap()
        .into()
}

#[test]
fn crates_from_a_local_sparse_index_with_revalidation_retries_and_offline() {
    let cargo_lock = std::fs::read_to_string(workspace().join("Cargo.lock")).unwrap();
    let anyhow_locked = cargo_lock
        .split("name = \"anyhow\"\nversion = \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let clap_failures = Arc::new(AtomicUsize::new(0));
    let cf = clap_failures.clone();
    let cur = anyhow_locked.clone();
    let server = TestServer::start(Arc::new(move |path: &str, headers: &str| match path {
        "/an/yh/anyhow" => {
            if headers.contains("If-None-Match: \"anyhow-1\"") {
                return (304, vec!["ETag: \"anyhow-1\"".into()], vec![]);
            }
            let body = index_line(&cur, true, None)
                + &index_line("1.999.0", false, None)
                + &index_line("2.0.0", false, Some("1.99"))
                + &index_line("3.0.0-alpha.1", false, None);
            (200, vec!["ETag: \"anyhow-1\"".into()], body.into_bytes())
        }
        "/cl/ap/clap" => {
            if cf.fetch_add(1, Ordering::SeqCst) == 0 {
                (503, vec![], b"try later".to_vec())
            } else {
                (200, vec![], index_line("4.99.0", false, None).into_bytes())
            }
        }
        "/se/rd/serde" => {
            std::thread::sleep(std::time::Duration::from_millis(1500));
            (200, vec![], index_line("1.999.0", false, None).into_bytes())
        }
        // The GitHub and end-of-life APIs have nothing; every other crate has one version
        // (so that the offline run below finds every crate in the cache).
        p if p.starts_with("/repos/") || p.ends_with(".json") => (404, vec![], vec![]),
        _ => (200, vec![], index_line("0.0.1", false, None).into_bytes()),
    }));
    let cache = tempfile::tempdir().unwrap();
    let fresh_env = [
        ("XTASK_CRATES_INDEX", server.url()),
        ("XTASK_HTTP_CACHE", cache.path().display().to_string()),
        ("XTASK_EOL_API", server.url()),
        ("XTASK_GITHUB_API", server.url()),
    ];
    // Always revalidate, so that every run asks the server (conditionally).
    let cfg = cache.path().join("always-revalidate.toml");
    std::fs::write(&cfg, "[outdated]\ncache_max_age_secs = 0\n").unwrap();
    let mut env = fresh_env.to_vec();
    env.push(("CONFIG", cfg.display().to_string()));
    let r = run(&workspace(), &env, &[]);
    let v = r.json();
    let a = pkg(&v, "crates.io", "anyhow");
    assert_eq!(a["current"], anyhow_locked.as_str());
    assert_eq!(a["compatible"], "1.999.0");
    assert_eq!(
        a["latest"], "2.0.0",
        "pre-releases are skipped when the current version is stable"
    );
    assert!(
        a["notes"][0].as_str().unwrap().contains("needs Rust 1.99"),
        "{a:#}"
    );
    let codes: Vec<(String, String)> = findings(&v)
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                message_of(f).to_string(),
            )
        })
        .collect();
    assert!(
        codes
            .iter()
            .any(|(c, m)| c == "outdated-major" && m.starts_with("anyhow")),
        "{codes:?}"
    );
    assert!(
        codes
            .iter()
            .any(|(c, m)| c == "yanked-version" && m.starts_with("anyhow")),
        "{codes:?}"
    );
    assert_eq!(
        pkg(&v, "crates.io", "clap")["latest"],
        "4.99.0",
        "503 then success: retried"
    );
    assert_eq!(
        pkg(&v, "crates.io", "serde")["latest"],
        "1.999.0",
        "slow answer waited for"
    );
    assert!(
        !codes.iter().any(|(c, _)| c == "registry-unreachable"),
        "{codes:?}"
    );
    assert_eq!(r.code, 0, "every lookup answered: {}", r.stderr);
    assert!(clap_failures.load(Ordering::SeqCst) >= 2);

    // Second run: the cached index is revalidated with If-None-Match and answered by a 304.
    let before = server.requests().len();
    let v2 = run(&workspace(), &env, &[]).json();
    assert_eq!(pkg(&v2, "crates.io", "anyhow")["latest"], "2.0.0");
    let anyhow_reqs: Vec<String> = server.requests()[before..]
        .iter()
        .filter(|r| r.starts_with("/an/yh/anyhow"))
        .cloned()
        .collect();
    assert!(
        anyhow_reqs.iter().any(|r| r.contains(" 304 ")),
        "{anyhow_reqs:?}"
    );

    // With the default max age, a fresh cache answers without any request.
    let before = server.requests().len();
    let v4 = run(&workspace(), &fresh_env, &[]).json();
    assert_eq!(pkg(&v4, "crates.io", "anyhow")["latest"], "2.0.0");
    let again: Vec<String> = server.requests()[before..]
        .iter()
        .filter(|r| {
            ["/an/yh/anyhow ", "/cl/ap/clap ", "/se/rd/serde "]
                .iter()
                .any(|p| r.starts_with(p))
        })
        .cloned()
        .collect();
    assert!(
        again.is_empty(),
        "fresh cache entries are not requested again: {again:?}"
    );

    // Offline: from the cache only, no request at all.
    drop(server);
    let v3 = run(&workspace(), &env, &["--offline", "--exit-code", "3"]);
    assert_eq!(
        v3.code, 3,
        "--exit-code when something is behind: {}",
        v3.stderr
    );
    assert_eq!(pkg(&v3.json(), "crates.io", "anyhow")["latest"], "2.0.0");
}

#[test]
fn python_actions_and_docker_against_local_servers() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    write(
        root,
        "requirements.txt",
        "Requests==2.25.0\nflask==3.0.0 ; python_version >= \"3.9\"\n",
    );
    write(
        root,
        ".github/workflows/ci.yml",
        "jobs:\n  test:\n    strategy:\n      matrix:\n        python-version: ['3.8', '3.12']\n    steps:\n      - uses: actions/checkout@main\n      - uses: actions/setup-python@11bd71901bbe5b1630ceea73d27597364c9af683 # v5.0.0\n",
    );
    write(
        root,
        "Dockerfile",
        "ARG PY=3.8\nFROM python:${PY}-slim AS build\nFROM build AS test\nFROM node:latest\nFROM postgres:16@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
    );
    write(
        root,
        "docker-compose.production.yml",
        "services:\n  app:\n    image: \"hub:${APP_TAG}\"\n  db:\n    image: postgres:13\n",
    );
    let seen_auth = Arc::new(Mutex::new(String::new()));
    let sa = seen_auth.clone();
    let server = TestServer::start(Arc::new(move |path: &str, headers: &str| {
        match path {
        "/pypi/requests/json" => (200, vec![], br#"{"releases": {"2.25.0": [{"yanked": false}], "2.32.3": [{"yanked": false}], "2.33.0": [{"yanked": true}], "3.0.0b1": [{"yanked": false}]}}"#.to_vec()),
        "/pypi/flask/json" => (200, vec![], br#"{"releases": {"3.0.0": [{"yanked": true}], "2.3.0": [{"yanked": false}]}}"#.to_vec()),
        "/eol/python.json" => (200, vec![], br#"[{"cycle": "3.12", "eol": "2026-01-01"}, {"cycle": "3.8", "eol": "2024-10-07"}]"#.to_vec()),
        "/repos/actions/checkout/releases/latest" => {
            *sa.lock().unwrap() = headers.to_string();
            (200, vec![], br#"{"tag_name": "v4.2.2"}"#.to_vec())
        }
        _ => (404, vec![], vec![]),
    }
    }));
    let cache = tempfile::tempdir().unwrap();
    let env = [
        ("XTASK_PYPI_URL", format!("{}/pypi", server.url())),
        ("XTASK_GITHUB_API", server.url()),
        ("GITHUB_TOKEN", "test-token".to_string()),
        ("XTASK_EOL_API", format!("{}/eol", server.url())),
        ("XTASK_HTTP_CACHE", cache.path().display().to_string()),
    ];
    let r = run(root, &env, &[]);
    let v = r.json();
    let req = pkg(&v, "PyPI", "Requests");
    assert_eq!(
        req["latest"], "2.32.3",
        "yanked and pre-releases skipped: {req:#}"
    );
    assert_eq!(
        pkg(&v, "PyPI", "flask")["notes"][0],
        "markers: python_version >= \"3.9\""
    );
    let f = |code: &str| finding_lines(&v, code);
    assert!(
        f("yanked-version")
            .iter()
            .any(|m| m.starts_with("flask 3.0.0")),
        "{:?}",
        f("yanked-version")
    );
    assert!(
        f("outdated-major")
            .iter()
            .any(|m| m.starts_with("Requests 2.25.0 → 2.32.3"))
    );
    let checkout = pkg(&v, "github-actions", "actions/checkout");
    assert_eq!(checkout["latest"], "v4.2.2");
    assert!(
        seen_auth
            .lock()
            .unwrap()
            .contains("Authorization: Bearer test-token")
    );
    assert_eq!(
        pkg(&v, "github-actions", "actions/setup-python")["current"],
        "v5.0.0",
        "SHA pin read through its comment"
    );
    assert!(
        f("mutable-action-ref")
            .iter()
            .any(|m| m.contains("actions/checkout@main"))
    );
    assert_eq!(f("unpinned-action").len(), 1, "the SHA pin is fine");
    let eol = f("eol-runtime");
    assert!(
        eol.iter()
            .any(|m| m.contains("python 3.8") && m.contains("ci.yml:5")),
        "{eol:?}"
    );
    assert!(
        eol.iter()
            .any(|m| m.contains("python 3.8") && m.contains("Dockerfile:2")),
        "{eol:?}"
    );
    assert!(eol.iter().any(|m| m.contains("postgres 13")), "{eol:?}");
    // endoflife.date's answer (served here) wins over the shipped table: 3.12 "ended" in 2026-01.
    assert!(
        eol.iter()
            .any(|m| m.contains("python 3.12") && m.contains("2026-01-01")),
        "{eol:?}"
    );
    assert!(f("latest-tag").iter().any(|m| m.starts_with("node:latest")));
    let unpinned = f("unpinned-image");
    assert!(
        !unpinned.iter().any(|m| m.contains("postgres:16")),
        "digest-pinned: {unpinned:?}"
    );
    assert!(
        !unpinned.iter().any(|m| m.contains("hub:")),
        "deploy-time tags are skipped"
    );
    assert!(
        !v["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "build"),
        "stage references are not images"
    );
    // Markdown renders the same report grouped by ecosystem.
    let md = bin()
        .arg("--root")
        .arg(root)
        .args(["--format", "markdown", "outdated", "--offline"])
        .env("XTASK_HTTP_CACHE", cache.path())
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(
        md.contains("### Python packages (PyPI)") && md.contains("### Docker images"),
        "{md}"
    );
}

#[test]
fn a_given_cargo_lock_is_checked_against_the_index() {
    let t = tempfile::tempdir().unwrap();
    let reg = "registry+https://github.com/rust-lang/crates.io-index";
    write(
        t.path(),
        "old/Cargo.lock",
        &format!(
            "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \"regex\",\n]\n\n[[package]]\nname = \"regex\"\nversion = \"1.0.0\"\nsource = \"{reg}\"\n"
        ),
    );
    let server = TestServer::start(Arc::new(|path: &str, _: &str| match path {
        "/re/ge/regex" => (
            200,
            vec![],
            (index_line("1.0.0", false, None) + &index_line("1.11.1", false, None)).into_bytes(),
        ),
        _ => (404, vec![], vec![]),
    }));
    let cache = tempfile::tempdir().unwrap();
    let env = [
        ("XTASK_CRATES_INDEX", server.url()),
        ("XTASK_HTTP_CACHE", cache.path().display().to_string()),
        ("XTASK_EOL_API", server.url()),
    ];
    let v = run(t.path(), &env, &["old/Cargo.lock"]).json();
    let r = pkg(&v, "crates.io", "regex");
    assert_eq!(r["current"], "1.0.0");
    assert_eq!(r["latest"], "1.11.1");
    assert_eq!(r["kind"], "locked");
    assert_eq!(r["source"], "old/Cargo.lock");
    assert_eq!(v["behind"], 1);
}

/// The real registries: run by .ci/run (XTASK_TEST_NETWORK=1); skipped elsewhere.
#[test]
fn real_crates_io_index_and_pypi() {
    // The network is a service like the others: skipped locally unless XTASK_TEST_NETWORK
    // is set, a failure when XTASK_REQUIRE_SERVICES=1 (.ci/run sets both).
    if service("XTASK_TEST_NETWORK", "the real crates.io index and PyPI").is_none() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "requirements.txt", "requests==2.0.0\n");
    let cache = tempfile::tempdir().unwrap();
    let env = [("XTASK_HTTP_CACHE", cache.path().display().to_string())];
    let v = run(t.path(), &env, &[]).json();
    let latest = pkg(&v, "PyPI", "requests")["latest"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        latest.starts_with("2.") && latest.as_str() >= "2.31",
        "{latest}"
    );
    let v = run(&workspace(), &env, &[]).json();
    let serde = pkg(&v, "crates.io", "serde");
    let l = semver::Version::parse(serde["latest"].as_str().unwrap()).unwrap();
    assert!(l >= semver::Version::new(1, 0, 200), "{serde:#}");
}

/// Findings of a code as "message @path:line".
fn finding_lines(v: &serde_json::Value, code: &str) -> Vec<String> {
    findings_with_code(v, code)
        .into_iter()
        .map(|f| {
            format!(
                "{} @{}:{}",
                message_of(f),
                f["path"].as_str().unwrap_or(""),
                f["line"]
            )
        })
        .collect()
}

/// A fake PyPI answering `/pypi/NAME/json` with these (version, yanked) releases.
fn fake_pypi(releases: &'static [(&'static str, &'static [&'static str])]) -> TestServer {
    TestServer::start(Arc::new(move |path: &str, _: &str| {
        for (name, versions) in releases {
            if path == format!("/pypi/{name}/json") {
                let files: Vec<String> = versions
                    .iter()
                    .map(|v| format!("\"{v}\": [{{\"yanked\": false}}]"))
                    .collect();
                let body = format!("{{\"releases\": {{{}}}}}", files.join(", "));
                return (200, vec![], body.into_bytes());
            }
        }
        (404, vec![], b"not found".to_vec())
    }))
}

fn pypi_env(server: &TestServer, cache: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("XTASK_PYPI_URL", format!("{}/pypi", server.url())),
        ("XTASK_EOL_API", server.url()),
        ("XTASK_GITHUB_API", server.url()),
        ("XTASK_HTTP_CACHE", cache.display().to_string()),
    ]
}

#[test]
fn a_newer_python_version_inside_the_input_range_is_compatible_not_major() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "requirements.in", "attrs>=21\nsix<2\n");
    write(t.path(), "requirements.txt", "attrs==21.0.0\nsix==1.0.0\n");
    let server = fake_pypi(&[
        ("attrs", &["21.0.0", "22.2.0"]),
        ("six", &["1.0.0", "1.16.0", "2.0.0"]),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let v = run(t.path(), &pypi_env(&server, cache.path()), &[]).json();
    let attrs = pkg(&v, "PyPI", "attrs");
    assert_eq!(
        (&attrs["compatible"], &attrs["latest"]),
        (&"22.2.0".into(), &"22.2.0".into())
    );
    let major = finding_lines(&v, "outdated-major");
    let compatible = finding_lines(&v, "outdated-compatible");
    assert!(
        !major.iter().any(|m| m.starts_with("attrs")),
        "22.2.0 is inside `>=21`: {major:?}"
    );
    assert!(
        compatible
            .iter()
            .any(|m| m.starts_with("attrs 21.0.0 → 22.2.0") && m.ends_with("requirements.txt:1")),
        "{compatible:?}"
    );
    assert!(
        major
            .iter()
            .any(|m| m.starts_with("six 1.0.0 → 2.0.0") && m.ends_with("requirements.txt:2")),
        "2.0.0 is outside `<2`: {major:?}"
    );
    assert_eq!(v["behind"], 2);
}

/// A Cargo.lock with one registry crate.
fn cargo_lock(name: &str, version: &str) -> String {
    format!(
        "version = 3\n\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
    )
}

#[test]
fn failed_lookups_make_the_report_incomplete() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "requirements.txt", "six==1.0.0\n");
    write(t.path(), "old/Cargo.lock", &cargo_lock("regex", "1.0.0"));
    let args = ["old/Cargo.lock", "requirements.txt", "--exit-code", "3"];

    // Offline with an empty cache: nothing could be checked.
    let cache = tempfile::tempdir().unwrap();
    let dead = format!("http://127.0.0.1:{}", free_port()); // nothing listens there
    let env = [
        ("XTASK_PYPI_URL", format!("{dead}/pypi")),
        ("XTASK_CRATES_INDEX", dead.clone()),
        ("XTASK_EOL_API", dead.clone()),
        ("XTASK_GITHUB_API", dead.clone()),
        ("XTASK_HTTP_CACHE", cache.path().display().to_string()),
    ];
    let mut offline = args.to_vec();
    offline.push("--offline");
    let r = run(t.path(), &env, &offline);
    let v = r.json();
    assert_eq!(r.code, 2, "not checked is not clean: {v:#}");
    assert_eq!(
        (v["unchecked"].as_u64(), v["behind"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(
        pkg(&v, "PyPI", "six")["notes"][0],
        "not checked: registry lookup failed"
    );
    let table = run_as("table", t.path(), &env, &offline).stdout;
    assert!(
        table.contains("packages: 0 checked, 0 behind, 2 not checked"),
        "{table}"
    );

    // Every lookup failing (nothing listens): the same, with the reasons as findings.
    let r = run(t.path(), &env, &args);
    let v = r.json();
    assert_eq!(r.code, 2, "{v:#}");
    assert_eq!(v["unchecked"], 2);
    let unreachable = finding_lines(&v, "registry-unreachable");
    assert!(
        unreachable.iter().any(|m| m.starts_with("six: "))
            && unreachable.iter().any(|m| m.starts_with("regex: ")),
        "{unreachable:?}"
    );

    // Both answer: complete, and --exit-code still signals what is behind.
    let server = TestServer::start(Arc::new(|path: &str, _: &str| match path {
        "/pypi/six/json" => (
            200,
            vec![],
            br#"{"releases": {"1.0.0": [{}], "1.16.0": [{}]}}"#.to_vec(),
        ),
        "/re/ge/regex" => (
            200,
            vec![],
            (index_line("1.0.0", false, None) + &index_line("1.11.1", false, None)).into_bytes(),
        ),
        _ => (404, vec![], vec![]),
    }));
    let env = [
        ("XTASK_PYPI_URL", format!("{}/pypi", server.url())),
        ("XTASK_CRATES_INDEX", server.url()),
        ("XTASK_EOL_API", server.url()),
        ("XTASK_GITHUB_API", server.url()),
        ("XTASK_HTTP_CACHE", cache.path().display().to_string()),
    ];
    let r = run(t.path(), &env, &args);
    let v = r.json();
    assert_eq!(r.code, 3, "{v:#}");
    assert_eq!(
        (v["unchecked"].as_u64(), v["behind"].as_u64()),
        (Some(0), Some(2))
    );
}

#[test]
fn a_package_the_registry_does_not_have_is_not_found() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "requirements.txt", "no-such-project==1.0.0\n");
    write(
        t.path(),
        "old/Cargo.lock",
        &cargo_lock("no-such-crate", "1.0.0"),
    );
    let server = fake_pypi(&[]);
    let cache = tempfile::tempdir().unwrap();
    let mut env = pypi_env(&server, cache.path());
    env.push(("XTASK_CRATES_INDEX", server.url()));
    let r = run(t.path(), &env, &["old/Cargo.lock", "requirements.txt"]);
    let v = r.json();
    let missing = finding_lines(&v, "package-not-found");
    assert!(
        missing
            .iter()
            .any(|m| m.starts_with("no-such-project: not found on PyPI")),
        "{missing:?}"
    );
    assert!(
        missing
            .iter()
            .any(|m| m.starts_with("no-such-crate: not found on crates.io")),
        "{missing:?}"
    );
    assert!(
        finding_lines(&v, "registry-unreachable").is_empty(),
        "{v:#}"
    );
    assert_eq!(
        pkg(&v, "crates.io", "no-such-crate")["notes"][0],
        "not found on crates.io"
    );
    assert_eq!(
        (r.code, &v["unchecked"]),
        (0, &0.into()),
        "a definite answer"
    );
}

#[test]
fn a_crate_name_that_is_not_ascii_does_not_panic() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "old/Cargo.lock", &cargo_lock("aña", "1.0.0"));
    let server = fake_pypi(&[]);
    let cache = tempfile::tempdir().unwrap();
    let mut env = pypi_env(&server, cache.path());
    env.push(("XTASK_CRATES_INDEX", server.url()));
    let r = run(t.path(), &env, &["old/Cargo.lock"]);
    assert!(
        !r.stderr.contains("panicked") && r.code != 101,
        "{}",
        r.stderr
    );
    let v = r.json();
    // Whether the lockfile reader accepts the name or rejects the file, a report comes out;
    // when it is looked up, its URL path is percent-encoded.
    let asked: Vec<String> = server.requests();
    assert!(
        asked.iter().all(|r| r.is_ascii() && !r.contains('ñ')),
        "{asked:?}"
    );
    assert!(v["packages"].is_array(), "{v:#}");
}

#[test]
fn action_latest_releases_match_their_actions() {
    let t = tempfile::tempdir().unwrap();
    // `aaa` (no owner/repo) sorts first: it must not take checkout's answer; a name with `?`
    // stays one path segment.
    write(
        t.path(),
        ".github/workflows/ci.yml",
        "jobs:\n  t:\n    steps:\n      - uses: aaa@v1\n      - uses: actions/checkout@v4\n      - uses: \"acme/tool?x=1@v1\"\n",
    );
    let server = TestServer::start(Arc::new(|path: &str, _: &str| match path {
        "/repos/actions/checkout/releases/latest" => {
            (200, vec![], br#"{"tag_name": "v4.2.2"}"#.to_vec())
        }
        "/repos/acme/tool%3Fx%3D1/releases/latest" => {
            (200, vec![], br#"{"tag_name": "v9"}"#.to_vec())
        }
        _ => (404, vec![], vec![]),
    }));
    let cache = tempfile::tempdir().unwrap();
    let v = run(t.path(), &pypi_env(&server, cache.path()), &[]).json();
    assert_eq!(
        pkg(&v, "github-actions", "actions/checkout")["latest"],
        "v4.2.2"
    );
    let aaa = pkg(&v, "github-actions", "aaa");
    assert_eq!(aaa["latest"], serde_json::Value::Null, "{aaa:#}");
    assert_eq!(
        aaa["notes"][0],
        "latest unknown: not a GitHub repository (owner/repo)"
    );
    assert_eq!(pkg(&v, "github-actions", "acme/tool?x=1")["latest"], "v9");
}

#[test]
fn an_image_pinned_by_digest_alone_is_not_latest() {
    let t = tempfile::tempdir().unwrap();
    let digest = format!("sha256:{}", "ab".repeat(32));
    write(
        t.path(),
        "Dockerfile",
        &format!("FROM python@{digest}\nFROM node\n"),
    );
    let server = fake_pypi(&[]);
    let cache = tempfile::tempdir().unwrap();
    let v = run(t.path(), &pypi_env(&server, cache.path()), &[]).json();
    let latest = finding_lines(&v, "latest-tag");
    assert!(!latest.iter().any(|m| m.contains("python@")), "{latest:?}");
    assert!(
        latest.iter().any(|m| m.starts_with("node uses")),
        "{latest:?}"
    );
    let python = pkg(&v, "docker", "python");
    assert_eq!(python["kind"], "digest");
}

#[test]
fn images_from_defaults_build_args_and_workflows() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "Dockerfile", "ARG NOVAL\nFROM node:${NOVAL}\n");
    write(
        t.path(),
        "compose.yaml",
        "services:\n  db:\n    image: postgres:${PG_VERSION:-12}\n",
    );
    write(
        t.path(),
        ".github/workflows/ci.yml",
        "jobs:\n  t:\n    container: python:3.7\n    services:\n      cache:\n        image: redis:7\n    steps:\n      - uses: docker://node:14\n",
    );
    let server = fake_pypi(&[]);
    let cache = tempfile::tempdir().unwrap();
    let v = run(t.path(), &pypi_env(&server, cache.path()), &[]).json();
    let eol = finding_lines(&v, "eol-runtime");
    for (what, at) in [
        ("postgres 12", "compose.yaml:3"),
        ("python 3.7", "ci.yml:3"),
        ("node 14", "ci.yml:8"),
    ] {
        assert!(
            eol.iter().any(|m| m.contains(what) && m.ends_with(at)),
            "{what} at {at}: {eol:?}"
        );
    }
    assert!(
        finding_lines(&v, "unpinned-image")
            .iter()
            .any(|m| m.starts_with("redis:7 ")),
        "{v:#}"
    );
    // An ARG without a default: the tag comes at build time, not as `node:`.
    let all = serde_json::to_string(&v).unwrap();
    assert!(
        !all.contains("node: ") && !all.contains("\"node:\""),
        "{v:#}"
    );
    let node = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "node" && p["source"] == "Dockerfile")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(node["current"], serde_json::Value::Null);
    assert!(
        node["notes"][0]
            .as_str()
            .unwrap()
            .contains("set at build or deploy time"),
        "{node:#}"
    );
}

#[test]
fn python_versions_of_block_lists_and_flow_mappings_are_checked() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        ".github/workflows/ci.yml",
        "jobs:\n  t:\n    strategy:\n      matrix:\n        python-version:\n          - \"3.7\"\n          - \"3.12\"\n    steps:\n      - uses: actions/setup-python@v5\n        with: { python-version: \"3.8\" }\n",
    );
    let server = fake_pypi(&[]);
    let cache = tempfile::tempdir().unwrap();
    let v = run(t.path(), &pypi_env(&server, cache.path()), &[]).json();
    let eol = finding_lines(&v, "eol-runtime");
    assert!(
        eol.iter()
            .any(|m| m.contains("python 3.7") && m.ends_with("ci.yml:6")),
        "{eol:?}"
    );
    assert!(
        eol.iter()
            .any(|m| m.contains("python 3.8") && m.ends_with("ci.yml:10")),
        "{eol:?}"
    );
    assert!(!eol.iter().any(|m| m.contains("python 3.12")), "{eol:?}");
}

#[test]
fn requirements_that_pin_nothing_are_listed_with_a_note() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "requirements.txt",
        "requests[socks]~=2.25\nflask!=2.0.0\nsix>=1.0 ; python_version < \"3\"\nmypkg @ https://example.com/mypkg-1.0.tar.gz\ngit+https://example.com/org/repo.git#egg=repo\n-e ./local-pkg\nattrs==21.0.0\n",
    );
    let server = fake_pypi(&[
        ("requests", &["2.25.0", "2.32.3", "3.0.0"]),
        ("flask", &["2.0.0", "3.0.0"]),
        ("six", &["1.16.0"]),
        ("attrs", &["21.0.0"]),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let r = run(t.path(), &pypi_env(&server, cache.path()), &[]);
    let v = r.json();
    let requests = pkg(&v, "PyPI", "requests");
    assert_eq!(requests["kind"], "unpinned");
    assert_eq!(requests["current"], serde_json::Value::Null);
    assert_eq!(
        (&requests["compatible"], &requests["latest"]),
        (&"2.32.3".into(), &"3.0.0".into()),
        "compatible: the highest `~=2.25` allows"
    );
    assert_eq!(requests["notes"][0], "not pinned: `requests[socks]~=2.25`");
    assert_eq!(pkg(&v, "PyPI", "flask")["latest"], "3.0.0");
    assert_eq!(pkg(&v, "PyPI", "six")["kind"], "unpinned");
    let url = pkg(&v, "PyPI", "mypkg");
    assert_eq!(url["kind"], "url");
    assert_eq!(
        url["notes"][0],
        "not from PyPI: `mypkg @ https://example.com/mypkg-1.0.tar.gz`"
    );
    assert_eq!(
        pkg(&v, "PyPI", "git+https://example.com/org/repo.git#egg=repo")["kind"],
        "url"
    );
    let editable = pkg(&v, "PyPI", "./local-pkg");
    assert_eq!(editable["kind"], "editable");
    assert_eq!(editable["source"], "requirements.txt");
    assert!(
        !server.requests().iter().any(|r| r.contains("mypkg")),
        "a URL requirement is not looked up on PyPI"
    );
    assert_eq!((r.code, &v["behind"]), (0, &0.into()), "{v:#}");
}

/// An answer that does not parse (a proxy's error page with an ETag) is not kept: the next
/// run asks again instead of revalidating the broken body forever (#18.6).
#[test]
fn an_answer_that_does_not_parse_is_not_revalidated_forever() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "requirements.txt", "attrs==21.0.0\n");
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let server = TestServer::start(Arc::new(move |path: &str, headers: &str| {
        if path != "/pypi/attrs/json" {
            return (404, vec![], b"not found".to_vec());
        }
        if headers.contains("If-None-Match: \"broken\"") {
            return (304, vec!["ETag: \"broken\"".into()], vec![]);
        }
        if c.fetch_add(1, Ordering::SeqCst) == 0 {
            let page = b"<html>proxy error</html>".to_vec();
            return (200, vec!["ETag: \"broken\"".into()], page);
        }
        let body =
            br#"{"releases": {"21.0.0": [{"yanked": false}], "22.2.0": [{"yanked": false}]}}"#;
        (200, vec![], body.to_vec())
    }));
    let cache = tempfile::tempdir().unwrap();
    let cfg = cache.path().join("always-revalidate.toml");
    std::fs::write(&cfg, "[outdated]\ncache_max_age_secs = 0\n").unwrap();
    let mut env = pypi_env(&server, cache.path());
    env.push(("CONFIG", cfg.display().to_string()));
    let first = run(t.path(), &env, &[]);
    assert_eq!(
        first.code, 2,
        "an unreadable answer leaves attrs unchecked: {}",
        first.stdout
    );
    let second = run(t.path(), &env, &[]);
    assert_eq!(second.code, 0, "{}{}", second.stdout, second.stderr);
    assert_eq!(pkg(&second.json(), "PyPI", "attrs")["latest"], "22.2.0");
}

/// An HTTP cache that cannot be written does not lose the report: the run goes on without
/// caching and says so (#18.14).
#[test]
fn an_unwritable_http_cache_degrades_to_no_cache_with_a_finding() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "requirements.txt", "six==1.0.0\n");
    let server = fake_pypi(&[("six", &["1.0.0", "1.16.0"])]);
    let cache = tempfile::tempdir().unwrap();
    // A file where the cache folder should be: no permission bits stop root, this does.
    let blocked = write(cache.path(), "not-a-dir", "");
    let v = run(t.path(), &pypi_env(&server, &blocked.join("http")), &[]).json();
    assert_eq!(pkg(&v, "PyPI", "six")["latest"], "1.16.0", "{v:#}");
    let f = finding_with_code(&v, "http-cache-unusable");
    assert!(message_of(f).contains("XTASK_HTTP_CACHE"), "{f}");
    assert_eq!(v["exit_code"], 0, "the report is complete: {v:#}");
}

/// Without noise: no crates index line for a tree without Rust; an image used twice is one
/// row naming both lines; section titles styled alike.
#[test]
fn the_table_names_sections_alike_and_lists_an_image_once_with_its_lines() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "Dockerfile",
        "FROM python:3.9-slim AS build\nRUN true\nFROM python:3.9-slim\n",
    );
    write(t.path(), "requirements.txt", "six==1.0.0\n");
    let server = fake_pypi(&[("six", &["1.0.0"])]);
    let cache = tempfile::tempdir().unwrap();
    let run = run_as("table", t.path(), &pypi_env(&server, cache.path()), &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        !lines.iter().any(|l| l.trim_start().starts_with("index: ")),
        "{}",
        run.stdout
    );
    for title in ["Python packages (PyPI)", "Docker images"] {
        assert!(lines.contains(&title), "{title}: {}", run.stdout);
    }
    for old in ["PyPI", "docker", "github-actions", "crates.io"] {
        assert!(!lines.contains(&old), "{old}: {}", run.stdout);
    }
    let python: Vec<&&str> = lines.iter().filter(|l| l.starts_with("python ")).collect();
    assert_eq!(python.len(), 1, "{}", run.stdout);
    let cells: Vec<&str> = python[0]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cells[..6],
        [
            "python",
            "3.9-slim",
            "-",
            "-",
            "tag",
            "Dockerfile:1, Dockerfile:3"
        ],
        "{}",
        run.stdout
    );
    // JSON keeps one entry per place, with its line.
    let v = run_as("json", t.path(), &pypi_env(&server, cache.path()), &[]).json();
    let places: Vec<(String, u64)> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "python")
        .map(|p| {
            (
                p["source"].as_str().unwrap().into(),
                p["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(places, [("Dockerfile".into(), 1), ("Dockerfile".into(), 3)]);
}
