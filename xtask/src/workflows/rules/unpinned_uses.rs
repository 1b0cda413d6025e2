//! `unpinned-uses`: a `uses:` not pinned to a full 40-hex commit SHA. A tag can be moved by
//! whoever controls the action; a branch moves by design (worse); no ref at all is the
//! default branch. Local actions (`./…`) and `docker://` images with a digest are fine;
//! owners in `[workflows] allow_tags` may use tags.

use super::{Hit, Job, Rule, Wf, action_of, is_full_sha};
use crate::report::{Severity, codes};
use crate::workflows::yaml::Node;

pub struct UnpinnedUses;

impl Rule for UnpinnedUses {
    fn job(&self, wf: &Wf, job: &Job, out: &mut Vec<Hit>) {
        if let Some(uses) = job.node.get("uses") {
            check(wf, uses, out);
        }
    }

    fn step(&self, wf: &Wf, _job: Option<&Job>, step: &Node, out: &mut Vec<Hit>) {
        if let Some(uses) = step.get("uses") {
            check(wf, uses, out);
        }
    }
}

fn check(wf: &Wf, node: &Node, out: &mut Vec<Hit>) {
    let Some(uses) = node.str() else { return };
    if uses.starts_with("./") || uses.contains("${{") {
        return;
    }
    if let Some(image) = uses.strip_prefix("docker://") {
        if !image.contains("@sha256:") {
            let msg = format!("`{uses}` is a Docker image without a digest");
            let fix = "pin it: docker://IMAGE@sha256:DIGEST";
            out.push(Hit::new(
                codes::UNPINNED_USES,
                Severity::Medium,
                node.pos,
                msg,
                fix,
            ));
        }
        return;
    }
    let (action, r) = action_of(uses);
    let (severity, what) = match r {
        Some(r) if is_full_sha(r) => return,
        Some(r) if tag_like(r) => {
            if allowed(wf, action) {
                return;
            }
            (
                Severity::Medium,
                format!("`{uses}` is pinned to the tag `{r}`, which can be moved"),
            )
        }
        Some(r) => (Severity::High, format!("`{uses}` follows the branch `{r}`")),
        None => (
            Severity::High,
            format!("`{uses}` has no ref: it runs the default branch"),
        ),
    };
    let fix =
        "pin the full 40-hex commit SHA, with the tag in a comment (uses: OWNER/REPO@SHA # vX.Y.Z)";
    out.push(Hit::new(
        codes::UNPINNED_USES,
        severity,
        node.pos,
        what,
        fix,
    ));
}

/// `v4`, `v4.2.2`, `1.2`, `v1-beta`: a version tag; anything else reads as a branch.
fn tag_like(r: &str) -> bool {
    let r = r.strip_prefix('v').unwrap_or(r);
    r.starts_with(|c: char| c.is_ascii_digit())
}

/// `[workflows] allow_tags`: `owner/*`, `owner/repo` or a glob on the action's path.
fn allowed(wf: &Wf, action: &str) -> bool {
    let action = action.to_ascii_lowercase();
    let repo: String = action.split('/').take(2).collect::<Vec<_>>().join("/");
    wf.cfg.allow_tags.iter().any(|p| {
        let p = p.to_ascii_lowercase();
        crate::util::glob::matches(&p, &repo) || crate::util::glob::matches(&p, &action)
    })
}
