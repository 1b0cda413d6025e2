//! `retired-runner`: a `runs-on` label of a GitHub-hosted runner image that GitHub has
//! retired (jobs on it no longer start: high) or has announced it will retire (medium).

use super::{Hit, Job, Rule, Wf};
use crate::report::{Severity, codes};
use crate::workflows::yaml::Node;

pub struct RetiredRunner;

/// Runner labels and the day GitHub retired them (or will), from GitHub's runner-images
/// announcements. Kept in one table, like outdated's end-of-life table.
pub const RETIRED: &[(&str, &str, &str)] = &[
    ("ubuntu-16.04", "2021-09-20", "ubuntu-24.04"),
    ("ubuntu-18.04", "2023-04-03", "ubuntu-24.04"),
    ("ubuntu-20.04", "2025-04-15", "ubuntu-24.04"),
    ("windows-2016", "2022-03-15", "windows-2025"),
    ("windows-2019", "2025-06-30", "windows-2025"),
    ("macos-10.15", "2022-08-30", "macos-15"),
    ("macos-11", "2024-06-28", "macos-15"),
    ("macos-12", "2024-12-03", "macos-15"),
    ("macos-13", "2025-12-04", "macos-15"),
];

impl Rule for RetiredRunner {
    fn job(&self, wf: &Wf, job: &Job, out: &mut Vec<Hit>) {
        let Some(runs_on) = job.node.get("runs-on") else {
            return;
        };
        let labels = match runs_on.get("labels") {
            Some(l) => l.one_or_many(),
            None => runs_on.one_or_many(),
        };
        for label in labels {
            if let Some(hit) = check(wf, label) {
                out.push(hit);
            }
        }
    }
}

fn check(wf: &Wf, label: &Node) -> Option<Hit> {
    let name = label.str()?.trim().to_ascii_lowercase();
    let (_, day, instead) = RETIRED.iter().find(|(l, _, _)| *l == name)?;
    let day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    let (severity, msg) = if day <= wf.today {
        (
            Severity::High,
            format!("`{name}` was retired on {day}: jobs on it no longer run"),
        )
    } else {
        (
            Severity::Medium,
            format!("`{name}` is to be retired on {day}"),
        )
    };
    let fix = format!(
        "move to `{instead}` (or `{}-latest`)",
        name.split('-').next().unwrap_or("ubuntu")
    );
    Some(Hit::new(
        codes::RETIRED_RUNNER,
        severity,
        label.pos,
        msg,
        &fix,
    ))
}
