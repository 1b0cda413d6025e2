//! `deploy`, `rollback`, `releases`: docker compose deployments with a health gate, smoke
//! checks, automatic rollback, and an append-only ledger per environment.
//!
//! The ledger (`<backup.dir>/deployments/<env>.jsonl`) is the memory of what ran: "current"
//! is what the newest entry left running, "previous" is the newest version that deployed
//! successfully before it. A lock per environment keeps two deploys apart.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use xshell::{Shell, cmd};

use crate::config::EnvironmentConfig;
use crate::context::Context;
use crate::report::{Finding, Report, Severity, Table, codes};
use crate::util::files;
use crate::util::http;
use crate::util::sh;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub time: String,
    pub actor: String,
    pub environment: String,
    /// deploy or rollback
    pub action: String,
    pub version: String,
    pub previous: Option<String>,
    pub commit: Option<String>,
    /// succeeded, failed, rolled-back, or aborted (the migration failed: nothing deployed)
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_to: Option<String>,
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_backup: Option<String>,
}

impl Entry {
    /// The version this entry left running.
    fn running(&self) -> Option<&str> {
        match self.outcome.as_str() {
            "rolled-back" => self.rolled_back_to.as_deref(),
            "aborted" => self.previous.as_deref(),
            _ => Some(&self.version),
        }
    }
}

pub struct Ledger {
    pub path: PathBuf,
    pub entries: Vec<Entry>,
    /// Lines that are not valid entries (a torn last write), with their line numbers.
    pub torn: Vec<usize>,
    /// The file does not end with a newline (a write was cut short).
    unterminated: bool,
}

fn check_env(env: &str) -> Result<()> {
    if env.is_empty()
        || !env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("environment `{env}`: use letters, digits, `-` and `_` only");
    }
    Ok(())
}

fn dir(cx: &Context) -> PathBuf {
    cx.store().dir.join("deployments")
}

impl Ledger {
    pub fn read(cx: &Context, env: &str) -> Result<Ledger> {
        let path = dir(cx).join(format!("{env}.jsonl"));
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let mut entries = Vec::new();
        let mut torn = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Entry>(line) {
                Ok(e) => entries.push(e),
                Err(_) => torn.push(i + 1),
            }
        }
        let unterminated = !text.is_empty() && !text.ends_with('\n');
        if unterminated && !torn.contains(&text.lines().count()) {
            torn.push(text.lines().count());
        }
        Ok(Ledger {
            path,
            entries,
            torn,
            unterminated,
        })
    }

    /// Append one entry: one `write` of a whole line with O_APPEND, then fsync. A torn line
    /// left by a crash is closed with a newline first, so it stays its own (reported) line.
    fn append(&self, e: &Entry) -> Result<()> {
        files::create_private_dir(self.path.parent().unwrap())?;
        let mut line = serde_json::to_string(e)?;
        line.push('\n');
        // Read under the environment's lock, so the file still ends as it did then.
        if self.unterminated {
            line.insert(0, '\n');
        }
        files::append(&self.path, line.as_bytes())
    }

    pub fn current(&self) -> Option<&str> {
        self.entries.last().and_then(Entry::running)
    }

    /// The newest version that deployed successfully and is not `current`.
    pub fn previous_good(&self, current: Option<&str>) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .filter(|e| e.outcome == "succeeded")
            .map(|e| e.version.as_str())
            .find(|v| Some(*v) != current)
    }

    fn torn_findings(&self, report: &mut Report) {
        for line in &self.torn {
            report.push(
                Finding::new(
                    codes::LEDGER_TORN_LINE,
                    Severity::Medium,
                    format!("line {line} is not a complete entry (a write was interrupted); it is ignored"),
                )
                .at(self.path.display().to_string()),
            );
        }
    }
}

