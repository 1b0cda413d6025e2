//! `missing-timeout`: a job without `timeout-minutes` runs up to the runner's default of six
//! hours when it hangs. (A reusable-workflow call cannot set it: its jobs do.)

use super::{Hit, Job, Rule, Wf};
use crate::report::{Severity, codes};

pub struct MissingTimeout;

impl Rule for MissingTimeout {
    fn job(&self, _wf: &Wf, job: &Job, out: &mut Vec<Hit>) {
        if job.node.get("timeout-minutes").is_none() && !job.is_call() {
            let msg = format!("job `{}` has no `timeout-minutes` (default: 360)", job.id);
            let fix = "set `timeout-minutes:` a little above the job's usual duration";
            out.push(Hit::new(
                codes::MISSING_TIMEOUT,
                Severity::Low,
                job.key.pos,
                msg,
                fix,
            ));
        }
    }
}
