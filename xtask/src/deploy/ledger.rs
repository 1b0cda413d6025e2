//! The ledger (`<backup.dir>/deployments/<env>.jsonl`): one JSON line per deploy or
//! rollback, only ever appended to. "current" is what the newest entry left running,
//! "previous" the newest version that deployed successfully before it.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::report::{Finding, Report, Severity, codes};
use crate::util::files;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// What an entry did. The ledger is a file on users' disks: these spellings never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Deploy,
    Rollback,
}

/// How an entry ended. The ledger is a file on users' disks: these spellings never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Succeeded,
    Failed,
    /// The new version failed its checks and the previous one runs again.
    RolledBack,
    /// The migration failed: nothing was deployed.
    Aborted,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deploy => "deploy",
            Action::Rollback => "rollback",
        }
    }
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::RolledBack => "rolled-back",
            Outcome::Aborted => "aborted",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub time: String,
    pub actor: String,
    pub environment: String,
    pub action: Action,
    pub version: String,
    pub previous: Option<String>,
    pub commit: Option<String>,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_to: Option<String>,
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_backup: Option<String>,
}

impl Entry {
    /// The version this entry left running.
    pub fn running(&self) -> Option<&str> {
        match self.outcome {
            Outcome::RolledBack => self.rolled_back_to.as_deref(),
            Outcome::Aborted => self.previous.as_deref(),
            Outcome::Succeeded | Outcome::Failed => Some(&self.version),
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

/// Where the ledgers and their locks live.
pub fn dir(cx: &Context) -> PathBuf {
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
    pub fn append(&self, e: &Entry) -> Result<()> {
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
            .filter(|e| e.outcome == Outcome::Succeeded)
            .map(|e| e.version.as_str())
            .find(|v| Some(*v) != current)
    }

    pub fn torn_findings(&self, report: &mut Report) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_outcomes_keep_their_ledger_spellings() {
        for (action, outcome) in [
            ("deploy", "succeeded"),
            ("deploy", "failed"),
            ("deploy", "rolled-back"),
            ("deploy", "aborted"),
            ("rollback", "succeeded"),
        ] {
            let line = format!(
                r#"{{"time":"2026-01-01T00:00:00Z","actor":"a","environment":"prod","action":"{action}","version":"v2","previous":"v1","commit":null,"outcome":"{outcome}","rolled_back_to":"v1","checks":[]}}"#
            );
            let e: Entry = serde_json::from_str(&line).unwrap();
            assert_eq!((e.action.as_str(), e.outcome.as_str()), (action, outcome));
            assert_eq!(
                serde_json::to_string(&e).unwrap(),
                line,
                "written back the same"
            );
        }
        let bad = r#"{"time":"t","actor":"a","environment":"p","action":"deploy","version":"v","previous":null,"commit":null,"outcome":"done"}"#;
        assert!(serde_json::from_str::<Entry>(bad).is_err());
    }
}