/// `docker compose` (v2 plugin) or `docker-compose` (v1, as Debian 12 ships).
fn compose_cmd(sh: &Shell) -> Result<Vec<String>> {
    if cmd!(sh, "docker compose version")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok()
    {
        return Ok(vec!["docker".into(), "compose".into()]);
    }
    if cmd!(sh, "docker-compose version")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok()
    {
        return Ok(vec!["docker-compose".into()]);
    }
    bail!(
        "neither `docker compose` nor `docker-compose` works here: install Docker's compose plugin or docker-compose"
    )
}

struct Target<'a> {
    cx: &'a Context,
    env: String,
    sh: Shell,
    compose: Vec<String>,
    file: String,
    envcfg: EnvironmentConfig,
}

impl Target<'_> {
    fn compose_args(&self, rest: &[&str]) -> Vec<String> {
        let mut v = self.compose[1..].to_vec();
        v.extend(["-f".to_string(), self.file.clone()]);
        v.extend(rest.iter().map(|s| s.to_string()));
        v
    }

    fn compose(&self, version: &str, rest: &[&str]) -> xshell::Cmd<'_> {
        let prog = &self.compose[0];
        let args = self.compose_args(rest);
        cmd!(self.sh, "{prog} {args...}")
            .env(&self.cx.config.deploy.variable, version)
            .quiet()
    }

    /// The image the compose file names for `version`.
    fn image(&self, version: &str) -> Result<String> {
        let text = self
            .compose(version, &["config"])
            .read()
            .context("docker compose config")?;
        let docs =
            yaml_rust2::YamlLoader::load_from_str(&text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let svc = &self.cx.config.deploy.service;
        docs.first()
            .and_then(|d| d["services"][svc.as_str()]["image"].as_str())
            .map(str::to_string)
            .with_context(|| format!("{}: service `{svc}` has no image", self.file))
    }

    /// The image for `version`, local or pulled. With a registry configured the registry's
    /// image wins over a stale local one; without, only a qualified name is tried.
    fn ensure_image(&self, version: &str) -> Result<String> {
        let image = self.image(version)?;
        let sh = &self.sh;
        let pull = || {
            cmd!(sh, "docker pull --quiet {image}")
                .quiet()
                .ignore_stdout()
                .run()
                .is_ok()
        };
        let local = || {
            let inspect = cmd!(sh, "docker image inspect {image}");
            inspect
                .quiet()
                .ignore_stdout()
                .ignore_stderr()
                .run()
                .is_ok()
        };
        let registry = self.cx.config.deploy.registry.is_some();
        if (registry && pull()) || local() || (!registry && image.contains('/') && pull()) {
            return Ok(image);
        }
        bail!("image {image} is not available locally and cannot be pulled: build or push it first")
    }

    /// `up -d --no-deps SERVICE`, then the health gate, then the smoke checks.
    fn roll_out(&self, version: &str, checks: &mut Vec<Check>) -> Result<bool> {
        let svc = self.cx.config.deploy.service.clone();
        let up = self
            .compose(version, &["up", "-d", "--no-deps", &svc])
            .ignore_stderr()
            .output();
        match up {
            Ok(o) if o.status.success() => checks.push(Check {
                name: "compose up".into(),
                ok: true,
                detail: version.into(),
            }),
            Ok(o) => {
                checks.push(Check {
                    name: "compose up".into(),
                    ok: false,
                    detail: String::from_utf8_lossy(&o.stderr).trim().to_string(),
                });
                return Ok(false);
            }
            Err(e) => {
                checks.push(Check {
                    name: "compose up".into(),
                    ok: false,
                    detail: e.to_string(),
                });
                return Ok(false);
            }
        }
        let health = self.health(version);
        let ok = health.ok;
        checks.push(health);
        if !ok {
            return Ok(false);
        }
        let mut all = true;
        for c in &self.envcfg.smoke {
            let r = http_check(c);
            all &= r.ok;
            checks.push(r);
        }
        if let Some(script) = &self.envcfg.smoke_script {
            let path = self.cx.root.join(script);
            let env = &self.env;
            let out = cmd!(self.sh, "{path} {env}")
                .quiet()
                .ignore_status()
                .output();
            let r = match out {
                Ok(o) => Check {
                    name: format!("{script} {env}"),
                    ok: o.status.success(),
                    detail: format!("exit {}", o.status.code().unwrap_or(-1)),
                },
                Err(e) => Check {
                    name: script.clone(),
                    ok: false,
                    detail: e.to_string(),
                },
            };
            all &= r.ok;
            checks.push(r);
        }
        Ok(all)
    }

    /// Wait for the container's health status (or, without a healthcheck, that it runs).
    /// Does not rely on `--wait`, which docker-compose v1 lacks.
    fn health(&self, version: &str) -> Check {
        let svc = self.cx.config.deploy.service.clone();
        let deadline =
            Instant::now() + Duration::from_secs(self.cx.config.deploy.health_timeout_secs);
        let mut last = String::from("no container");
        while Instant::now() < deadline {
            let id = self
                .compose(version, &["ps", "-q", &svc])
                .read()
                .unwrap_or_default();
            let id = id.trim();
            if !id.is_empty() {
                let sh = &self.sh;
                let fmt = "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.Status}}";
                let state = cmd!(sh, "docker inspect --format {fmt} {id}")
                    .quiet()
                    .read()
                    .unwrap_or_default();
                let mut parts = state.split_whitespace();
                let (health, status) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                last = format!("health {health}, state {status}");
                match (health, status) {
                    ("healthy", _) => {
                        return Check {
                            name: "health".into(),
                            ok: true,
                            detail: last,
                        };
                    }
                    ("unhealthy", _) => {
                        return Check {
                            name: "health".into(),
                            ok: false,
                            detail: last,
                        };
                    }
                    (_, "exited" | "dead") => {
                        return Check {
                            name: "health".into(),
                            ok: false,
                            detail: last,
                        };
                    }
                    ("none", "running") => {
                        // No healthcheck: running for two seconds is the gate.
                        std::thread::sleep(Duration::from_secs(2));
                        let fmt = "{{.State.Status}}";
                        let again = cmd!(sh, "docker inspect --format {fmt} {id}")
                            .quiet()
                            .read()
                            .unwrap_or_default();
                        let ok = again.trim() == "running";
                        return Check {
                            name: "running (no healthcheck)".into(),
                            ok,
                            detail: again.trim().into(),
                        };
                    }
                    _ => {}
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Check {
            name: "health".into(),
            ok: false,
            detail: format!(
                "timed out after {} s ({last})",
                self.cx.config.deploy.health_timeout_secs
            ),
        }
    }
}

fn http_check(c: &crate::config::HttpCheck) -> Check {
    let mut delay = Duration::from_secs(1);
    let mut detail = String::new();
    for attempt in 0..=c.retries {
        if attempt > 0 {
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_secs(30));
        }
        match http::get(&c.url, c.timeout_secs) {
            Ok((status, body)) => {
                let body_ok = c.body.as_ref().is_none_or(|b| body.contains(b.as_str()));
                detail = format!(
                    "HTTP {status}{}",
                    if body_ok {
                        ""
                    } else {
                        ", expected text missing"
                    }
                );
                if status == c.status && body_ok {
                    return Check {
                        name: format!("GET {}", c.url),
                        ok: true,
                        detail,
                    };
                }
            }
            Err(e) => detail = format!("{e:#}"),
        }
    }
    Check {
        name: format!("GET {}", c.url),
        ok: false,
        detail: format!("{detail} (after {} attempts)", c.retries + 1),
    }
}

fn target<'a>(cx: &'a Context, env: &str) -> Result<Target<'a>> {
    check_env(env)?;
    let sh = sh::shell(&cx.root)?;
    let file = cx.config.deploy.compose_file.replace("{env}", env);
    if !cx.root.join(&file).is_file() {
        bail!(
            "{} not found: create it or set deploy.compose_file",
            cx.root.join(&file).display()
        );
    }
    let compose = compose_cmd(&sh)?;
    let envcfg = cx
        .config
        .deploy
        .environments
        .get(env)
        .cloned()
        .unwrap_or_default();
    Ok(Target {
        cx,
        env: env.to_string(),
        sh,
        compose,
        file,
        envcfg,
    })
}

