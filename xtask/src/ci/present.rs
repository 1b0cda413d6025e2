//! The one place where `ci`'s typed results become reports.

use serde_json::json;

use super::dora::{DEFINITIONS, Dora, Tier};
use super::fetch::Fetched;
use super::model::{Exports, human_secs, rfc3339};
use super::stats::{Flag, Stats, percent};
use crate::config::Config;
use crate::report::{Finding, Report, Severity, Table, codes};

/// What `ci stats` prints and its JSON: `{"workflows": [...], "jobs": [...], ...}`.
pub fn stats(config: &Config, x: &Exports, s: &Stats) -> Report {
    let mut report = Report::new("ci stats");
    let w = s.window;
    report.summary(
        "window",
        format!(
            "{} to {} ({}), compared with the window before",
            rfc3339(w.since),
            rfc3339(w.now),
            w.describe()
        ),
    );
    inputs_summary(&mut report, x);
    let t = &s.totals;
    report.summary(
        "runs",
        format!(
            "{} ({} completed; success rate {}; p50 {}, p95 {}; {} re-run(s))",
            t.runs,
            t.completed,
            t.success_rate.map_or("-".into(), percent),
            secs(t.duration_p50_secs),
            secs(t.duration_p95_secs),
            t.reruns
        ),
    );
    if s.has_jobs {
        report.summary(
            "queue time",
            format!(
                "p50 {}, p95 {}",
                secs(s.queue_p50_secs),
                secs(s.queue_p95_secs)
            ),
        );
    }
    tables(&mut report, s);
    for f in &s.flags {
        report.push(flag_finding(config, f, &w));
    }
    report.set(
        "window",
        json!({"since": rfc3339(w.since), "now": rfc3339(w.now), "previous_since": rfc3339(w.previous().since)}),
    );
    report.set("totals", t);
    report.set("workflows", &s.workflows);
    report.set("jobs", &s.jobs);
    report.set("steps", &s.steps);
    report.set("slowest_steps", &s.slowest);
    report.set("failed_runs", &s.failed_runs);
    report.set("queue_p50_secs", s.queue_p50_secs);
    report.set("queue_p95_secs", s.queue_p95_secs);
    report
}

fn inputs_summary(report: &mut Report, x: &Exports) {
    let n = &x.notes;
    let mut line = format!(
        "{} file(s): {} run(s), {} job(s)",
        x.files.len(),
        x.runs.len(),
        x.jobs.len()
    );
    for (count, what) in [
        (n.duplicates, "duplicate record(s) merged"),
        (n.earlier_attempts, "record(s) of earlier attempts left out"),
        (
            n.jobs_without_run,
            "job(s) of runs in no runs export left out",
        ),
        (
            n.runs_without_attempt,
            "run(s) without run_attempt, taken as first attempts",
        ),
    ] {
        if count > 0 {
            line.push_str(&format!("; {count} {what}"));
        }
    }
    report.summary("inputs", line);
    report.set(
        "inputs",
        json!({"files": x.files, "runs": x.runs.len(), "jobs": x.jobs.len(), "notes": n}),
    );
}

fn secs(v: Option<f64>) -> String {
    v.map_or("-".into(), human_secs)
}

fn rate(v: Option<f64>) -> String {
    v.map_or("-".into(), percent)
}

fn tables(report: &mut Report, s: &Stats) {
    workflows_table(report, s);
    stages_table(report, s);
    failed_table(report, s);
}

fn workflows_table(report: &mut Report, s: &Stats) {
    let mut t = Table::new(
        "Workflows",
        &[
            "workflow",
            "runs",
            "success rate",
            "p50",
            "p95",
            "p50 change",
            "queue p50",
            "re-runs",
        ],
    );
    for w in &s.workflows {
        t.row(vec![
            w.name.clone(),
            w.current.runs.to_string(),
            rate(w.current.success_rate),
            secs(w.current.duration_p50_secs),
            secs(w.current.duration_p95_secs),
            w.change
                .duration_p50_percent
                .map_or("-".into(), |p| format!("{p:+.0}%")),
            secs(w.queue_p50_secs),
            w.current.reruns.to_string(),
        ]);
    }
    report.tables.push(t);
}

