//! The runbook's alert rules, one file each: its name, the `[alerts]` section it reads, and
//! `check`, which turns the inputs into a [`Verdict`]. A new rule is a file and a line in
//! [`RULES`].

mod build_failure_rate;
mod build_time_trend;
mod deployment_failure;
mod security_vulnerability;
mod test_flakiness;

use serde_json::Value;

use crate::ci::model::{Exports, Secs, Window};
use crate::config::AlertAction;
use crate::context::Context;
use crate::report::{Code, Severity};

/// What the rules see: the CI exports (or why there are none) and the clock.
pub struct Inputs<'a> {
    pub cx: &'a Context,
    pub exports: Result<&'a Exports, &'a str>,
    pub now: Secs,
}

impl<'a> Inputs<'a> {
    /// What a rule over the CI exports starts with: `Err(Disabled)` when it is off,
    /// `Err(NotEvaluated)` without exports, else the exports and the window of `secs`
    /// seconds that ends now.
    pub fn ci_window(&self, enabled: bool, secs: Secs) -> Result<(&'a Exports, Window), Verdict> {
        if !enabled {
            return Err(Verdict::Disabled);
        }
        let x = self
            .exports
            .map_err(|why| Verdict::NotEvaluated(why.to_string()))?;
        Ok((x, self.window(secs)))
    }

    /// The window of `secs` seconds that ends now.
    pub fn window(&self, secs: Secs) -> Window {
        Window {
            since: self.now - secs,
            now: self.now,
        }
    }
}

/// A rule's condition holding: one per thing it is about (a workflow, a deploy, an
/// advisory, a test).
#[derive(Debug, Clone)]
pub struct Breach {
    pub rule: &'static str,
    pub code: Code,
    pub severity: Severity,
    pub action: AlertAction,
    /// Stays the same while the condition lasts: the state file's key.
    pub key: String,
    /// The figure, the threshold and the window, in words.
    pub message: String,
    /// The figures, for webhooks.
    pub details: Value,
}

pub enum Verdict {
    Disabled,
    /// Its input is missing or unreadable: it neither passed nor fired.
    NotEvaluated(String),
    /// Evaluated: the breaches (none: it passed), and the figure it judged.
    Checked {
        breaches: Vec<Breach>,
        detail: String,
    },
}

pub struct Rule {
    pub name: &'static str,
    pub check: fn(&Inputs) -> Verdict,
}

pub const RULES: &[Rule] = &[
    build_failure_rate::RULE,
    deployment_failure::RULE,
    security_vulnerability::RULE,
    build_time_trend::RULE,
    test_flakiness::RULE,
];

/// A short stable id of a text (for keys made of messages).
pub fn digest(text: &str) -> String {
    use sha2::Digest;
    crate::util::hash::hex(&sha2::Sha256::digest(text.as_bytes())[..8])
}
