//! Docker compose: which tool (v2 plugin or v1), the [`Target`] of a deploy, rolling a
//! version out and the health gate.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use xshell::{Shell, cmd};

use super::ledger::Check;
use super::{signal, smoke};
use crate::config::EnvironmentConfig;
use crate::context::Context;
use crate::util::{files, sh};

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

/// One environment's compose file, service and checks, with the compose tool found here.
pub struct Target<'a> {
    pub cx: &'a Context,
    pub env: String,
    pub sh: Shell,
    pub compose: Vec<String>,
    pub file: String,
    pub envcfg: EnvironmentConfig,
}

/// Where an image for a dry run is: checked without pulling anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Local,
    /// In its registry (`docker manifest inspect`): the deploy would pull it.
    Registry,
}

impl Availability {
    pub fn describe(self) -> &'static str {
        match self {
            Availability::Local => "local image",
            Availability::Registry => "in its registry: the deploy pulls it",
        }
    }
}

pub fn target<'a>(cx: &'a Context, env: &str) -> Result<Target<'a>> {
    let sh = sh::shell(&cx.root)?;
    let file = cx.config.deploy.compose_file.replace("{env}", env);
    let path = inside_root(&cx.root, &file).with_context(|| {
        format!(
            "deploy.compose_file `{file}`: fix it in {}",
            cx.config_path.display()
        )
    })?;
    if !path.is_file() {
        bail!(
            "{} not found: create it or set deploy.compose_file",
            path.display()
        );
    }
    let envcfg = cx
        .config
        .deploy
        .environments
        .get(env)
        .cloned()
        .unwrap_or_default();
    if let Some(script) = &envcfg.smoke_script {
        inside_root(&cx.root, script).with_context(|| {
            format!(
                "deploy.environments.{env}.smoke_script `{script}` in {}",
                cx.config_path.display()
            )
        })?;
    }
    let compose = compose_cmd(&sh)?;
    Ok(Target {
        cx,
        env: env.to_string(),
        sh,
        compose,
        file,
        envcfg,
    })
}

/// `rel` under `root`, refused when it is absolute, has `..`, or resolves (through links)
/// to somewhere outside the root.
fn inside_root(root: &Path, rel: &str) -> Result<PathBuf> {
    files::check_relative(rel)?;
    let path = root.join(rel);
    if let Ok(real) = path.canonicalize()
        && !root.canonicalize().is_ok_and(|r| real.starts_with(r))
    {
        bail!(
            "must stay inside the root: it resolves to {}",
            real.display()
        );
    }
    Ok(path)
}

