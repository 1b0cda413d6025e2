//! The lint rules: one file per rule, each a unit struct implementing [`Rule`] with only the
//! hooks it needs (per file, per job, per step). A new rule is a new file, a line in
//! [`ALL`], a code in the registry and a fixture.

mod artipacked;
mod commands;
mod credentials;
mod eol_runtime;
mod excessive_permissions;
mod images;
mod missing_timeout;
mod retired_runner;
mod secrets_inherit;
mod template_injection;
mod triggers;
mod unpinned_uses;

use chrono::NaiveDate;
use serde_json::json;

use super::yaml::{Lines, Node, Pos};
use crate::config::WorkflowsConfig;
use crate::outdated::EolTable;
use crate::report::{Code, Finding, Severity};

/// Every rule, in the order their findings are listed for one place.
pub const ALL: &[&dyn Rule] = &[
    &unpinned_uses::UnpinnedUses,
    &excessive_permissions::ExcessivePermissions,
    &template_injection::TemplateInjection,
    &triggers::DangerousTriggers,
    &credentials::HardcodedCredentials,
    &secrets_inherit::SecretsInherit,
    &commands::WorkflowCommands,
    &missing_timeout::MissingTimeout,
    &artipacked::Artipacked,
    &retired_runner::RetiredRunner,
    &eol_runtime::EolRuntime,
    &images::UnpinnedImages,
];

/// A rule: hooks per kind of node; the defaults do nothing.
pub trait Rule: Sync {
    fn workflow(&self, _wf: &Wf, _out: &mut Vec<Hit>) {}
    fn job(&self, _wf: &Wf, _job: &Job, _out: &mut Vec<Hit>) {}
    /// `job` is `None` for the steps of a composite action.
    fn step(&self, _wf: &Wf, _job: Option<&Job>, _step: &Node, _out: &mut Vec<Hit>) {}
}

/// Run every rule over one parsed file; hits sorted by position.
pub fn check(wf: &Wf) -> Vec<Hit> {
    let mut out = Vec::new();
    let jobs = wf.jobs();
    for rule in ALL {
        rule.workflow(wf, &mut out);
        for job in &jobs {
            rule.job(wf, job, &mut out);
            for step in job.steps() {
                rule.step(wf, Some(job), step, &mut out);
            }
        }
        if wf.kind == FileKind::Action {
            let steps = wf.root.get("runs").and_then(|r| r.get("steps"));
            for step in steps.map(Node::items).unwrap_or_default() {
                rule.step(wf, None, step, &mut out);
            }
        }
    }
    out.sort_by_key(|h| (h.pos.line, h.pos.col));
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Workflow,
    Action,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Workflow => "workflow",
            FileKind::Action => "action",
        }
    }
}

/// One parsed file and what the rules need besides it.
pub struct Wf<'a> {
    pub text: &'a str,
    pub lines: &'a Lines<'a>,
    pub root: &'a Node,
    pub kind: FileKind,
    pub cfg: &'a WorkflowsConfig,
    pub today: NaiveDate,
    pub eol: &'a EolTable,
}

/// A job: its id, the key node (where a job-level finding points) and its body.
pub struct Job<'a> {
    pub id: &'a str,
    pub key: &'a Node,
    pub node: &'a Node,
}

impl<'a> Job<'a> {
    pub fn steps(&self) -> &'a [Node] {
        self.node.get("steps").map(Node::items).unwrap_or_default()
    }

    /// A call of a reusable workflow (`jobs.<id>.uses`).
    pub fn is_call(&self) -> bool {
        self.node.get("uses").is_some()
    }

    /// The job's `services:`, each by name.
    pub fn services(&self) -> impl Iterator<Item = (&'a str, &'a Node)> {
        self.node
            .get("services")
            .map(Node::entries)
            .unwrap_or_default()
            .iter()
            .map(|(name, svc)| (name.str().unwrap_or_default(), svc))
    }
}

