//! Deployments, from each environment's ledger (`<backup.dir>/deployments/ENV.jsonl`): the
//! version running, the newest outcome, and the finished deploys and rollbacks by outcome.

use std::collections::BTreeSet;
use std::sync::Mutex;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};

use super::catalog as m;
use super::collect::Memo;
use super::exposition::Family;
use crate::context::Context;
use crate::deploy::ledger::{self, Action, Ledger, Outcome};

/// Every outcome an entry can have, in a fixed order (the stateset of `last_outcome`).
const OUTCOMES: [Outcome; 6] = [
    Outcome::Succeeded,
    Outcome::Failed,
    Outcome::RolledBack,
    Outcome::Aborted,
    Outcome::Started,
    Outcome::Interrupted,
];

/// An environment name as `deploy` accepts it (letters, digits, `-`, `_`).
fn valid_env(env: &str) -> bool {
    !env.is_empty()
        && env
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The configured environments and those with a ledger.
fn environments(cx: &Context) -> Result<BTreeSet<String>> {
    let mut envs: BTreeSet<String> = cx.config.deploy.environments.keys().cloned().collect();
    let dir = ledger::dir(cx);
    match std::fs::read_dir(&dir) {
        Ok(rd) => {
            for de in rd {
                let de = de.with_context(|| format!("reading {}", dir.display()))?;
                let name = de.file_name().to_string_lossy().into_owned();
                if let Some(env) = name.strip_suffix(".jsonl").filter(|e| valid_env(e)) {
                    envs.insert(env.to_string());
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    }
    Ok(envs)
}

pub fn deploys(cx: &Context, _now: DateTime<Utc>, _: &Mutex<Memo>) -> Result<Vec<Family>> {
    let mut info = Family::new(&m::DEPLOY_INFO);
    let mut last = Family::new(&m::DEPLOY_LAST_OUTCOME);
    let mut last_time = Family::new(&m::DEPLOY_LAST_TIME);
    let mut deploys = Family::new(&m::DEPLOYS);
    let mut rollbacks = Family::new(&m::ROLLBACKS);
    let mut invalid = Family::new(&m::LEDGER_INVALID);
    for env in environments(cx)? {
        let ledger = Ledger::read(cx, &env)?;
        invalid.push(&[&env], ledger.bad.len() as f64);
        if let Some(version) = ledger.current() {
            info.push(&[&env, version], 1.0);
        }
        if let Some(newest) = ledger.entries.last() {
            for o in OUTCOMES {
                last.push(
                    &[&env, o.as_str()],
                    f64::from(u8::from(o == newest.outcome)),
                );
            }
            if let Ok(t) = DateTime::parse_from_rfc3339(&newest.time) {
                last_time.push(&[&env], t.timestamp() as f64);
            }
        }
        // A finished entry keeps its outcome: these only grow. `started` is left out (it
        // becomes another outcome when the operation ends).
        for o in OUTCOMES.into_iter().filter(|o| *o != Outcome::Started) {
            let n = |action| {
                ledger
                    .entries
                    .iter()
                    .filter(|e| e.action == action && e.outcome == o)
                    .count() as f64
            };
            deploys.push(&[&env, o.as_str()], n(Action::Deploy));
            rollbacks.push(&[&env, o.as_str()], n(Action::Rollback));
        }
    }
    Ok(vec![info, last, last_time, deploys, rollbacks, invalid])
}
