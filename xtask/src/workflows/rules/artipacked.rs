//! `artipacked`: `actions/checkout` writes the job's token into `.git/config` unless
//! `persist-credentials: false`. An artifact upload of the workspace, or any third-party
//! action running later in the job, can then carry it off (medium); otherwise it is a
//! needless exposure (low).

use super::{Hit, Job, Rule, Wf, action_of, is_action};
use crate::report::{Severity, codes};
use crate::workflows::yaml::Node;

pub struct Artipacked;

impl Rule for Artipacked {
    fn step(&self, wf: &Wf, job: Option<&Job>, step: &Node, out: &mut Vec<Hit>) {
        if !is_action(step, "actions/checkout") {
            return;
        }
        let persist = step.get("with").and_then(|w| w.get("persist-credentials"));
        if persist.is_some_and(Node::is_false) {
            return;
        }
        let steps: &[Node] = match job {
            Some(j) => j.steps(),
            None => wf
                .root
                .get("runs")
                .and_then(|r| r.get("steps"))
                .map(Node::items)
                .unwrap_or_default(),
        };
        let uploads = wf
            .jobs()
            .iter()
            .flat_map(|j| j.steps())
            .chain(steps)
            .any(|s| is_action(s, "actions/upload-artifact"));
        let third_party = steps
            .iter()
            .filter_map(|s| s.get("uses")?.str())
            .find(|u| third_party(u));
        let (severity, why) = match (uploads, third_party) {
            (true, _) => (
                Severity::Medium,
                ", and the workflow uploads artifacts".to_string(),
            ),
            (false, Some(u)) => (
                Severity::Medium,
                format!(", and the job runs third-party `{}`", action_of(u).0),
            ),
            (false, None) => (Severity::Low, String::new()),
        };
        let msg = format!(
            "`actions/checkout` leaves the token in .git/config (persist-credentials){why}"
        );
        let fix = "add `with: { persist-credentials: false }` to the checkout step";
        out.push(Hit::new(codes::ARTIPACKED, severity, step.pos, msg, fix));
    }
}

/// An action not from GitHub itself (`actions/`, `github/`) nor this repository (`./`).
fn third_party(uses: &str) -> bool {
    let owner = uses
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    !uses.starts_with("./")
        && !uses.starts_with("docker://")
        && owner != "actions"
        && owner != "github"
}
