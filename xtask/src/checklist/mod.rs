//! `checklist daily|weekly|monthly|quarterly`: the runbook's checklist of a cadence, item by
//! item (`[checklist]` of maintenance.toml; the defaults are the runbook's lists). Each
//! item's commands run in-process ([`items`]), each one reported with its status (ok,
//! findings, failed, not configured), duration and key figure; what is left to a person is
//! an unchecked box. One report: Markdown in `<backup.dir>/reports/` and in the job summary
//! on GitHub Actions ([`publish`]), the chosen format on stdout.
//!
//! Phases: plan each item's steps → run them (a step two items share runs once; an item
//! that cannot run is a finding and the others still run) → present → publish.

mod drill;
mod items;
mod publish;

use std::io::{IsTerminal as _, Write as _};
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::config::ChecklistItem;
use crate::context::Context;
use crate::report::{Finding, Report, Severity, Table, codes};
use items::Step;

pub use crate::cli::Cadence;

// Defined with the command line; its items are the checklist's business.
impl Cadence {
    fn items(self, cx: &Context) -> &[ChecklistItem] {
        let c = &cx.config.checklist;
        match self {
            Cadence::Daily => &c.daily,
            Cadence::Weekly => &c.weekly,
            Cadence::Monthly => &c.monthly,
            Cadence::Quarterly => &c.quarterly,
        }
    }
}

/// How a command of an item ended; `unchecked`: an item done by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    Findings,
    Failed,
    NotConfigured,
    Unchecked,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Findings => "findings",
            Status::Failed => "failed",
            Status::NotConfigured => "not configured",
            Status::Unchecked => "to do by hand",
        }
    }

    /// An item is as bad as its worst command; "not configured" only when all are.
    fn rank(self) -> u8 {
        match self {
            Status::Unchecked | Status::NotConfigured => 0,
            Status::Ok => 1,
            Status::Findings => 2,
            Status::Failed => 3,
        }
    }
}

/// How much of an item the commands do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Automated,
    Partly,
    Manual,
}

impl Kind {
    pub fn of(item: &ChecklistItem) -> Kind {
        match (item.run.is_empty(), item.by_hand.is_some()) {
            (true, _) => Kind::Manual,
            (false, true) => Kind::Partly,
            (false, false) => Kind::Automated,
        }
    }
}

/// One command run for an item.
#[derive(Debug, Clone, Serialize)]
struct Ran {
    command: String,
    status: Status,
    duration_ms: u64,
    /// The key figure; for a command that did not run, why.
    figure: String,
    findings: usize,
    /// Findings at or above the command's threshold.
    failing: usize,
    /// The same command already ran for an earlier item: this is its result.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    reused: bool,
}

/// One item as reported.
#[derive(Debug, Serialize)]
struct Done {
    item: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    section: String,
    kind: Kind,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    by_hand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<u64>,
    runs: Vec<Ran>,
}

pub fn run(cx: &Context, cadence: Cadence) -> Result<Report> {
    let items = cadence.items(cx);
    let plan: Vec<Vec<Step>> = items.iter().map(|i| items::steps(cx, i)).collect();
    let mut report = Report::new(format!("checklist {}", cadence.name()));
    report.fail_on = Severity::High;
    let mut progress = Progress::new(cx, plan.iter().map(Vec::len).sum());
    let mut ran: Vec<(Step, Ran)> = Vec::new();
    let mut done = Vec::new();
    for (item, steps) in items.iter().zip(plan) {
        let mut runs = Vec::new();
        for step in steps {
            let r = match ran.iter().find(|(s, _)| *s == step) {
                Some((_, r)) => Ran {
                    reused: true,
                    ..r.clone()
                },
                None => {
                    let r = run_step(cx, &item.item, &step, &mut report, &mut progress);
                    ran.push((step, r.clone()));
                    r
                }
            };
            progress.done(&item.item, &r);
            runs.push(r);
        }
        done.push(finished(item, runs));
    }
    present(cadence, &done, &mut report);
    publish::report_file(cx, cadence, &mut report);
    publish::step_summary(&mut report);
    Ok(report)
}