impl Target<'_> {
    /// The compose tool's arguments after its program name, for `rest`.
    pub fn compose_args(&self, rest: &[&str]) -> Vec<String> {
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
        let docs = yaml_rust2::YamlLoader::load_from_str(&text)
            .with_context(|| format!("{}: `config` printed YAML that does not parse", self.file))?;
        let svc = &self.cx.config.deploy.service;
        docs.first()
            .and_then(|d| d["services"][svc.as_str()]["image"].as_str())
            .map(str::to_string)
            .with_context(|| format!("{}: service `{svc}` has no image", self.file))
    }

    /// The image for `version`, local or pulled. With a registry configured the registry's
    /// image wins over a stale local one; without, only a qualified name is tried.
    pub fn ensure_image(&self, version: &str) -> Result<String> {
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

    /// Whether the image for `version` can be deployed, without changing anything here: a
    /// local image (`docker image inspect`), or one its registry has (`docker manifest
    /// inspect`, no layer is pulled). The same order as [`Target::ensure_image`].
    pub fn image_available(&self, version: &str) -> Result<(String, Availability)> {
        let image = self.image(version)?;
        let sh = &self.sh;
        let quietly = |c: xshell::Cmd<'_>| c.quiet().ignore_stdout().ignore_stderr().run().is_ok();
        let local = || quietly(cmd!(sh, "docker image inspect {image}"));
        let remote = || quietly(cmd!(sh, "docker manifest inspect {image}"));
        let registry = self.cx.config.deploy.registry.is_some();
        if registry && remote() {
            return Ok((image, Availability::Registry));
        }
        if local() {
            return Ok((image, Availability::Local));
        }
        if !registry && image.contains('/') && remote() {
            return Ok((image, Availability::Registry));
        }
        bail!("image {image} is not available locally and cannot be pulled: build or push it first")
    }

    /// After `up`: the health gate, then the smoke checks. False when one failed, or when
    /// a signal stopped them (the last check says so).
    pub fn gate(&self, version: &str, checks: &mut Vec<Check>) -> bool {
        let health = self.health(version);
        let ok = health.ok;
        checks.push(health);
        if !ok {
            return false;
        }
        if let Some(sig) = signal::received() {
            checks.push(interrupted("smoke checks", sig));
            return false;
        }
        let smoke = smoke::run_all(&self.sh, &self.cx.root, &self.env, &self.envcfg);
        let all = smoke.iter().all(|c| c.ok);
        checks.extend(smoke);
        all
    }

    /// `up -d --no-deps SERVICE` with the version in the compose file's variable.
    pub fn up(&self, version: &str) -> Check {
        let svc = self.cx.config.deploy.service.clone();
        let up = self
            .compose(version, &["up", "-d", "--no-deps", &svc])
            .ignore_stderr()
            .output();
        let (ok, detail) = match up {
            Ok(o) if o.status.success() => (true, version.to_string()),
            Ok(o) => (false, String::from_utf8_lossy(&o.stderr).trim().to_string()),
            Err(e) => (false, e.to_string()),
        };
        Check {
            name: "compose up".into(),
            ok,
            detail,
        }
    }

    /// Wait for the container's health status (or, without a healthcheck, that it runs).
    /// Does not rely on `--wait`, which docker-compose v1 lacks. A docker command that fails
    /// is retried until the deadline; a timeout names the last such error.
    fn health(&self, version: &str) -> Check {
        let svc = self.cx.config.deploy.service.clone();
        let deadline =
            Instant::now() + Duration::from_secs(self.cx.config.deploy.health_timeout_secs);
        let mut last = String::from("no container");
        let mut last_error: Option<String> = None;
        while Instant::now() < deadline {
            if let Some(sig) = signal::received() {
                return interrupted("health", sig);
            }
            match self.state(version, &svc) {
                Ok(None) => {}
                Ok(Some((id, health, status))) => {
                    last = format!("health {health}, state {status}");
                    match (health.as_str(), status.as_str()) {
                        ("healthy", _) => return health_check(true, last),
                        ("unhealthy", _) | (_, "exited" | "dead") => {
                            return health_check(false, last);
                        }
                        ("none", "running") => return self.still_running(&id),
                        _ => {}
                    }
                }
                Err(e) => last_error = Some(e),
            }
            signal::sleep(Duration::from_millis(500));
        }
        let error = last_error.map_or(String::new(), |e| format!("; last docker error: {e}"));
        health_check(
            false,
            format!(
                "timed out after {} s ({last}{error})",
                self.cx.config.deploy.health_timeout_secs
            ),
        )
    }

    /// The service's container and its (health, status), or `None` while there is none.
    fn state(&self, version: &str, svc: &str) -> Result<Option<(String, String, String)>, String> {
        let id = output(self.compose(version, &["ps", "-q", svc]))?;
        let id = id.trim();
        if id.is_empty() {
            return Ok(None);
        }
        let sh = &self.sh;
        let fmt =
            "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.Status}}";
        let state = output(cmd!(sh, "docker inspect --format {fmt} {id}").quiet())?;
        let mut parts = state.split_whitespace();
        let (health, status) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        Ok(Some((id.to_string(), health.into(), status.into())))
    }

    /// No healthcheck: running for two seconds is the gate.
    fn still_running(&self, id: &str) -> Check {
        if !signal::sleep(Duration::from_secs(2)) {
            return interrupted(
                "running (no healthcheck)",
                signal::received().unwrap_or("a signal"),
            );
        }
        let sh = &self.sh;
        let fmt = "{{.State.Status}}";
        let (ok, detail) = match output(cmd!(sh, "docker inspect --format {fmt} {id}").quiet()) {
            Ok(s) => (s.trim() == "running", s.trim().to_string()),
            Err(e) => (false, format!("docker inspect failed: {e}")),
        };
        Check {
            name: "running (no healthcheck)".into(),
            ok,
            detail,
        }
    }
}

/// A docker command's stdout, or what went wrong (its stderr, else its exit status).
fn output(c: xshell::Cmd<'_>) -> Result<String, String> {
    let shown = c.to_string();
    let o = c.ignore_status().output().map_err(|e| e.to_string())?;
    if o.status.success() {
        return Ok(String::from_utf8_lossy(&o.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&o.stderr);
    let stderr = stderr.trim();
    Err(if stderr.is_empty() {
        format!("`{shown}` failed ({})", o.status)
    } else {
        stderr.lines().last().unwrap_or(stderr).to_string()
    })
}

/// The check a signal stopped.
pub fn interrupted(name: &str, signal: &str) -> Check {
    Check {
        name: name.into(),
        ok: false,
        detail: format!("interrupted by {signal}"),
    }
}

fn health_check(ok: bool, detail: String) -> Check {
    Check {
        name: "health".into(),
        ok,
        detail,
    }
}