/// Failure rate by stage (jobs), and the slowest steps.
fn stages_table(report: &mut Report, s: &Stats) {
    let mut t = Table::new(
        "Failure rate by stage (jobs)",
        &[
            "workflow",
            "job",
            "runs",
            "failed",
            "failure rate",
            "p50",
            "p95",
            "queue p50",
        ],
    );
    let mut jobs: Vec<_> = s.jobs.iter().collect();
    jobs.sort_by(|a, b| {
        b.failure_rate
            .unwrap_or_default()
            .total_cmp(&a.failure_rate.unwrap_or_default())
    });
    for j in jobs {
        t.row(vec![
            j.workflow.clone(),
            j.name.clone(),
            j.runs.to_string(),
            j.failed.to_string(),
            rate(j.failure_rate),
            secs(j.duration_p50_secs),
            secs(j.duration_p95_secs),
            secs(j.queue_p50_secs),
        ]);
    }
    report.tables.push(t);
    let mut t = Table::new(
        "Slowest steps",
        &[
            "workflow",
            "job",
            "step",
            "runs",
            "p50",
            "p95",
            "failure rate",
        ],
    );
    for st in &s.slowest {
        t.row(vec![
            st.workflow.clone(),
            st.job.clone(),
            st.name.clone(),
            st.runs.to_string(),
            secs(st.duration_p50_secs),
            secs(st.duration_p95_secs),
            rate(st.failure_rate),
        ]);
    }
    report.tables.push(t);
}

fn failed_table(report: &mut Report, s: &Stats) {
    let mut t = Table::new(
        "Failed runs (newest first, up to 20)",
        &[
            "workflow",
            "run",
            "conclusion",
            "branch",
            "commit",
            "event",
            "created",
            "failed jobs",
        ],
    );
    for f in s.failed_runs.iter().take(20) {
        t.row(vec![
            f.workflow.clone(),
            format!("{} (attempt {})", f.id, f.attempt),
            f.conclusion.to_string(),
            f.head_branch.clone(),
            f.head_sha.chars().take(7).collect(),
            f.event.clone(),
            f.created_at.clone(),
            f.failed_jobs.join(", "),
        ]);
    }
    report.tables.push(t);
}

/// A window's figure that breaks an `[alerts]` rule, as a finding.
pub fn flag_finding(config: &Config, f: &Flag, w: &super::model::Window) -> Finding {
    let (code, severity) = match f {
        Flag::FailureRate { .. } => (
            codes::BUILD_FAILURE_RATE,
            config.alerts.build_failure_rate.severity,
        ),
        Flag::Trend { .. } => (
            codes::BUILD_TIME_TREND,
            config.alerts.build_time_trend.severity,
        ),
    };
    let mut finding = Finding::new(code, severity, f.message(w));
    if let Some(wf) = f.workflow() {
        finding.extra.insert("workflow".into(), json!(wf));
    }
    finding
}

fn tier(t: Option<Tier>) -> String {
    t.map_or("-".into(), |t| t.as_str().to_string())
}

/// What `ci dora` prints: the four metrics with their tiers and definitions.
pub fn dora(d: &Dora) -> Report {
    let mut report = Report::new("ci dora");
    report.summary("environment", format!("{} ({})", d.environment, d.ledger));
    report.summary(
        "window",
        format!("{} to {} ({})", d.since, d.now, d.window.describe()),
    );
    report.tables.push(metrics_table(d));
    deploys_tables(&mut report, d);
    for n in &d.notes {
        report.summary("note", n.clone());
    }
    dora_findings(&mut report, d);
    report.set("dora", d);
    report.set(
        "definitions",
        DEFINITIONS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<std::collections::BTreeMap<_, _>>(),
    );
    report
}