/// An item's result from its commands' results.
fn finished(item: &ChecklistItem, runs: Vec<Ran>) -> Done {
    let kind = Kind::of(item);
    let status = match runs.iter().map(|r| r.status).max_by_key(|s| s.rank()) {
        None => Status::Unchecked,
        Some(worst) => worst,
    };
    let duration_ms = (kind != Kind::Manual).then(|| {
        runs.iter()
            .filter(|r| !r.reused)
            .map(|r| r.duration_ms)
            .sum()
    });
    Done {
        item: item.item.clone(),
        section: item.section.clone(),
        kind,
        status,
        by_hand: item.by_hand.clone(),
        duration_ms,
        runs,
    }
}

/// Run one command of an item into the checklist's report: the findings that need
/// attention are carried over (naming the item), and they fail the checklist as they fail
/// the command (the checklist's threshold is the lowest of its commands').
fn run_step(
    cx: &Context,
    item: &str,
    step: &Step,
    report: &mut Report,
    progress: &mut Progress,
) -> Ran {
    let command = step.command();
    progress.start(item, &command);
    let started = Instant::now();
    let outcome = step
        .nothing_to_check(cx)
        .and_then(|why| why.map_or_else(|| step.run(cx).map(Ok), |w| Ok(Err(w))));
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let ran = |status, figure, findings, failing| Ran {
        command: command.clone(),
        status,
        duration_ms,
        figure,
        findings,
        failing,
        reused: false,
    };
    match outcome {
        Ok(Ok(mut r)) => {
            let failing = r.failing().count();
            let status = match r.exit_code() {
                0 => Status::Ok,
                1 => Status::Findings,
                _ => Status::Failed,
            };
            let done = ran(status, step.figure(&r), r.findings.len(), failing);
            let fail_on = r.fail_on;
            for mut f in r.findings.drain(..).filter(|f| f.severity >= fail_on) {
                f.extra.entry("checklist_item").or_insert(item.into());
                report.push(f);
            }
            report.fail_on = report.fail_on.min(fail_on);
            report.incomplete |= r.incomplete;
            done
        }
        Ok(Err(why)) => ran(Status::NotConfigured, why, 0, 0),
        Err(e) => {
            let mut f = Finding::new(
                codes::CHECKLIST_ITEM_FAILED,
                Severity::High,
                format!("{item} (`{command}`): {e:#}"),
            );
            f.extra.insert("checklist_item".into(), item.into());
            report.push(f);
            let first = format!("{e:#}")
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            ran(Status::Failed, format!("could not run: {first}"), 0, 0)
        }
    }
}

/// The one place the checklist's result becomes its report: a row per command, a box per
/// thing to do by hand, the items in `data`.
fn present(cadence: Cadence, done: &[Done], report: &mut Report) {
    let mut t = Table::new(
        "Items",
        &[
            "section",
            "runbook item",
            "command",
            "status",
            "duration",
            "key figure",
        ],
    );
    for d in done {
        for (i, r) in d.runs.iter().enumerate() {
            let (section, item) = if i == 0 {
                (d.section.clone(), d.item.clone())
            } else {
                (String::new(), String::new())
            };
            let duration = if r.reused {
                "(ran above)".to_string()
            } else {
                human_ms(r.duration_ms)
            };
            let status = r.status.label().to_string();
            t.row(vec![
                section,
                item,
                r.command.clone(),
                status,
                duration,
                r.figure.clone(),
            ]);
        }
        match (&d.kind, &d.by_hand) {
            (Kind::Automated, _) => {}
            (_, Some(what)) => report.todo.push(format!("{}: {what}", d.item)),
            (_, None) => report.todo.push(d.item.clone()),
        }
    }
    let count = |k: Kind| done.iter().filter(|d| d.kind == k).count();
    let status = |s: Status| done.iter().filter(|d| d.status == s).count();
    report.summary("cadence", cadence.name());
    report.summary(
        "items",
        format!(
            "{}: {} automated, {} partly automated, {} by hand",
            done.len(),
            count(Kind::Automated),
            count(Kind::Partly),
            count(Kind::Manual)
        ),
    );
    report.summary(
        "results",
        format!(
            "{} ok, {} with findings, {} failed, {} not configured",
            status(Status::Ok),
            status(Status::Findings),
            status(Status::Failed),
            status(Status::NotConfigured)
        ),
    );
    report.tables.push(t);
    report.set("cadence", cadence.name());
    report.set("items", done);
}

