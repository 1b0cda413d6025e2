//! The ledger (`<backup.dir>/deployments/<env>.jsonl`), only ever appended to. A deploy or
//! rollback writes its entry when it starts (`started`), again before each `compose up`
//! (with the version it brings up), and once more with its outcome; the lines of one
//! operation share an `id`, and the reader keeps the last. An entry still `started` was
//! cut off (kill -9, a crash): what it brought up may be running, unverified.
//!
//! "current" is what the newest entry left running; a rollback goes to the newest good
//! version before it ([`Ledger::previous_good`]).

use std::cell::Cell;
use std::collections::HashMap;
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
    /// Nothing was deployed: the migration failed, or an error stopped the run before any
    /// `compose up`.
    Aborted,
    /// In progress; still so in the file when the process was cut off before its end.
    Started,
    /// Stopped by SIGTERM/SIGINT, or found `started` by a later run: what it brought up
    /// (`brought_up`) may be running, unverified.
    Interrupted,
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
            Outcome::Started => "started",
            Outcome::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Pairs the lines of one operation (absent in ledgers written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When the operation started.
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
    /// While in progress (and when interrupted): the version of the last `compose up`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brought_up: Option<String>,
    /// When the outcome was written (absent while `started`, and in ledgers written before
    /// it existed): with `time`, how long the operation took (`ci dora`'s time to restore).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
}

impl Entry {
    /// The version this entry left running.
    pub fn running(&self) -> Option<&str> {
        match self.outcome {
            Outcome::RolledBack => self.rolled_back_to.as_deref(),
            Outcome::Aborted => self.previous.as_deref(),
            Outcome::Succeeded | Outcome::Failed => Some(&self.version),
            Outcome::Started | Outcome::Interrupted => {
                self.brought_up.as_deref().or(self.previous.as_deref())
            }
        }
    }
}

pub struct Ledger {
    pub path: PathBuf,
    /// One per operation, in the order they started: the last line of each.
    pub entries: Vec<Entry>,
    /// The line each entry started on (for messages).
    pub lines: Vec<usize>,
    /// Lines that are not valid entries, with their line numbers and why.
    pub bad: Vec<BadLine>,
    /// The file does not end with a newline (a write was cut short).
    unterminated: Cell<bool>,
}

/// A ledger line that is not an entry. It is reported and ignored; the rest is read.
pub struct BadLine {
    pub line: usize,
    /// A write was cut short (the JSON ends early, or the file's last line has no newline).
    pub torn: bool,
    pub error: String,
}

/// Where the ledgers and their locks live.
pub fn dir(cx: &Context) -> PathBuf {
    cx.store().dir.join("deployments")
}

impl Ledger {
    pub fn read(cx: &Context, env: &str) -> Result<Ledger> {
        let path = dir(cx).join(format!("{env}.jsonl"));
        let bytes = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let (entries, lines, bad) = parse(&bytes);
        Ok(Ledger {
            path,
            entries,
            lines,
            bad,
            unterminated: Cell::new(bytes.last().is_some_and(|b| *b != b'\n')),
        })
    }

    /// A ledger read from `bytes`, as [`Ledger::read`] reads the file.
    #[cfg(test)]
    pub(crate) fn from_bytes(bytes: &[u8]) -> Ledger {
        let (entries, lines, bad) = parse(bytes);
        Ledger {
            path: PathBuf::from("ledger.jsonl"),
            entries,
            lines,
            bad,
            unterminated: Cell::new(bytes.last().is_some_and(|b| *b != b'\n')),
        }
    }

    /// Append one entry: one `write` of a whole line with O_APPEND, then fsync. A torn line
    /// left by a crash is closed with a newline first, so it stays its own (reported) line.
    pub fn append(&self, e: &Entry) -> Result<()> {
        files::create_private_dir(self.path.parent().unwrap())?;
        let mut line = serde_json::to_string(e)?;
        line.push('\n');
        // Read under the environment's lock, so the file still ends as it did then.
        if self.unterminated.get() {
            line.insert(0, '\n');
        }
        files::append(&self.path, line.as_bytes())?;
        self.unterminated.set(false);
        Ok(())
    }

