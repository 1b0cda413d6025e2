//! Smoke checks after the health gate: HTTP checks (status, body text, retries with doubling
//! backoff) and a script run as `SCRIPT ENV`.

use std::path::Path;
use std::time::Duration;

use xshell::{Shell, cmd};

use super::compose::interrupted;
use super::ledger::Check;
use super::signal;
use crate::config::{EnvironmentConfig, HttpCheck};
use crate::util::http;

/// Every smoke check of the environment, in order: HTTP checks, then the script. A signal
/// stops them (the caller sees it with [`signal::received`]).
pub fn run_all(sh: &Shell, root: &Path, env: &str, envcfg: &EnvironmentConfig) -> Vec<Check> {
    let mut checks = Vec::new();
    for c in &envcfg.smoke {
        checks.push(http_check(c));
        if signal::received().is_some() {
            return checks;
        }
    }
    if let Some(script) = &envcfg.smoke_script {
        checks.push(script_check(sh, root, script, env));
    }
    checks
}

fn http_check(c: &HttpCheck) -> Check {
    let mut delay = Duration::from_secs(1);
    let mut detail = String::new();
    for attempt in 0..=c.retries {
        if attempt > 0 {
            if !signal::sleep(delay) {
                break;
            }
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
    if let Some(sig) = signal::received() {
        return interrupted(&format!("GET {}", c.url), sig);
    }
    Check {
        name: format!("GET {}", c.url),
        ok: false,
        detail: format!("{detail} (after {} attempts)", c.retries + 1),
    }
}

fn script_check(sh: &Shell, root: &Path, script: &str, env: &str) -> Check {
    let path = root.join(script);
    let out = cmd!(sh, "{path} {env}").quiet().ignore_status().output();
    match out {
        Ok(o) => Check {
            name: format!("{script} {env}"),
            ok: o.status.success(),
            detail: format!("exit {}", o.status.code().unwrap_or(-1)),
        },
        Err(e) => Check {
            name: script.to_string(),
            ok: false,
            detail: e.to_string(),
        },
    }
}
