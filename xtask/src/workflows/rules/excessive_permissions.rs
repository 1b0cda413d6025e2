//! `excessive-permissions`: `permissions: write-all` (workflow or job), or a job that gets
//! the repository's default token permissions because neither it nor the workflow sets
//! `permissions:`.

use super::{Hit, Job, Rule, Wf};
use crate::report::{Severity, codes};
use crate::workflows::yaml::Node;

pub struct ExcessivePermissions;

const FIX: &str =
    "grant only what the job needs, e.g. `permissions: { contents: read }` at the top";

impl Rule for ExcessivePermissions {
    fn workflow(&self, wf: &Wf, out: &mut Vec<Hit>) {
        if let Some((key, value)) = wf.root.entry("permissions") {
            write_all(key, value, "the workflow", out);
        }
    }

    fn job(&self, wf: &Wf, job: &Job, out: &mut Vec<Hit>) {
        match job.node.entry("permissions") {
            Some((key, value)) => write_all(key, value, &format!("job `{}`", job.id), out),
            // A reusable-workflow call runs with what the called workflow declares.
            None if wf.root.get("permissions").is_none() && !job.is_call() => {
                let msg = format!(
                    "job `{}` runs with the repository's default token permissions (no `permissions:` in the job or the workflow)",
                    job.id
                );
                out.push(Hit::new(
                    codes::EXCESSIVE_PERMISSIONS,
                    Severity::Medium,
                    job.key.pos,
                    msg,
                    FIX,
                ));
            }
            None => {}
        }
    }
}

fn write_all(key: &Node, value: &Node, whose: &str, out: &mut Vec<Hit>) {
    if value.str() == Some("write-all") {
        let msg = format!("{whose} grants `write-all` to the token");
        out.push(Hit::new(
            codes::EXCESSIVE_PERMISSIONS,
            Severity::High,
            key.pos,
            msg,
            FIX,
        ));
    }
}
