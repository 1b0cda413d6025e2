//! `deploy` / `rollback` / `releases` against the machine's real Docker engine and compose
//! tool, with images built here (FROM scratch + a static test server). No registry.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const SERVER: &str = r#"
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
fn main() {
    let version = std::env::var("VERSION").unwrap_or_default();
    let healthy = std::env::var("HEALTHY").map(|v| v == "1").unwrap_or(false);
    if std::env::args().nth(1).as_deref() == Some("check") {
        let ok = TcpStream::connect("127.0.0.1:8080")
            .and_then(|mut s| {
                s.write_all(b"GET /health HTTP/1.0\r\n\r\n")?;
                let mut b = String::new();
                s.read_to_string(&mut b)?;
                Ok(b.starts_with("HTTP/1.0 200"))
            })
            .unwrap_or(false);
        std::process::exit(if ok { 0 } else { 1 });
    }
    let l = TcpListener::bind("0.0.0.0:8080").unwrap();
    for s in l.incoming() {
        let Ok(mut s) = s else { continue };
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).unwrap_or(0);
        let req = String::from_utf8_lossy(&buf[..n]);
        let (code, body) = if req.starts_with("GET /health") {
            if healthy { ("200 OK", "ok".to_string()) } else { ("503 Service Unavailable", "sick".to_string()) }
        } else {
            ("200 OK", format!("version {version}"))
        };
        let _ = write!(s, "HTTP/1.0 {code}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    }
}
"#;

/// Is a Docker engine reachable? Missing: skip locally, but fail when XTASK_REQUIRE_SERVICES=1
/// (as `.ci/run` sets it), like [`service`]: CI can never pass by skipping.
fn docker_available() -> bool {
    let info = Command::new("docker").arg("info").output();
    if info.as_ref().is_ok_and(|o| o.status.success()) {
        return true;
    }
    let why = match &info {
        Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
        Err(e) => e.to_string(),
    };
    assert!(
        !std::env::var("XTASK_REQUIRE_SERVICES").is_ok_and(|v| v == "1"),
        "a Docker engine is required (XTASK_REQUIRE_SERVICES=1) but `docker info` failed: {why}"
    );
    eprintln!("skipped: no Docker engine (`docker info` failed: {why})");
    false
}

fn compose() -> Vec<&'static str> {
    if Command::new("docker")
        .args(["compose", "version"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        vec!["docker", "compose"]
    } else {
        vec!["docker-compose"]
    }
}

/// Images `<repo>:v1` (healthy), `:v2` (health endpoint fails), `:v3` (healthy), `:v4`
/// (health `starting` for a minute: its first check comes after 60 s); removed on drop.
struct Images {
    repo: String,
    root: PathBuf,
}

impl Images {
    /// `name` keeps the images of tests running at the same time apart.
    fn build(work: &Path, name: &str) -> Images {
        let repo = format!("xtask-it-app-{}-{name}", std::process::id());
        let ctx = work.join("image");
        fs::create_dir_all(&ctx).unwrap();
        fs::write(ctx.join("server.rs"), SERVER).unwrap();
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        run_ok(
            Command::new(rustc)
                .args([
                    "-O",
                    "-C",
                    "target-feature=+crt-static",
                    "server.rs",
                    "-o",
                    "server",
                ])
                .current_dir(&ctx),
            "building the test server",
        );
        for (v, healthy, interval) in [("v1", 1, 1), ("v2", 0, 1), ("v3", 1, 1), ("v4", 1, 60)] {
            fs::write(
                ctx.join("Dockerfile"),
                format!(
                    "FROM scratch\nCOPY server /server\nENV VERSION={v} HEALTHY={healthy}\n\
                     HEALTHCHECK --interval={interval}s --timeout=2s --retries=2 CMD [\"/server\", \"check\"]\nENTRYPOINT [\"/server\"]\n"
                ),
            )
            .unwrap();
            run_ok(
                Command::new("docker")
                    .args(["build", "-q", "-t", &format!("{repo}:{v}"), "."])
                    .current_dir(&ctx),
                "docker build",
            );
        }
        Images {
            repo,
            root: work.to_path_buf(),
        }
    }
}

impl Drop for Images {
    fn drop(&mut self) {
        let c = compose();
        let _ = Command::new(c[0])
            .args(&c[1..])
            .args(["-f", "docker-compose.staging.yml", "down", "-t", "1"])
            .current_dir(&self.root)
            .output();
        for v in ["v1", "v2", "v3", "v4"] {
            let _ = Command::new("docker")
                .args(["rmi", "-f", &format!("{}:{v}", self.repo)])
                .output();
        }
    }
}

/// [`Images`] built for a test `name`, and `docker-compose.staging.yml` running them on a
/// free port of 127.0.0.1 (returned).
fn docker_project(root: &Path, name: &str) -> (Images, u16) {
    let images = Images::build(root, name);
    let port = free_port();
    write(
        root,
        "docker-compose.staging.yml",
        &format!(
            "version: \"2.4\"\nservices:\n  app:\n    image: \"{}:${{APP_TAG}}\"\n    ports:\n      - \"127.0.0.1:{port}:8080\"\n",
            images.repo
        ),
    );
    (images, port)
}

fn get(port: u16) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "5",
            &format!("http://127.0.0.1:{port}/"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn deploy_fail_auto_rollback_then_manual_rollback() {
    if !docker_available() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let (_images, port) = docker_project(root, "rollback");
    write(
        root,
        "maintenance.toml",
        &format!(
            "[deploy]\nhealth_timeout_secs = 30\nbackup_db = true\n[deploy.environments.staging]\nsmoke = [{{ url = \"http://127.0.0.1:{port}/\", body = \"version\", retries = 3 }}]\nsmoke_script = \"scripts/smoke-tests.sh\"\n"
        ),
    );

    // The service's database, backed up before every deploy.
    let db = default_database(
        root,
        "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('before v3');",
    );

    let smoke = write(
        root,
        "scripts/smoke-tests.sh",
        "#!/bin/sh\necho \"$1\" >> smoke-ran\n",
    );
    chmod(&smoke, 0o755);

    // The plan, and nothing else.
    let dry = xtask(root, &["deploy", "staging", "v1", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
    assert!(
        dry.stdout.contains("APP_TAG=v1") && dry.stdout.contains("up -d --no-deps app"),
        "{}",
        dry.stdout
    );
    assert!(!root.join("backups/deployments/staging.jsonl").exists());

    let run = xtask(root, &["deploy", "staging", "v1"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(get(port), "version v1");

    // v2's health endpoint fails: automatic rollback to v1.
    let run = xtask_json(root, &["deploy", "staging", "v2"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(v["entry"]["outcome"], "rolled-back");
    assert_eq!(v["entry"]["rolled_back_to"], "v1");
    assert!(has_finding(&v, "deploy-rolled-back"));
    assert_eq!(get(port), "version v1", "v1 answers again");

    // A failing migration deploys nothing and names the backup to restore.
    let config = fs::read_to_string(root.join("maintenance.toml")).unwrap();
    write(root, "maintenance.toml", &config.replace("backup_db = true\n", "backup_db = true\nmigrate = [\"sh\", \"-c\", \"test \\\"$APP_TAG\\\" = v3 && exit 3\"]\n"));
    let run = xtask_json(root, &["deploy", "staging", "v3"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let f = finding_with_code(&v, "migration-failed");
    assert!(message_of(f).contains("restore db db_backup_"), "{f:#}");
    assert_eq!(get(port), "version v1", "nothing was deployed");
    write(root, "maintenance.toml", &config);

    let run = xtask(root, &["deploy", "staging", "v3"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(get(port), "version v3");

    // Written after the deploy of v3: a database restore of the rollback would lose it.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("INSERT INTO notes VALUES ('after v3')", [])
        .unwrap();
    let count = || -> i64 {
        rusqlite::Connection::open(&db)
            .unwrap()
            .query_row("SELECT count(*) FROM notes", [], |r| r.get(0))
            .unwrap()
    };

    // Default rollback target: the newest good version before the current one (v1; v2 failed).
    let dry = xtask(root, &["rollback", "staging", "--dry-run"]);
    assert!(dry.stdout.contains("v3 → v1"), "{}", dry.stdout);
    let run = xtask(root, &["rollback", "staging", "--to", "v1", "--restore-db"]);
    assert_eq!(run.code, 2, "--restore-db needs --yes: {}", run.stdout);
    assert!(run.stderr.contains("lost"), "{}", run.stderr);
    assert_eq!(count(), 2);
    let run = xtask_json(
        root,
        &["rollback", "staging", "--to", "v1", "--restore-db", "--yes"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(get(port), "version v1");
    assert_eq!(
        count(),
        1,
        "the database is back to its state before the deploy of v3"
    );

    // A version whose image does not exist is refused before anything changes.
    let run = xtask(root, &["rollback", "staging", "--to", "v9"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("not available locally"),
        "{}",
        run.stderr
    );
    assert_eq!(get(port), "version v1");

    let v = xtask_json(root, &["releases", "staging"]).json();
    let steps: Vec<(String, String, String)> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["version"].as_str().unwrap().into(),
                e["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("deploy", "v1", "succeeded"),
        ("deploy", "v2", "rolled-back"),
        ("deploy", "v3", "aborted"),
        ("deploy", "v3", "succeeded"),
        ("rollback", "v1", "succeeded"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(steps, want);
    assert_eq!(v["current"], "v1");
    let e = &v["entries"][1];
    assert_eq!(e["previous"], "v1");
    assert!(
        e["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "health" && c["ok"] == false),
        "{e:#}"
    );
    // Every deploy and rollback is in the audit log.
    let log = fs::read_to_string(root.join("backups/audit.log")).unwrap();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("deploy staging") || l.contains("rollback staging"))
            .count(),
        7,
        "{log}"
    );
    assert!(
        log.contains("\"outcome\":\"failed: --restore-db replaces"),
        "refusals are logged too"
    );
    let deploys = v["entries"].as_array().unwrap();
    assert_eq!(
        fs::read_to_string(root.join("smoke-ran"))
            .unwrap()
            .lines()
            .next(),
        Some("staging")
    );
    assert!(
        deploys[3]["db_backup"]
            .as_str()
            .is_some_and(|b| b.starts_with("db_backup_")),
        "{:#}",
        deploys[3]
    );
}

#[test]
fn ledger_lock_and_torn_lines_without_docker() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let ledger = root.join("backups/deployments/prod.jsonl");
    fs::create_dir_all(ledger.parent().unwrap()).unwrap();
    let entry = |v: &str, outcome: &str| ledger_line_of("prod", "deploy", v, outcome);
    fs::write(
        &ledger,
        format!(
            "{}{}{{\"time\":\"2026-01-0",
            entry("v1", "succeeded"),
            entry("v2", "succeeded")
        ),
    )
    .unwrap();
    let run = xtask_json(root, &["releases", "prod"]);
    let v = run.json();
    assert_eq!(v["current"], "v2");
    assert_eq!(v["entries"].as_array().unwrap().len(), 2);
    let torn = finding_with_code(&v, "ledger-torn-line");
    assert!(message_of(torn).contains("line 3"), "{torn:#}");
    // A deploy that cannot start (no compose file) is refused with a clear message.
    let run = xtask(root, &["deploy", "prod", "v3"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("docker-compose.prod.yml"),
        "{}",
        run.stderr
    );
    // The per-environment lock: a second deploy fails at once, naming the holder.
    write(
        root,
        "docker-compose.prod.yml",
        "version: \"2.4\"\nservices:\n  app:\n    image: \"x:${APP_TAG}\"\n",
    );
    let lock = root.join("backups/deployments/prod.lock");
    let _held = hold_lock(
        &lock,
        "`deploy prod v2` (pid 42, user alice, since 2026-01-01T00:00:00Z)",
    );
    let run = xtask(root, &["deploy", "prod", "v3"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("user alice"), "{}", run.stderr);
    assert!(
        xtask(root, &["deploy", "../x", "v1"])
            .stderr
            .contains("letters, digits")
    );
}

/// Stand-ins for `docker` and `docker-compose` on PATH, for what a real engine cannot show
/// (a docker error, whether a pull happened). Each logs its arguments to `calls`; `docker`
/// answers with the shell `case` arms given (`$*` is its arguments), else exits 0.
struct FakeDocker {
    bin: PathBuf,
    calls: PathBuf,
}

impl FakeDocker {
    fn new(root: &Path, docker_cases: &str) -> FakeDocker {
        let bin = root.join("fake-bin");
        let calls = root.join("docker-calls");
        let log = calls.display();
        let compose = format!(
            "#!/bin/sh\necho \"APP_TAG=$APP_TAG docker-compose $*\" >> '{log}'\ncase \"$*\" in\n\
             version) exit 0;;\n\
             *' config') printf 'services:\\n  app:\\n    image: \"registry.invalid/app:%s\"\\n' \"$APP_TAG\";;\n\
             *' ps -q app') echo c0ffee;;\nesac\n"
        );
        let docker = format!(
            "#!/bin/sh\necho \"docker $*\" >> '{log}'\ncase \"$*\" in\n\
             'compose version') exit 1;;\n{docker_cases}\nesac\nexit 0\n"
        );
        for (name, text) in [("docker-compose", compose), ("docker", docker)] {
            let p = write(root, &format!("fake-bin/{name}"), &text);
            chmod(&p, 0o755);
        }
        write(
            root,
            "docker-compose.staging.yml",
            "services:\n  app:\n    image: \"registry.invalid/app:${APP_TAG}\"\n",
        );
        FakeDocker { bin, calls }
    }

    fn run(&self, root: &Path, args: &[&str]) -> Run {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        xtask_env(root, &[("PATH", &path)], args)
    }

    fn calls(&self) -> String {
        fs::read_to_string(&self.calls).unwrap_or_default()
    }
}

#[test]
fn a_health_gate_timeout_names_the_last_docker_error() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let docker = FakeDocker::new(
        root,
        "'inspect --format'*) echo 'Error response from daemon: permission denied on the socket' >&2; exit 1;;\n\
         'image inspect'*) exit 0;;",
    );
    write(
        root,
        "maintenance.toml",
        "[deploy]\nhealth_timeout_secs = 1\n",
    );
    let run = docker.run(root, &["--format", "json", "deploy", "staging", "v2"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let health = v["entry"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "health")
        .unwrap_or_else(|| panic!("no health check: {v:#}"));
    let detail = health["detail"].as_str().unwrap();
    assert!(
        detail.contains("timed out after 1 s")
            && detail.contains("last docker error: Error response from daemon: permission denied"),
        "{detail}"
    );
    assert!(docker.calls().contains("docker inspect --format"));
}

/// A ledger line of staging as the tool writes it.
fn ledger_line(action: &str, version: &str, outcome: &str) -> String {
    ledger_line_of("staging", action, version, outcome)
}

/// A ledger line of `env` as the tool writes it.
fn ledger_line_of(env: &str, action: &str, version: &str, outcome: &str) -> String {
    format!(
        "{{\"time\":\"2026-01-01T00:00:00Z\",\"actor\":\"a\",\"environment\":\"{env}\",\"action\":\"{action}\",\"version\":\"{version}\",\"previous\":null,\"commit\":null,\"outcome\":\"{outcome}\",\"checks\":[]}}\n"
    )
}

#[test]
fn a_dry_run_checks_the_registry_without_pulling_and_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    // Nothing local; the registry has every version but v9.
    let docker = FakeDocker::new(
        root,
        "'image inspect'*) exit 1;;\n'manifest inspect registry.invalid/app:v9') exit 1;;",
    );
    write(
        root,
        "maintenance.toml",
        "[deploy]\nmigrate = [\"sh\", \"-c\", \"migrate --to \\\"$APP_TAG\\\"\"]\n\
         [deploy.environments.staging]\nsmoke_script = \"scripts/smoke tests.sh\"\n",
    );
    let smoke = write(root, "scripts/smoke tests.sh", "#!/bin/sh\n");
    chmod(&smoke, 0o755);
    write(
        root,
        "backups/deployments/staging.jsonl",
        &format!(
            "{}{}",
            ledger_line("deploy", "v1", "succeeded"),
            ledger_line("deploy", "v2", "succeeded")
        ),
    );
    let before: Vec<String> = snapshot(root);

    let run = docker.run(root, &["rollback", "staging", "--dry-run"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("v2 → v1"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("registry.invalid/app:v1 (in its registry: the deploy pulls it)"),
        "{}",
        run.stdout
    );
    let run = docker.run(root, &["deploy", "staging", "v3", "--dry-run"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // The printed lines are what a shell would run: words quoted where needed.
    assert!(
        run.stdout
            .contains("APP_TAG=v3 sh -c 'migrate --to \"$APP_TAG\"'"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "APP_TAG=v3 docker-compose -f docker-compose.staging.yml up -d --no-deps app"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("'scripts/smoke tests.sh' staging"),
        "{}",
        run.stdout
    );
    let run = docker.run(root, &["rollback", "staging", "--to", "v9", "--dry-run"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("not available"), "{}", run.stderr);

    let calls = docker.calls();
    assert!(
        calls.contains("docker manifest inspect registry.invalid/app:v1"),
        "{calls}"
    );
    for changes in ["pull", " up ", "rm", "run", "migrate"] {
        assert!(
            !calls.contains(changes),
            "a dry run ran `{changes}`: {calls}"
        );
    }
    let after: Vec<String> = snapshot(root)
        .into_iter()
        .filter(|p| p != "docker-calls")
        .collect();
    assert_eq!(after, before, "a dry run writes nothing");
}

#[test]
fn versions_and_configured_paths_are_checked_before_anything_runs() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let docker = FakeDocker::new(root, "");
    for bad in [
        "v1;reboot",
        "v1 v2",
        ".v1",
        "-v1",
        &"v".repeat(129),
        "v1/../x",
        "",
    ] {
        let run = docker.run(root, &["deploy", "staging", "--", bad]);
        assert_eq!(run.code, 2, "{bad}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("not an image tag"),
            "{bad}: {}",
            run.stderr
        );
        let to = format!("--to={bad}");
        let run = docker.run(root, &["rollback", "staging", &to, "--dry-run"]);
        assert!(
            run.stderr.contains("not an image tag"),
            "{bad}: {}",
            run.stderr
        );
    }
    let run = docker.run(root, &["deploy", "staging", &"v".repeat(128), "--dry-run"]);
    assert_eq!(run.code, 0, "128 characters are allowed: {}", run.stderr);
    assert!(run.stdout.contains(&"v".repeat(128)));
    let plans = docker.calls();

    // Paths from the config stay inside the root, like every other configured path.
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "x.yml", "services: {}\n");
    write(outside.path(), "smoke.sh", "#!/bin/sh\n");
    std::os::unix::fs::symlink(outside.path().join("x.yml"), root.join("linked.yml")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("smoke.sh"), root.join("linked.sh")).unwrap();
    let abs = outside.path().join("x.yml").display().to_string();
    for (config, why) in [
        ("[deploy]\ncompose_file = \"../x.yml\"\n", "no `..`"),
        (
            &*format!("[deploy]\ncompose_file = \"{abs}\"\n"),
            "not absolute",
        ),
        ("[deploy]\ncompose_file = \"linked.yml\"\n", "resolves to"),
        (
            "[deploy.environments.staging]\nsmoke_script = \"../smoke.sh\"\n",
            "must stay inside the root (no `..`)",
        ),
        (
            "[deploy.environments.staging]\nsmoke_script = \"linked.sh\"\n",
            "resolves to",
        ),
    ] {
        let key = if config.contains("smoke") {
            "deploy.environments.staging.smoke_script"
        } else {
            "deploy.compose_file"
        };
        write(root, "maintenance.toml", config);
        for args in [
            &["deploy", "staging", "v1"][..],
            &["rollback", "staging", "--to", "v1", "--dry-run"],
        ] {
            let run = docker.run(root, args);
            assert_eq!(run.code, 2, "{config}: {}{}", run.stdout, run.stderr);
            assert!(
                run.stderr.contains(why) && run.stderr.contains(key),
                "{config}: {}",
                run.stderr
            );
            assert!(run.stderr.contains("maintenance.toml"), "{}", run.stderr);
        }
    }
    assert_eq!(docker.calls(), plans, "nothing ran for a refused command");
}

/// `docker` answers for a healthy engine where every image exists and every container is
/// healthy.
const HEALTHY: &str = "'inspect --format'*) echo 'healthy running';;";

#[test]
fn a_second_rollback_steps_further_back_never_forward() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let docker = FakeDocker::new(root, HEALTHY);
    for v in ["v1", "v2", "v3"] {
        let run = docker.run(root, &["deploy", "staging", v]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    }
    let current = || {
        docker
            .run(root, &["--format", "json", "releases", "staging"])
            .json()["current"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for (from, to) in [("v3", "v2"), ("v2", "v1")] {
        let run = docker.run(root, &["rollback", "staging"]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains(&format!("{from} → {to}")),
            "{}",
            run.stdout
        );
        assert_eq!(current(), to);
    }
    let run = docker.run(root, &["rollback", "staging"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("pass --to VERSION"), "{}", run.stderr);
    assert_eq!(current(), "v1");
    // Forward only when asked.
    let run = docker.run(root, &["rollback", "staging", "--to", "v3"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(current(), "v3");
    let ups: Vec<String> = docker
        .calls()
        .lines()
        .filter(|l| l.contains(" up -d"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    let want = ["v1", "v2", "v3", "v2", "v1", "v3"].map(|v| format!("APP_TAG={v}"));
    assert_eq!(ups, want);
}

/// The version the service's container actually runs, from Docker itself.
fn running_version(root: &Path) -> String {
    let c = compose();
    let out = Command::new(c[0])
        .args(&c[1..])
        .args(["-f", "docker-compose.staging.yml", "ps", "-q", "app"])
        .current_dir(root)
        .output()
        .unwrap();
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !id.is_empty(),
        "no container: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("docker")
        .args(["inspect", "--format", "{{.Config.Image}}", &id])
        .output()
        .unwrap();
    let image = String::from_utf8_lossy(&out.stdout).trim().to_string();
    image.rsplit(':').next().unwrap().to_string()
}

/// Start `deploy staging VERSION` and return once it is in the health gate: its ledger
/// entry records that `compose up` of VERSION succeeded and it has no outcome yet.
fn deploy_into_health_gate(root: &Path, version: &str) -> std::process::Child {
    let ledger = root.join("backups/deployments/staging.jsonl");
    let in_gate = |text: &str| {
        text.lines()
            .filter(|l| {
                l.contains("\"outcome\":\"started\"")
                    && l.contains(&format!("\"version\":\"{version}\""))
                    && l.contains("\"name\":\"compose up\",\"ok\":true")
            })
            .count()
    };
    let before = in_gate(&fs::read_to_string(&ledger).unwrap_or_default());
    let mut child = bin()
        .arg("--root")
        .arg(root)
        .args(["--format", "json", "deploy", "staging", version])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A bound, not a timing assertion: compose up of a local image takes seconds.
    for _ in 0..1200 {
        if in_gate(&fs::read_to_string(&ledger).unwrap_or_default()) > before {
            return child;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("deploy ended before its health gate: {status}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("deploy of {version} never reached its health gate");
}

fn releases(root: &Path) -> (i32, serde_json::Value) {
    let run = xtask_json(root, &["releases", "staging"]);
    (run.code, run.json())
}

#[test]
fn sigterm_and_kill_9_in_the_health_gate_leave_a_ledger_that_matches_what_runs() {
    if !docker_available() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let (_images, _port) = docker_project(root, "signals");
    write(
        root,
        "maintenance.toml",
        "[deploy]\nhealth_timeout_secs = 300\n",
    );
    let run = xtask(root, &["deploy", "staging", "v1"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    // SIGTERM: the run stops waiting, completes its entry and says what runs.
    let child = deploy_into_health_gate(root, "v4");
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let run: Run = child.wait_with_output().unwrap().into();
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(v["entry"]["outcome"], "interrupted", "{v:#}");
    assert_eq!(v["entry"]["brought_up"], "v4");
    let f = finding_with_code(&v, "deploy-interrupted");
    assert!(message_of(f).contains("SIGTERM after `health`"), "{f:#}");
    assert_eq!(running_version(root), "v4");
    let (code, v) = releases(root);
    assert_eq!(code, 0, "a finished entry needs no attention: {v:#}");
    assert_eq!(v["current"], "v4", "what runs: {v:#}");
    let dry = xtask(root, &["rollback", "staging", "--dry-run"]);
    assert!(dry.stdout.contains("v4 → v1"), "{}", dry.stdout);
    let log = fs::read_to_string(root.join("backups/audit.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("deploy staging v4") && l.contains("exit 2")),
        "{log}"
    );

    let run = xtask(root, &["rollback", "staging"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(running_version(root), "v1");

    // kill -9: nothing can run, yet the ledger shows what was brought up.
    let mut child = deploy_into_health_gate(root, "v4");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(running_version(root), "v4");
    let ledger = root.join("backups/deployments/staging.jsonl");
    let ledger_before = fs::read(&ledger).unwrap();
    let (code, v) = releases(root);
    assert_eq!(code, 1, "an unfinished deploy needs attention: {v:#}");
    assert_eq!(v["current"], "v4", "what runs: {v:#}");
    let f = finding_with_code(&v, "deploy-interrupted");
    assert!(
        message_of(f).contains("never finished")
            && message_of(f).contains("v4 was brought up and may be running unverified"),
        "{f:#}"
    );
    // Four lines per run (started, before and after `compose up`, outcome): the fourth run.
    assert_eq!(
        f["line"], 13,
        "the line the killed deploy started on: {f:#}"
    );
    let dry = xtask(root, &["rollback", "staging", "--dry-run"]);
    assert!(
        dry.stdout.contains("v4 → v1") && dry.stdout.contains("deploy-interrupted"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        fs::read(&ledger).unwrap(),
        ledger_before,
        "a dry run writes nothing"
    );

    // The next real run completes the entry, in the ledger and the audit log.
    let run = xtask_json(root, &["rollback", "staging"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let f = finding_with_code(&run.json(), "deploy-interrupted").clone();
    assert!(
        message_of(&f).contains("now recorded as interrupted"),
        "{f:#}"
    );
    assert_eq!(running_version(root), "v1");
    let (code, v) = releases(root);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["current"], "v1");
    let steps: Vec<String> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {} {}", e["action"], e["version"], e["outcome"]).replace('"', ""))
        .collect();
    assert_eq!(
        steps,
        [
            "deploy v1 succeeded",
            "deploy v4 interrupted",
            "rollback v1 succeeded",
            "deploy v4 interrupted",
            "rollback v1 succeeded",
        ]
    );
    let log = fs::read_to_string(root.join("backups/audit.log")).unwrap();
    assert!(
        log.contains("interrupted: it ended before writing its outcome"),
        "{log}"
    );
}

#[test]
fn an_error_after_the_start_still_completes_the_entry() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let docker = FakeDocker::new(root, HEALTHY);
    let run = docker.run(root, &["deploy", "staging", "v1"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // The pre-deploy backup fails: not a database.
    write(root, "maintenance.toml", "[deploy]\nbackup_db = true\n");
    write(
        root,
        "ai_knowledge_hub/knowledge_hub.db",
        "not a database, just text\n",
    );
    let run = docker.run(root, &["deploy", "staging", "v2"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let (code, v) = releases(root);
    assert_eq!(code, 0, "nothing unfinished: {v:#}");
    assert_eq!(v["current"], "v1", "nothing was brought up: {v:#}");
    let last = &v["entries"][1];
    assert_eq!(last["outcome"], "aborted", "{last:#}");
    let error = &last["checks"][0];
    assert_eq!(error["name"], "error", "{last:#}");
    assert!(
        run.stderr.contains(error["detail"].as_str().unwrap()),
        "the ledger keeps the error the run printed: {}\n{last:#}",
        run.stderr
    );
    assert!(
        !docker
            .calls()
            .contains("APP_TAG=v2 docker-compose -f docker-compose.staging.yml up")
    );
}

#[test]
fn a_started_entry_is_in_progress_while_its_lock_is_held() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let started = ledger_line("deploy", "v2", "started").replace(
        "\"checks\":[]",
        "\"checks\":[],\"id\":\"x-1\",\"brought_up\":\"v2\"",
    );
    write(
        root,
        "backups/deployments/staging.jsonl",
        &format!("{}{started}", ledger_line("deploy", "v1", "succeeded")),
    );
    let held = hold_lock(
        &root.join("backups/deployments/staging.lock"),
        "`deploy staging v2` (pid 42)",
    );
    let (code, v) = releases(root);
    assert_eq!(code, 0, "{v:#}");
    assert!(findings(&v).is_empty(), "{v:#}");
    let table = xtask(root, &["releases", "staging"]).stdout;
    assert!(
        table.contains("in progress") && table.contains("deploy of v2"),
        "{table}"
    );
    drop(held);
    let (code, v) = releases(root);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(finding_with_code(&v, "deploy-interrupted")["line"], 2);
    assert_eq!(v["current"], "v2", "it was brought up: {v:#}");
}

#[test]
fn a_line_that_is_not_utf8_is_reported_and_the_rest_is_read() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let mut bytes = ledger_line("deploy", "v1", "succeeded").into_bytes();
    bytes.extend(b"{\"time\":\"\xff\xfe\"}\n");
    bytes.extend(ledger_line("deploy", "v2", "succeeded").into_bytes());
    let path = write(root, "backups/deployments/staging.jsonl", "");
    fs::write(&path, bytes).unwrap();
    let (code, v) = releases(root);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["current"], "v2");
    assert_eq!(v["entries"].as_array().unwrap().len(), 2);
    let f = finding_with_code(&v, "ledger-invalid-line");
    assert_eq!(f["line"], 2, "{f:#}");
    assert!(message_of(f).contains("not UTF-8"), "{f:#}");
}

/// A dry run checks every precondition the real run checks, and ends as it would: the same
/// warning without smoke checks (exit 0), the same refusal (exit 2) for a smoke script that
/// is not there, a configured database that is missing with `backup_db`, or an image that
/// cannot be had, and exit 3 while another deploy holds the environment's lock.
#[test]
fn a_dry_run_ends_as_the_real_run_would() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().canonicalize().unwrap();
    let root = root.as_path();
    let docker = FakeDocker::new(root, &format!("'image inspect'*) exit 0;;\n{HEALTHY}"));
    let both = |args: &[&str]| -> [Run; 2] {
        let mut dry = args.to_vec();
        dry.push("--dry-run");
        [docker.run(root, &dry), docker.run(root, args)]
    };

    // No smoke check: a warning in both; the plan says so.
    let no_smoke = "medium[no-smoke-checks]: staging has no smoke checks: only the container's health decides; the runbook requires smoke tests after every deploy (add deploy.environments.staging.smoke or smoke_script)";
    let [dry, real] = both(&["deploy", "staging", "v1"]);
    for run in [&dry, &real] {
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert!(run.stdout.lines().any(|l| l == no_smoke), "{}", run.stdout);
    }
    assert!(
        dry.stdout
            .lines()
            .any(|l| l == "smoke   none configured: only the health gate decides"),
        "{}",
        dry.stdout
    );

    let config = root.join("maintenance.toml").display().to_string();
    let refusals = [
        (
            "[deploy.environments.staging]\nsmoke_script = \"scripts/smoke.sh\"\n".to_string(),
            format!(
                "error: deploy.environments.staging.smoke_script `scripts/smoke.sh` is not an executable file: create it (chmod +x) or fix the path in {config}; nothing was deployed\n"
            ),
        ),
        (
            "[database]\npath = \"data/app.db\"\n[deploy]\nbackup_db = true\n[deploy.environments.staging]\nsmoke_script = \"smoke.sh\"\n".to_string(),
            format!(
                "error: deploy.backup_db is on but database.path `data/app.db` ({}/data/app.db) does not exist: the pre-deploy backup cannot be taken; fix database.path in {config}; nothing was deployed\n",
                root.display()
            ),
        ),
    ];
    let smoke = write(root, "smoke.sh", "#!/bin/sh\nexit 0\n");
    chmod(&smoke, 0o755);
    for (toml, error) in &refusals {
        write(root, "maintenance.toml", toml);
        for run in both(&["deploy", "staging", "v2"]) {
            assert_eq!(run.code, 2, "{toml}: {}{}", run.stdout, run.stderr);
            assert_eq!(&run.stderr, error);
        }
    }
    assert!(
        !docker
            .calls()
            .contains("APP_TAG=v2 docker-compose -f docker-compose.staging.yml up"),
        "nothing was deployed: {}",
        docker.calls()
    );

    // An image that is neither local nor in a registry: the same refusal.
    write(
        root,
        "maintenance.toml",
        "[deploy.environments.staging]\nsmoke_script = \"smoke.sh\"\n",
    );
    let missing = FakeDocker::new(
        root,
        &format!(
            "'image inspect'*) exit 1;;\n'manifest inspect'*) exit 1;;\n'pull'*) exit 1;;\n{HEALTHY}"
        ),
    );
    for dry_run in [true, false] {
        let mut args = vec!["deploy", "staging", "v3"];
        if dry_run {
            args.push("--dry-run");
        }
        let run = missing.run(root, &args);
        assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
        assert_eq!(
            run.stderr,
            "error: image registry.invalid/app:v3 is not available locally and cannot be pulled: build or push it first\n"
        );
    }

    // Another deploy holds the lock: the dry run stops where the real run would.
    let _held = hold_lock(
        &root.join("backups/deployments/staging.lock"),
        "`deploy staging v9` (pid 42)",
    );
    for run in both(&["deploy", "staging", "v1"]) {
        assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stderr
                .contains("is locked by `deploy staging v9` (pid 42)"),
            "{}",
            run.stderr
        );
    }
}