fn metrics_table(d: &Dora) -> Table {
    let mut t = Table::new(
        "DORA metrics (2023 report tiers)",
        &["metric", "value", "tier"],
    );
    t.row(vec![
        "deployments".into(),
        d.deployments.to_string(),
        String::new(),
    ]);
    t.row(vec![
        "deployment frequency".into(),
        format!("{:.2} per week", d.deployment_frequency_per_week),
        d.deployment_frequency_tier.as_str().into(),
    ]);
    t.row(vec![
        "lead time for changes (p50)".into(),
        d.lead_time_p50_hours.map_or("-".into(), |h| {
            format!("{} over {} commit(s)", hours(h), d.lead_time_commits)
        }),
        tier(d.lead_time_tier),
    ]);
    t.row(vec![
        "change failure rate".into(),
        d.change_failure_rate.map_or("-".into(), |r| {
            format!(
                "{} ({} of {})",
                percent(r),
                d.change_failures,
                d.deployments
            )
        }),
        tier(d.change_failure_tier),
    ]);
    t.row(vec![
        "time to restore (p50)".into(),
        d.time_to_restore_p50_hours.map_or("-".into(), |h| {
            format!("{} over {} restore(s)", hours(h), d.restores)
        }),
        tier(d.time_to_restore_tier),
    ]);
    t
}

/// The deployments of the window, and what each figure means.
fn deploys_tables(report: &mut Report, d: &Dora) {
    let mut t = Table::new(
        "Deployments",
        &[
            "time",
            "version",
            "outcome",
            "change failure",
            "restored after",
            "commits",
        ],
    );
    for x in &d.deploys {
        t.row(vec![
            x.time.clone(),
            x.version.clone(),
            x.outcome.to_string(),
            if x.change_failure { "yes" } else { "" }.into(),
            x.restored_after_hours.map_or(String::new(), hours),
            x.commits.map_or(String::new(), |c| c.to_string()),
        ]);
    }
    report.tables.push(t);
    let mut t = Table::new("Definitions", &["metric", "definition"]);
    for (k, v) in DEFINITIONS {
        t.row(vec![k.to_string(), v.to_string()]);
    }
    report.tables.push(t);
}

/// Ledger lines that are not entries; inputs that could not be read (exit 2).
fn dora_findings(report: &mut Report, d: &Dora) {
    for (line, torn, error) in &d.bad_lines {
        let (code, what) = if *torn {
            (
                codes::LEDGER_TORN_LINE,
                "is not a complete entry (a write was interrupted",
            )
        } else {
            (codes::LEDGER_INVALID_LINE, "is not a valid entry (")
        };
        report.push(
            Finding::new(
                code,
                Severity::Medium,
                format!("line {line} {what}{error}); it is not counted"),
            )
            .at_line(d.ledger.clone(), *line),
        );
    }
    for p in &d.problems {
        report.push(Finding::new(codes::INPUT_ERROR, Severity::High, p.clone()));
        report.incomplete = true;
    }
}

/// `3.5 h`, `2.0 d`.
pub fn hours(h: f64) -> String {
    if h >= 48.0 {
        format!("{:.1} d", h / 24.0)
    } else {
        format!("{h:.1} h")
    }
}

pub fn fetch(f: &Fetched) -> Report {
    let mut report = Report::new("ci fetch");
    report.summary("repository", f.repo.clone());
    report.summary("folder", f.folder.clone());
    report.summary(
        "range",
        format!(
            "{} to {}{}",
            f.since,
            f.until,
            if f.resumed { " (continued)" } else { "" }
        ),
    );
    report.summary(
        "fetched",
        format!(
            "{} page(s) with {} run(s); jobs of {} run attempt(s) ({} already there)",
            f.pages, f.runs, f.jobs_fetched, f.jobs_cached
        ),
    );
    report.summary(
        "requests",
        format!(
            "{} ({} s waited for rate limits and retries){}",
            f.requests,
            f.waited_secs,
            if f.authenticated {
                ""
            } else {
                "; no GITHUB_TOKEN: unauthenticated, 60 requests an hour"
            }
        ),
    );
    report.summary("next fetch from", f.next_since.clone());
    report.set("fetch", f);
    report
}
