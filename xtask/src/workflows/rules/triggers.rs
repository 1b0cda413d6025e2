//! `dangerous-triggers`: `pull_request_target` and `workflow_run` run with the base
//! repository's secrets and a write token on behalf of a fork. Worse when a job then checks
//! out the pull request's head: the fork's code runs with those secrets.

use super::{Hit, Rule, Wf, is_action};
use crate::report::{Severity, codes};
use crate::workflows::yaml::Pos;

pub struct DangerousTriggers;

impl Rule for DangerousTriggers {
    fn workflow(&self, wf: &Wf, out: &mut Vec<Hit>) {
        for (name, node) in wf.triggers() {
            if name != "pull_request_target" && name != "workflow_run" {
                continue;
            }
            let (severity, msg) = match head_checkout(wf) {
                Some(at) => (
                    Severity::High,
                    format!(
                        "`{name}` runs with secrets, and line {} checks out the untrusted head",
                        at.line
                    ),
                ),
                None => (
                    Severity::Medium,
                    format!("`{name}` runs with the repository's secrets on behalf of forks"),
                ),
            };
            let fix = "use `pull_request` (no secrets), or never check out or run the head's code in this workflow";
            out.push(Hit::new(
                codes::DANGEROUS_TRIGGERS,
                severity,
                node.pos,
                msg,
                fix,
            ));
        }
    }
}

/// The first `actions/checkout` whose `ref:` names the pull request's or run's head.
fn head_checkout(wf: &Wf) -> Option<Pos> {
    for job in wf.jobs() {
        for step in job.steps() {
            if !is_action(step, "actions/checkout") {
                continue;
            }
            let Some(r) = step.get("with").and_then(|w| w.entry("ref")) else {
                continue;
            };
            let text = r.1.str().unwrap_or_default().replace(' ', "");
            let head = [
                "github.event.pull_request.head",
                "github.head_ref",
                "github.event.workflow_run.head",
            ];
            if head.iter().any(|h| text.contains(h)) {
                return Some(r.0.pos);
            }
        }
    }
    None
}