fn git_commit(cx: &Context) -> Option<String> {
    let sh = sh::shell(&cx.root).ok()?;
    cmd!(sh, "git rev-parse HEAD")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()
        .map(|s| s.trim().to_string())
}

fn entry(cx: &Context, env: &str, action: &str, version: &str, previous: Option<&str>) -> Entry {
    Entry {
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        actor: crate::context::actor(),
        environment: env.into(),
        action: action.into(),
        version: version.into(),
        previous: previous.map(Into::into),
        commit: git_commit(cx),
        outcome: String::new(),
        rolled_back_to: None,
        checks: Vec::new(),
        db_backup: None,
    }
}

fn checks_table(checks: &[Check], title: &str) -> Table {
    let mut t = Table::new(title, &["check", "result", "detail"]);
    for c in checks {
        t.row(vec![
            c.name.clone(),
            if c.ok { "ok".into() } else { "FAILED".into() },
            c.detail.clone(),
        ]);
    }
    t
}

fn plan(t: &Target<'_>, version: &str, report: &mut Report, with_backup: bool) {
    let cfg = &t.cx.config.deploy;
    let mut steps = Table::new("Plan (dry run: nothing was changed)", &["step", "what"]);
    if with_backup && cfg.backup_db {
        steps.row(vec!["backup".into(), "cargo xtask backup db".into()]);
    }
    if !cfg.migrate.is_empty() && with_backup {
        steps.row(vec![
            "migrate".into(),
            format!("{}={version} {}", cfg.variable, cfg.migrate.join(" ")),
        ]);
    }
    let args = t.compose_args(&["up", "-d", "--no-deps", &cfg.service]);
    steps.row(vec![
        "deploy".into(),
        format!(
            "{}={version} {} {}",
            cfg.variable,
            t.compose[0],
            args.join(" ")
        ),
    ]);
    steps.row(vec![
        "health".into(),
        format!(
            "wait up to {} s for the container's health status",
            cfg.health_timeout_secs
        ),
    ]);
    for c in &t.envcfg.smoke {
        steps.row(vec![
            "smoke".into(),
            format!(
                "GET {} expecting {} (timeout {} s, {} retries)",
                c.url, c.status, c.timeout_secs, c.retries
            ),
        ]);
    }
    if let Some(s) = &t.envcfg.smoke_script {
        steps.row(vec!["smoke".into(), format!("{s} {}", t.env)]);
    }
    report.tables.push(steps);
}