    /// Entries still `started`, with the line each started on.
    pub fn unfinished(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.lines
            .iter()
            .copied()
            .zip(&self.entries)
            .filter(|(_, e)| e.outcome == Outcome::Started)
    }

    pub fn current(&self) -> Option<&str> {
        self.entries.last().and_then(Entry::running)
    }

    /// The versions that deployed successfully, oldest first, as a stack that rollbacks
    /// step back through: a successful rollback to a version returns the stack to where
    /// that version was on top (a version not on it, a `--to` forward, is pushed).
    fn good_history(&self) -> Vec<&str> {
        let mut stack: Vec<&str> = Vec::new();
        for e in self
            .entries
            .iter()
            .filter(|e| e.outcome == Outcome::Succeeded)
        {
            match (e.action, stack.iter().rposition(|v| *v == e.version)) {
                (Action::Rollback, Some(i)) => stack.truncate(i + 1),
                _ => stack.push(&e.version),
            }
        }
        stack
    }

    /// Where a rollback goes: the newest good version that is not `current`, stepping back
    /// through the history, never forward to a version a rollback left.
    pub fn previous_good(&self, current: Option<&str>) -> Option<&str> {
        self.good_history()
            .into_iter()
            .rev()
            .find(|v| Some(*v) != current)
    }

    /// One finding per line that is not an entry, naming the line and why.
    pub fn bad_line_findings(&self, report: &mut Report) {
        for b in &self.bad {
            let f = if b.torn {
                Finding::new(
                    codes::LEDGER_TORN_LINE,
                    Severity::Medium,
                    format!(
                        "line {} is not a complete entry (a write was interrupted: {}); it is ignored",
                        b.line, b.error
                    ),
                )
            } else {
                Finding::new(
                    codes::LEDGER_INVALID_LINE,
                    Severity::Medium,
                    format!(
                        "line {} is not a valid entry ({}); it is ignored: fix or remove the line",
                        b.line, b.error
                    ),
                )
            };
            report.push(f.at_line(self.path.display().to_string(), b.line));
        }
    }
}