impl<'a> Wf<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        text: &'a str,
        lines: &'a Lines<'a>,
        root: &'a Node,
        kind: FileKind,
        cfg: &'a WorkflowsConfig,
        today: NaiveDate,
        eol: &'a EolTable,
    ) -> Wf<'a> {
        Wf {
            text,
            lines,
            root,
            kind,
            cfg,
            today,
            eol,
        }
    }

    pub fn jobs(&self) -> Vec<Job<'a>> {
        if self.kind == FileKind::Action {
            return Vec::new();
        }
        let jobs = self.root.get("jobs").map(Node::entries).unwrap_or_default();
        jobs.iter()
            .filter(|(_, v)| v.is_map())
            .filter_map(|(k, v)| {
                Some(Job {
                    id: k.str()?,
                    key: k,
                    node: v,
                })
            })
            .collect()
    }

    /// The events that trigger the workflow: `on: x`, `on: [x, y]` or `on: {x: ...}`, each
    /// with the node naming it.
    pub fn triggers(&self) -> Vec<(&'a str, &'a Node)> {
        let Some(on) = self.root.get("on") else {
            return Vec::new();
        };
        if on.is_map() {
            on.entries()
                .iter()
                .filter_map(|(k, _)| Some((k.str()?, k)))
                .collect()
        } else {
            on.one_or_many()
                .into_iter()
                .filter_map(|n| Some((n.str()?, n)))
                .collect()
        }
    }

    /// Where `needle` first occurs in the source from byte `from` on (inside the scalar
    /// `node`: e.g. one line of a `run:` block), else where the node starts.
    pub fn locate_from(&self, node: &Node, from: usize, needle: &str) -> Pos {
        let from = from.min(self.text.len());
        match self.text.get(from..).and_then(|t| t.find(needle)) {
            Some(i) => self.lines.at(from + i),
            None => node.pos,
        }
    }
}

/// A finding of a rule, located in the file being linted.
#[derive(Debug, Clone)]
pub struct Hit {
    pub code: Code,
    pub severity: Severity,
    pub pos: Pos,
    pub message: String,
    pub fix: String,
}

impl Hit {
    pub fn new(code: Code, severity: Severity, pos: Pos, message: String, fix: &str) -> Hit {
        Hit {
            code,
            severity,
            pos,
            message,
            fix: fix.to_string(),
        }
    }

    pub fn finding(&self, rel: &str) -> Finding {
        let message = format!("{}; fix: {}", self.message, self.fix);
        let mut f = Finding::new(self.code, self.severity, message).at_line(rel, self.pos.line);
        f.extra.insert("column".into(), json!(self.pos.col));
        f.extra.insert("fix".into(), json!(self.fix));
        f
    }
}

/// A full 40-hex commit SHA (a shorter one is as mutable as a tag: it can collide).
pub fn is_full_sha(r: &str) -> bool {
    r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The `${{ … }}` expressions in `text`: (byte offset of `${{`, inner text).
pub fn expressions(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("${{") {
        let start = from + i;
        let Some(j) = text[start..].find("}}") else {
            break;
        };
        out.push((start, text[start + 3..start + j].trim()));
        from = start + j + 2;
    }
    out
}

/// The action a step runs (`owner/repo[/path]`) and its ref, for `uses: owner/repo@ref`.
pub fn action_of(uses: &str) -> (&str, Option<&str>) {
    match uses.split_once('@') {
        Some((a, r)) => (a, Some(r)),
        None => (uses, None),
    }
}

/// `uses:` of a step names `actions/checkout` (any ref).
pub fn is_action(step: &Node, name: &str) -> bool {
    step.get("uses")
        .and_then(Node::str)
        .is_some_and(|u| action_of(u).0.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_and_shas() {
        let e = expressions("echo ${{ a.b }} and ${{c}} ${{ unclosed");
        assert_eq!(e, vec![(5, "a.b"), (20, "c")]);
        assert!(is_full_sha("11bd71901bbe5b1630ceea73d27597364c9af683"));
        assert!(!is_full_sha("11bd719"));
        assert_eq!(
            action_of("actions/checkout@v4"),
            ("actions/checkout", Some("v4"))
        );
    }
}