/// What deploy and rollback start with: the target, a report, the environment's lock (not
/// for a dry run), the ledger and the version running now.
type Begun<'a> = (
    Target<'a>,
    Report,
    Option<files::Lock>,
    Ledger,
    Option<String>,
);

fn begin<'a>(
    cx: &'a Context,
    env: &str,
    command: &str,
    holder: &str,
    dry_run: bool,
) -> Result<Begun<'a>> {
    let t = target(cx, env)?;
    let mut report = Report::dry(command, dry_run);
    report.fail_on = Severity::High;
    let lock = if dry_run {
        None
    } else {
        Some(files::Lock::acquire(
            &dir(cx).join(format!("{env}.lock")),
            holder,
        )?)
    };
    let ledger = Ledger::read(cx, env)?;
    ledger.torn_findings(&mut report);
    let current = ledger.current().map(str::to_string);
    Ok((t, report, lock, ledger, current))
}

/// `deploy ENV VERSION [--dry-run] [--no-auto-rollback]`.
pub fn deploy(
    cx: &Context,
    env: &str,
    version: &str,
    dry_run: bool,
    auto_rollback: bool,
) -> Result<Report> {
    let (t, mut report, _lock, ledger, current) = begin(
        cx,
        env,
        "deploy",
        &format!("deploy {env} {version}"),
        dry_run,
    )?;
    report.summary("environment", env);
    report.summary(
        "version",
        format!("{} → {version}", current.as_deref().unwrap_or("(none)")),
    );
    if dry_run {
        plan(&t, version, &mut report, true);
        report.set("dry_run", true);
        return Ok(report);
    }
    let mut e = entry(cx, env, "deploy", version, current.as_deref());
    t.ensure_image(version).inspect_err(|_| ())?;

    if cx.config.deploy.backup_db {
        let store = cx.store();
        let _l = store.lock("deploy: pre-deploy backup")?;
        let b = crate::backup::db::create_configured(cx, &store)?;
        let id = b.backup().map(|b| b.id());
        report.summary(
            "database backup",
            id.clone().unwrap_or_else(|| "none (no database)".into()),
        );
        e.db_backup = id;
    }
    if !cx.config.deploy.migrate.is_empty() {
        let (prog, args) = cx.config.deploy.migrate.split_first().unwrap();
        let ok = cmd!(t.sh, "{prog} {args...}")
            .env(&cx.config.deploy.variable, version)
            .quiet()
            .run()
            .is_ok();
        e.checks.push(Check {
            name: "migration".into(),
            ok,
            detail: cx.config.deploy.migrate.join(" "),
        });
        if !ok {
            // Nothing was deployed: the previous version keeps running.
            e.outcome = "aborted".into();
            ledger.append(&e)?;
            let restore = e.db_backup.as_deref().map_or("no backup was taken".to_string(), |b| format!("restore with `cargo xtask restore db {b} --yes` if the migration changed data"));
            report.push(Finding::new(
                codes::MIGRATION_FAILED,
                Severity::High,
                format!("the migration failed: nothing was deployed; {restore}"),
            ));
            report.tables.push(checks_table(&e.checks, "Checks"));
            return Ok(report);
        }
    }

    let ok = t.roll_out(version, &mut e.checks)?;
    if ok {
        e.outcome = "succeeded".into();
        ledger.append(&e)?;
        report.summary("result", format!("{version} is live on {env}"));
    } else {
        let previous = ledger.previous_good(None).map(str::to_string);
        match (auto_rollback, previous) {
            (true, Some(prev)) => {
                let mut back = Vec::new();
                let ok_back = t.roll_out(&prev, &mut back)?;
                e.checks.extend(back.into_iter().map(|c| Check {
                    name: format!("rollback: {}", c.name),
                    ..c
                }));
                e.outcome = if ok_back {
                    "rolled-back".into()
                } else {
                    "failed".into()
                };
                e.rolled_back_to = ok_back.then(|| prev.clone());
                ledger.append(&e)?;
                let msg = if ok_back {
                    format!("{version} failed its checks on {env}: rolled back to {prev}")
                } else {
                    format!(
                        "{version} failed its checks on {env} and the rollback to {prev} failed too: act now"
                    )
                };
                report.push(Finding::new(
                    if ok_back {
                        codes::DEPLOY_ROLLED_BACK
                    } else {
                        codes::ROLLBACK_FAILED
                    },
                    if ok_back {
                        Severity::High
                    } else {
                        Severity::Critical
                    },
                    msg,
                ));
            }
            (true, None) => {
                e.outcome = "failed".into();
                ledger.append(&e)?;
                report.push(Finding::new(codes::DEPLOY_FAILED, Severity::High, format!("{version} failed its checks on {env}; there is no earlier good version to roll back to")));
            }
            (false, _) => {
                e.outcome = "failed".into();
                ledger.append(&e)?;
                report.push(Finding::new(codes::DEPLOY_FAILED, Severity::High, format!("{version} failed its checks on {env}; automatic rollback is off: `cargo xtask rollback {env}`")));
            }
        }
    }
    report.tables.push(checks_table(&e.checks, "Checks"));
    report.set("entry", &e);
    Ok(report)
}

