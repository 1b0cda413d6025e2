//! `secrets-inherit`: a reusable-workflow call that passes every secret of the caller
//! (`secrets: inherit`) instead of the ones the called workflow needs.

use super::{Hit, Job, Rule, Wf};
use crate::report::{Severity, codes};

pub struct SecretsInherit;

impl Rule for SecretsInherit {
    fn job(&self, _wf: &Wf, job: &Job, out: &mut Vec<Hit>) {
        let Some((key, value)) = job.node.entry("secrets") else {
            return;
        };
        if job.is_call() && value.str() == Some("inherit") {
            let msg = format!(
                "job `{}` passes every secret to the called workflow",
                job.id
            );
            let fix = "pass only the secrets it uses: `secrets: { NAME: ${{ secrets.NAME }} }`";
            out.push(Hit::new(
                codes::SECRETS_INHERIT,
                Severity::Medium,
                key.pos,
                msg,
                fix,
            ));
        }
    }
}