/// A duration for people: milliseconds below a second, else seconds.
fn human_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// One line per command on stderr while the checklist runs, only on a terminal and when
/// not `--quiet` (never in cron mail or CI logs).
struct Progress {
    enabled: bool,
    total: usize,
    n: usize,
}

impl Progress {
    fn new(cx: &Context, total: usize) -> Progress {
        Progress {
            enabled: !cx.style.quiet && std::io::stderr().is_terminal(),
            total,
            n: 0,
        }
    }

    fn start(&mut self, item: &str, command: &str) {
        if self.enabled {
            eprint!(
                "\r\x1b[2K[{}/{}] {item}: {command} …",
                self.n + 1,
                self.total
            );
            let _ = std::io::stderr().flush();
        }
    }

    fn done(&mut self, item: &str, r: &Ran) {
        self.n += 1;
        if self.enabled {
            eprintln!("\r\x1b[2K{}", progress_line(self.n, self.total, item, r));
        }
    }
}

fn progress_line(n: usize, total: usize, item: &str, r: &Ran) -> String {
    let took = if r.reused {
        "ran above".to_string()
    } else {
        human_ms(r.duration_ms)
    };
    format!(
        "[{n}/{total}] {:<14} {took:>9}  {item} ({})",
        r.status.label(),
        r.command
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ChecklistConfig;

    /// The runbook's four checklists (`Maintenance Tasks` of ../shared/runbook.md), word for
    /// word, by heading; Dependency Management's three commands by their comments.
    /// A cadence's headings, each with its items.
    type Sections = &'static [(&'static str, &'static [&'static str])];

    const RUNBOOK: [(&str, Sections); 4] = [
        (
            "daily",
            &[
                (
                    "Automated Tasks",
                    &[
                        "Pipeline execution monitoring",
                        "Test result verification",
                        "Deployment status checks",
                        "Security scan reviews",
                    ],
                ),
                (
                    "Manual Tasks",
                    &[
                        "Review failed builds",
                        "Check resource utilization",
                        "Monitor pipeline performance metrics",
                    ],
                ),
            ],
        ),
        (
            "weekly",
            &[
                (
                    "Dependency Management",
                    &[
                        "Update Python dependencies",
                        "Check for outdated packages",
                        "Update requirements files",
                    ],
                ),
                (
                    "Pipeline Performance Review",
                    &[
                        "Analyze build times",
                        "Review test execution duration",
                        "Check cache hit rates",
                        "Optimize slow stages",
                    ],
                ),
                (
                    "Security Review",
                    &[
                        "Review security scan results",
                        "Update base Docker images",
                        "Check for new security advisories",
                        "Validate secret rotation schedule",
                    ],
                ),
            ],
        ),
        (
            "monthly",
            &[
                (
                    "Infrastructure Updates",
                    &[
                        "Update GitHub Actions runners",
                        "Review and update Docker base images",
                        "Update CI/CD tools and actions",
                        "Performance benchmarking",
                    ],
                ),
                (
                    "Documentation Updates",
                    &[
                        "Update maintenance procedures",
                        "Review and update runbooks",
                        "Update deployment documentation",
                        "Review disaster recovery procedures",
                    ],
                ),
            ],
        ),
        (
            "quarterly",
            &[
                (
                    "Comprehensive Review",
                    &[
                        "Full pipeline architecture review",
                        "Security posture assessment",
                        "Performance optimization analysis",
                        "Cost optimization review",
                    ],
                ),
                (
                    "Testing Strategy Review",
                    &[
                        "Test coverage analysis",
                        "Performance test thresholds review",
                        "Integration test effectiveness",
                        "Security test enhancement",
                    ],
                ),
            ],
        ),
    ];

    fn lists(c: &ChecklistConfig) -> [(&'static str, &[ChecklistItem]); 4] {
        [
            ("daily", &c.daily),
            ("weekly", &c.weekly),
            ("monthly", &c.monthly),
            ("quarterly", &c.quarterly),
        ]
    }

    /// The default items that are the runbook's (not the checklists' own additions).
    fn runbook_items(c: &ChecklistConfig) -> Vec<&ChecklistItem> {
        let mut out = Vec::new();
        for ((cadence, items), (_, sections)) in lists(c).into_iter().zip(RUNBOOK) {
            for (section, names) in sections {
                for name in *names {
                    let found = items.iter().find(|i| i.item == *name);
                    let i = found.unwrap_or_else(|| panic!("{cadence}: `{name}` is missing"));
                    assert_eq!(i.section, *section, "{cadence}: {name}");
                    out.push(i);
                }
            }
        }
        out
    }

    #[test]
    fn the_defaults_are_the_runbook_item_by_item_in_its_order() {
        let c = ChecklistConfig::default();
        assert_eq!(runbook_items(&c).len(), 34);
        for ((cadence, items), (_, sections)) in lists(&c).into_iter().zip(RUNBOOK) {
            let expected: Vec<&str> = sections
                .iter()
                .flat_map(|(_, n)| n.iter().copied())
                .collect();
            let got: Vec<&str> = items
                .iter()
                .map(|i| i.item.as_str())
                .filter(|n| expected.contains(n))
                .collect();
            assert_eq!(got, expected, "{cadence}");
        }
        // The one addition: the daily check that backups verify.
        let extra: Vec<&str> = lists(&c)
            .iter()
            .flat_map(|(_, items)| items.iter())
            .filter(|i| !runbook_items(&c).iter().any(|r| std::ptr::eq(*r, *i)))
            .map(|i| i.item.as_str())
            .collect();
        assert_eq!(extra, ["Verify the newest backups"]);
        // Issue #17: the security commands weekly, and quarterly at --fail-on low.
        let weekly: Vec<_> = c
            .weekly
            .iter()
            .flat_map(|i| i.run.iter().copied())
            .collect();
        use crate::config::ChecklistTask as T;
        for t in [T::WorkflowsLint, T::SecretsCheck, T::ScanConfigCheck] {
            assert!(weekly.contains(&t), "{t:?}");
            let q = c.quarterly.iter().find(|i| i.run.contains(&t)).unwrap();
            assert_eq!(q.fail_on, Some(Severity::Low), "{t:?}");
        }
    }

    #[test]
    fn docs_runbook_states_the_counts_of_the_defaults() {
        let c = ChecklistConfig::default();
        let items = runbook_items(&c);
        let count = |k: Kind| items.iter().filter(|i| Kind::of(i) == k).count();
        let expected = vec![
            items.len(),
            count(Kind::Automated),
            count(Kind::Partly),
            count(Kind::Manual),
        ];
        let docs = include_str!("../../../docs/runbook.md");
        let line = docs
            .lines()
            .find(|l| l.starts_with("Of the runbook's"))
            .expect("docs/runbook.md states the counts in a line `Of the runbook's N items, …`");
        let numbers: Vec<usize> = line
            .split(|ch: char| !ch.is_ascii_digit())
            .filter_map(|w| w.parse().ok())
            .collect();
        assert_eq!(numbers, expected, "{line}");
    }

    #[test]
    fn an_item_is_as_bad_as_its_worst_command() {
        let ran = |status| Ran {
            command: "c".into(),
            status,
            duration_ms: 1,
            figure: String::new(),
            findings: 0,
            failing: 0,
            reused: false,
        };
        let item = ChecklistConfig::default().weekly[7].clone();
        let status = |s: &[Status]| finished(&item, s.iter().map(|s| ran(*s)).collect()).status;
        assert_eq!(status(&[Status::Ok, Status::NotConfigured]), Status::Ok);
        assert_eq!(
            status(&[Status::NotConfigured, Status::NotConfigured]),
            Status::NotConfigured
        );
        assert_eq!(status(&[Status::Findings, Status::Failed]), Status::Failed);
        assert_eq!(status(&[Status::Ok, Status::Findings]), Status::Findings);
        assert_eq!(status(&[]), Status::Unchecked);
        assert_eq!(human_ms(999), "999 ms");
        assert_eq!(human_ms(1250), "1.2 s");
    }
}