/// `rollback ENV [--to VERSION] [--dry-run] [--restore-db --yes]`.
pub fn rollback(
    cx: &Context,
    env: &str,
    to: Option<&str>,
    dry_run: bool,
    restore_db: bool,
    yes: bool,
) -> Result<Report> {
    let (t, mut report, _lock, ledger, current) =
        begin(cx, env, "rollback", &format!("rollback {env}"), dry_run)?;
    let target_version = match to {
        Some(v) => v.to_string(),
        None => match ledger.previous_good(current.as_deref()) {
            Some(v) => v.to_string(),
            None => bail!(
                "no earlier successful deploy of {env} in {}: pass --to VERSION",
                ledger.path.display()
            ),
        },
    };
    report.summary("environment", env);
    report.summary(
        "version",
        format!(
            "{} → {target_version}",
            current.as_deref().unwrap_or("(none)")
        ),
    );
    // The database backup taken before the deploy being undone.
    let undone = ledger
        .entries
        .iter()
        .rev()
        .find(|e| e.action == "deploy" && e.running() == current.as_deref());
    let db_backup = undone.and_then(|e| e.db_backup.clone());
    if restore_db {
        let Some(b) = &db_backup else {
            bail!(
                "--restore-db: the deploy being undone took no database backup (deploy.backup_db was off)"
            );
        };
        let when = undone.map(|e| e.time.clone()).unwrap_or_default();
        report.summary(
            "database",
            format!(
                "restore {b}, taken before the deploy of {when}: every write since then is lost"
            ),
        );
        if !yes && !dry_run {
            bail!(
                "--restore-db replaces the database with {b} (taken {when}); writes made since are lost: add --yes to confirm"
            );
        }
    }
    if dry_run {
        t.ensure_image(&target_version)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        plan(&t, &target_version, &mut report, false);
        report.set("dry_run", true);
        return Ok(report);
    }
    t.ensure_image(&target_version)?;
    let mut e = entry(cx, env, "rollback", &target_version, current.as_deref());
    if restore_db {
        let b = db_backup.clone().unwrap();
        let r = crate::backup::restore::db::run(cx, &b, None, None, false, true)?;
        let ok = r.exit_code() == 0;
        e.checks.push(Check {
            name: "database restore".into(),
            ok,
            detail: b,
        });
        if !ok {
            report.findings.extend(r.findings);
        }
    }
    let ok = t.roll_out(&target_version, &mut e.checks)?;
    e.outcome = if ok {
        "succeeded".into()
    } else {
        "failed".into()
    };
    ledger.append(&e)?;
    if !ok {
        report.push(Finding::new(
            codes::ROLLBACK_FAILED,
            Severity::Critical,
            format!("{target_version} failed its checks on {env} after the rollback: act now"),
        ));
    } else {
        report.summary("result", format!("{target_version} is live on {env}"));
    }
    report.tables.push(checks_table(&e.checks, "Checks"));
    report.set("entry", &e);
    Ok(report)
}

/// `releases ENV`: the ledger.
pub fn releases(cx: &Context, env: &str) -> Result<Report> {
    check_env(env)?;
    let ledger = Ledger::read(cx, env)?;
    let mut report = Report::new("releases");
    ledger.torn_findings(&mut report);
    report.summary("environment", env);
    report.summary("current", ledger.current().unwrap_or("(none)").to_string());
    let mut t = Table::new(
        "Deployments (oldest first)",
        &[
            "time",
            "action",
            "version",
            "previous",
            "outcome",
            "actor",
            "db backup",
        ],
    );
    for e in &ledger.entries {
        let outcome = match &e.rolled_back_to {
            Some(v) => format!("{} (to {v})", e.outcome),
            None => e.outcome.clone(),
        };
        t.row(vec![
            e.time.clone(),
            e.action.clone(),
            e.version.clone(),
            e.previous.clone().unwrap_or_default(),
            outcome,
            e.actor.clone(),
            e.db_backup.clone().unwrap_or_default(),
        ]);
    }
    report.tables.push(t);
    report.set("current", ledger.current());
    report.set("entries", &ledger.entries);
    Ok(report)
}