/// The entries of a ledger file (the last line of each operation, with the line it started
/// on), and the lines that are not entries. A line that is not UTF-8 or not an entry is
/// reported on its own: every other line is still read.
fn parse(bytes: &[u8]) -> (Vec<Entry>, Vec<usize>, Vec<BadLine>) {
    let mut entries: Vec<Entry> = Vec::new();
    let mut starts = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut bad = Vec::new();
    let unterminated = bytes.last().is_some_and(|b| *b != b'\n');
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    // After the last newline: nothing, or a line cut short.
    let count = lines.len() - 1 + usize::from(unterminated);
    for (i, raw) in lines.into_iter().take(count).enumerate() {
        let last = i + 1 == count;
        let line = match std::str::from_utf8(raw) {
            Ok(l) => l,
            Err(e) => {
                bad.push(BadLine {
                    line: i + 1,
                    torn: last && unterminated,
                    error: format!("not UTF-8: {e}"),
                });
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(line) {
            Ok(e) => match e.id.as_ref().and_then(|id| by_id.get(id)) {
                Some(&at) => entries[at] = e,
                None => {
                    if let Some(id) = &e.id {
                        by_id.insert(id.clone(), entries.len());
                    }
                    entries.push(e);
                    starts.push(i + 1);
                }
            },
            Err(e) => bad.push(BadLine {
                line: i + 1,
                torn: e.is_eof() || (last && unterminated),
                error: e.to_string(),
            }),
        }
    }
    (entries, starts, bad)
}

/// Whether a deploy or rollback of `env` holds its lock now (so a `started` entry is in
/// progress, not cut off). Only looks: creates nothing.
pub fn in_progress(cx: &Context, env: &str) -> bool {
    let Ok(f) = fs::File::open(dir(cx).join(format!("{env}.lock"))) else {
        return false;
    };
    matches!(f.try_lock_shared(), Err(fs::TryLockError::WouldBlock))
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

    fn line(version: &str) -> String {
        format!(
            r#"{{"time":"2026-01-01T00:00:00Z","actor":"a","environment":"prod","action":"deploy","version":"{version}","previous":null,"commit":null,"outcome":"succeeded","checks":[]}}"#
        )
    }

    #[test]
    fn a_bad_line_is_reported_with_its_cause_and_the_rest_is_read() {
        let mut text = Vec::new();
        text.extend(format!("{}\n\n", line("v1")).as_bytes());
        text.extend(b"{\"time\": 3}\n");
        text.extend(b"\xff\xfe not utf-8\n");
        text.extend(format!("{}\n", line("v2")).as_bytes());
        text.extend(br#"{"time":"2026-01-0"#);
        let (entries, _, bad) = parse(&text);
        let versions: Vec<&str> = entries.iter().map(|e| e.version.as_str()).collect();
        assert_eq!(versions, ["v1", "v2"]);
        let got: Vec<(usize, bool)> = bad.iter().map(|b| (b.line, b.torn)).collect();
        assert_eq!(got, [(3, false), (4, false), (6, true)]);
        assert!(bad[0].error.contains("invalid type"), "{}", bad[0].error);
        assert!(bad[1].error.contains("not UTF-8"), "{}", bad[1].error);
        assert!(bad[2].error.contains("EOF"), "{}", bad[2].error);
    }

    #[test]
    fn a_cut_json_line_closed_by_a_later_append_is_still_torn() {
        let text = format!("{}\n{{\"time\":\"20\n{}\n", line("v1"), line("v2"));
        let (entries, _, bad) = parse(text.as_bytes());
        assert_eq!(entries.len(), 2);
        assert_eq!((bad[0].line, bad[0].torn), (2, true));
    }

    fn ledger_of(steps: &[(&str, &str, &str)]) -> Ledger {
        let text: String = steps
            .iter()
            .map(|(action, version, outcome)| {
                format!(
                    r#"{{"time":"t","actor":"a","environment":"e","action":"{action}","version":"{version}","previous":null,"commit":null,"outcome":"{outcome}","rolled_back_to":"v1"}}"#
                ) + "\n"
            })
            .collect();
        let (entries, lines, bad) = parse(text.as_bytes());
        assert!(bad.is_empty());
        Ledger {
            path: PathBuf::from("e.jsonl"),
            entries,
            lines,
            bad,
            unterminated: Cell::new(false),
        }
    }

    #[test]
    fn rollbacks_step_back_through_the_good_versions_never_forward() {
        let mut steps = vec![
            ("deploy", "v1", "succeeded"),
            ("deploy", "v2", "succeeded"),
            ("deploy", "v3", "succeeded"),
        ];
        let next = |steps: &[(&str, &str, &str)]| {
            let l = ledger_of(steps);
            l.previous_good(l.current()).map(str::to_string)
        };
        assert_eq!(next(&steps).as_deref(), Some("v2"));
        steps.push(("rollback", "v2", "succeeded"));
        assert_eq!(next(&steps).as_deref(), Some("v1"), "not forward to v3");
        steps.push(("rollback", "v1", "succeeded"));
        assert_eq!(next(&steps), None, "nothing older than v1");
        // `--to v3` goes forward on purpose; from there, back is where it came from.
        steps.push(("rollback", "v3", "succeeded"));
        assert_eq!(next(&steps).as_deref(), Some("v1"));
        // Failed and rolled-back deploys are never targets; a failed rollback changes nothing.
        steps.extend([
            ("deploy", "v4", "succeeded"),
            ("deploy", "v5", "rolled-back"),
            ("rollback", "v3", "failed"),
            ("deploy", "v6", "failed"),
        ]);
        assert_eq!(next(&steps).as_deref(), Some("v4"));
    }
}
