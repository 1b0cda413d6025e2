//! `eol-runtime`: a `python-version` or `node-version` (in a matrix, its `include:` entries,
//! or a setup step's `with:`) whose release is past its end of life, from the table
//! `outdated` ships (one table for both commands).

use super::{Hit, Job, Rule, Wf};
use crate::report::{Severity, codes};
use crate::workflows::yaml::Node;

pub struct EolRuntime;

const KEYS: &[(&str, &str)] = &[
    ("python-version", "python"),
    ("python", "python"),
    ("node-version", "node"),
    ("node", "node"),
];

impl Rule for EolRuntime {
    fn job(&self, wf: &Wf, job: &Job, out: &mut Vec<Hit>) {
        let Some(matrix) = job.node.get("strategy").and_then(|s| s.get("matrix")) else {
            return;
        };
        versions(wf, matrix, out);
        for entry in matrix.get("include").map(Node::items).unwrap_or_default() {
            versions(wf, entry, out);
        }
    }

    fn step(&self, wf: &Wf, _job: Option<&Job>, step: &Node, out: &mut Vec<Hit>) {
        if let Some(with) = step.get("with") {
            versions(wf, with, out);
        }
    }
}

fn versions(wf: &Wf, node: &Node, out: &mut Vec<Hit>) {
    for (key, product) in KEYS {
        let Some(values) = node.get(key) else {
            continue;
        };
        for v in values.one_or_many() {
            let Some(version) = v.str().map(str::trim) else {
                continue;
            };
            if version.contains("${{") || !version.starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            let Some((cycle, eol)) = wf.eol.lookup(product, version) else {
                continue;
            };
            if eol < wf.today {
                let msg = format!("{product} {cycle} reached its end of life on {eol}");
                let fix = format!("move to a supported {product} release");
                out.push(Hit::new(
                    codes::EOL_RUNTIME,
                    Severity::Medium,
                    v.pos,
                    msg,
                    &fix,
                ));
            }
        }
    }
}
