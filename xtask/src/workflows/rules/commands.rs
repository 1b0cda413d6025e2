//! `insecure-commands` and `deprecated-commands`: the `::set-env` and `::add-path`
//! workflow commands (and `ACTIONS_ALLOW_UNSECURE_COMMANDS`, which turns them back on) let
//! anything a step prints set the environment of later steps; `::set-output` and
//! `::save-state` are deprecated for the same reason (GitHub may turn them off).

use super::{Hit, Job, Rule, Wf};
use crate::report::{Severity, codes};
use crate::workflows::yaml::Node;

pub struct WorkflowCommands;

const ALLOW: &str = "ACTIONS_ALLOW_UNSECURE_COMMANDS";

impl Rule for WorkflowCommands {
    fn workflow(&self, wf: &Wf, out: &mut Vec<Hit>) {
        allow_unsecure(wf.root, out);
    }

    fn job(&self, _wf: &Wf, job: &Job, out: &mut Vec<Hit>) {
        allow_unsecure(job.node, out);
    }

    fn step(&self, wf: &Wf, _job: Option<&Job>, step: &Node, out: &mut Vec<Hit>) {
        allow_unsecure(step, out);
        let Some(run) = step.get("run") else { return };
        let Some(text) = run.str() else { return };
        let mut cursor = run.pos.offset;
        for (i, _) in text.match_indices("::") {
            let rest = &text[i + 2..];
            let Some(cmd) = ["set-env", "add-path", "set-output", "save-state"]
                .into_iter()
                .find(|c| rest.starts_with(c) && rest[c.len()..].starts_with([' ', ':']))
            else {
                continue;
            };
            let pos = wf.locate_from(run, cursor, &format!("::{cmd}"));
            cursor = pos.offset + 1;
            let hit = match cmd {
                "set-env" | "add-path" => Hit::new(
                    codes::INSECURE_COMMANDS,
                    Severity::High,
                    pos,
                    format!("`::{cmd}` lets printed output change the environment of later steps"),
                    if cmd == "set-env" {
                        "append `NAME=value` to \"$GITHUB_ENV\""
                    } else {
                        "append the folder to \"$GITHUB_PATH\""
                    },
                ),
                _ => Hit::new(
                    codes::DEPRECATED_COMMANDS,
                    Severity::Medium,
                    pos,
                    format!("`::{cmd}` is deprecated and trusts printed output"),
                    if cmd == "set-output" {
                        "append `name=value` to \"$GITHUB_OUTPUT\""
                    } else {
                        "append `name=value` to \"$GITHUB_STATE\""
                    },
                ),
            };
            out.push(hit);
        }
    }
}

/// `env: { ACTIONS_ALLOW_UNSECURE_COMMANDS: true }` at this level.
fn allow_unsecure(node: &Node, out: &mut Vec<Hit>) {
    let Some((key, value)) = node.get("env").and_then(|e| e.entry(ALLOW)) else {
        return;
    };
    if value.is_false() {
        return;
    }
    out.push(Hit::new(
        codes::INSECURE_COMMANDS,
        Severity::High,
        key.pos,
        format!("`{ALLOW}` turns `::set-env` and `::add-path` back on"),
        "remove it, and write to \"$GITHUB_ENV\" / \"$GITHUB_PATH\" instead",
    ));
}
