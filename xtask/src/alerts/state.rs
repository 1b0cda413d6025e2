//! `<backup.dir>/alerts/state.json`: the breaches `alerts --notify` knows, and which
//! targets each reached. A breach is sent to a target once; one that could not be sent
//! stays until it is, even after its condition ended; one whose condition ended and that
//! reached every target is forgotten (a later recurrence is a new breach).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use super::rules::Breach;
use crate::config::AlertAction;
use crate::context::Context;
use crate::report::Severity;
use crate::util::files;

const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tracked {
    pub rule: String,
    pub code: String,
    pub severity: Severity,
    pub action: AlertAction,
    pub message: String,
    pub details: serde_json::Value,
    pub first_seen: String,
    /// Whether its condition held at the last evaluation.
    pub firing: bool,
    /// The targets it reached.
    pub delivered: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub breaches: BTreeMap<String, Tracked>,
}

pub fn dir(cx: &Context) -> PathBuf {
    cx.store().dir.join("alerts")
}

pub fn path(cx: &Context) -> PathBuf {
    dir(cx).join("state.json")
}

impl State {
    pub fn load(cx: &Context, path: &Path) -> Result<State> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", cx.rel(path))),
        };
        let s: State = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is not a valid alert state: fix it, or remove it (the breaches it holds would then be sent again)",
                cx.rel(path)
            )
        })?;
        if s.version != VERSION {
            bail!(
                "{}: alert state version {} (this xtask writes {VERSION}): remove it to start over",
                cx.rel(path),
                s.version
            );
        }
        Ok(s)
    }

    pub fn save(&mut self, path: &Path) -> Result<()> {
        self.version = VERSION;
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        files::write_atomic(path, &bytes, 0o600)
    }

    /// The evaluation's breaches: new ones are added, known ones refreshed (their
    /// deliveries kept), the others marked no longer firing.
    pub fn observe(&mut self, breaches: &[Breach], now: &str) {
        for t in self.breaches.values_mut() {
            t.firing = false;
        }
        for b in breaches {
            let t = self
                .breaches
                .entry(b.key.clone())
                .or_insert_with(|| Tracked {
                    rule: b.rule.to_string(),
                    code: b.code.id().to_string(),
                    severity: b.severity,
                    action: b.action,
                    message: b.message.clone(),
                    details: b.details.clone(),
                    first_seen: now.to_string(),
                    firing: true,
                    delivered: Vec::new(),
                });
            t.firing = true;
            t.severity = b.severity;
            t.message = b.message.clone();
            t.details = b.details.clone();
        }
    }

    /// Forget the breaches that ended and reached every target that takes them.
    pub fn prune(&mut self, done: impl Fn(&Tracked) -> bool) {
        self.breaches.retain(|_, t| t.firing || !done(t));
    }
}
