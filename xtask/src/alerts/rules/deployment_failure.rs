//! `deployment_failure`: any deployment fails → page the on-call engineer. A deploy or
//! rollback started in the window whose outcome is failed, rolled back, or interrupted
//! after it brought something up (the ledgers in `<backup.dir>/deployments`).

use serde_json::json;

use super::{Breach, Inputs, Rule, Verdict};
use crate::ci::model::parse_time;
use crate::context::Context;
use crate::deploy::ledger::{self, Action, Entry, Ledger, Outcome};
use crate::report::codes;

pub const RULE: Rule = Rule {
    name: "deployment_failure",
    check,
};

/// The environments whose ledgers are read: configured, else every ledger.
fn environments(cx: &Context, configured: &[String]) -> Result<Vec<String>, String> {
    if !configured.is_empty() {
        return Ok(configured.to_vec());
    }
    let dir = ledger::dir(cx);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("reading {}: {e}", cx.rel(&dir))),
    };
    let mut envs: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".jsonl").map(str::to_string)
        })
        .filter(|n| !n.starts_with('.'))
        .collect();
    envs.sort();
    Ok(envs)
}

/// What went wrong with an entry, in words; none when nothing did.
fn failure(e: &Entry) -> Option<String> {
    let what = format!("the {} of {}", e.action.as_str(), e.version);
    Some(match (e.action, e.outcome) {
        (_, Outcome::Failed) if e.action == Action::Rollback => {
            format!("{what} failed: the previous version did not come back healthy")
        }
        (_, Outcome::Failed) => format!("{what} failed its checks and was not rolled back"),
        (_, Outcome::RolledBack) => format!(
            "{what} failed its checks and was rolled back to {}",
            e.rolled_back_to
                .as_deref()
                .unwrap_or("the previous version")
        ),
        (_, Outcome::Interrupted) if e.brought_up.is_some() => format!(
            "{what} was interrupted after bringing up {}, which may run unverified",
            e.brought_up.as_deref().unwrap_or_default()
        ),
        _ => return None,
    })
}

fn check(i: &Inputs) -> Verdict {
    let rule = &i.cx.config.alerts.deployment_failure;
    if !rule.enabled {
        return Verdict::Disabled;
    }
    let envs = match environments(i.cx, &rule.environments) {
        Ok(e) => e,
        Err(why) => return Verdict::NotEvaluated(why),
    };
    let window = i.window(rule.window.secs());
    let mut breaches = Vec::new();
    let mut deploys = 0;
    for env in &envs {
        let ledger = match Ledger::read(i.cx, env) {
            Ok(l) => l,
            Err(e) => return Verdict::NotEvaluated(format!("{env}: {e:#}")),
        };
        for e in &ledger.entries {
            let Some(t) = parse_time(&e.time) else {
                return Verdict::NotEvaluated(format!(
                    "{}: an entry's time `{}` is not RFC 3339",
                    i.cx.rel(&ledger.path),
                    e.time.escape_debug()
                ));
            };
            if !window.contains(t) {
                continue;
            }
            deploys += 1;
            let Some(what) = failure(e) else { continue };
            breaches.push(Breach {
                rule: RULE.name,
                code: codes::DEPLOYMENT_FAILURE,
                severity: rule.severity,
                action: rule.action,
                key: format!("{}:{env}:{}", RULE.name, e.id.as_deref().unwrap_or(&e.time)),
                message: format!(
                    "{env}: {what} (started {}; any failed deployment in {} pages)",
                    e.time,
                    window.describe()
                ),
                details: json!({
                    "environment": env,
                    "action": e.action.as_str(),
                    "version": e.version,
                    "outcome": e.outcome.as_str(),
                    "started": e.time,
                    "finished": e.finished,
                    "rolled_back_to": e.rolled_back_to,
                }),
            });
        }
    }
    let detail = if envs.is_empty() {
        format!("no deployment ledger in {}", i.cx.rel(&ledger::dir(i.cx)))
    } else {
        format!(
            "{} failed of {deploys} deploy(s) and rollback(s) in {} ({})",
            breaches.len(),
            window.describe(),
            envs.join(", ")
        )
    };
    Verdict::Checked { breaches, detail }
}
