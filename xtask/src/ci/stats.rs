//! `ci stats`: the runbook's build metrics over a window, per workflow, job and step,
//! against the previous window of the same length.
//!
//! Definitions (also printed by the report):
//! - a run is in a window when it was created in it; its latest attempt counts, and each
//!   earlier attempt is a re-run;
//! - `success_rate`: successful runs over completed runs, cancelled and skipped ones left
//!   out (a fraction 0–1); every other conclusion (failure, timed out, ...) is a failure;
//! - durations: `updated_at − run_started_at` of those same runs (jobs: `completed_at −
//!   started_at`, steps likewise), percentiles by linear interpolation between ranks;
//! - queue time: a job's `started_at − created_at` (REST exports only: `gh` has no
//!   `created_at` for jobs);
//! - failure rate by stage: failed over counted executions of a job or step.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::model::{Counted, Exports, Run, Secs, Sym, Window, p50_p95, rfc3339};
use crate::config::{FailureRateRule, TrendRule};

/// A workflow's (or all workflows') figures in one window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Figures {
    /// Runs created in the window, whatever their state.
    pub runs: u64,
    pub completed: u64,
    pub success: u64,
    /// Counted and not a success.
    pub failed: u64,
    /// Cancelled or skipped: left out of the rate and durations.
    pub excluded: u64,
    pub success_rate: Option<f64>,
    pub duration_p50_secs: Option<f64>,
    pub duration_p95_secs: Option<f64>,
    /// Earlier attempts of the window's runs.
    pub reruns: u64,
}

impl Figures {
    /// Success and failure counts' sum: the rate's denominator.
    pub fn counted(&self) -> u64 {
        self.success + self.failed
    }
}

/// Change against the previous window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Change {
    pub runs: i64,
    /// Difference of the two success rates (0.05: five points better).
    pub success_rate: Option<f64>,
    /// Relative change of the median duration, in percent.
    pub duration_p50_percent: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkflowStats {
    pub name: String,
    #[serde(flatten)]
    pub current: Figures,
    pub queue_p50_secs: Option<f64>,
    pub queue_p95_secs: Option<f64>,
    pub previous: Figures,
    pub change: Change,
}

/// A job (a stage) of a workflow, over the window's runs.
#[derive(Debug, Clone, Serialize)]
pub struct JobStats {
    pub workflow: String,
    pub name: String,
    pub runs: u64,
    pub failed: u64,
    pub failure_rate: Option<f64>,
    pub duration_p50_secs: Option<f64>,
    pub duration_p95_secs: Option<f64>,
    pub queue_p50_secs: Option<f64>,
    pub queue_p95_secs: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepStats {
    pub workflow: String,
    pub job: String,
    pub name: String,
    pub runs: u64,
    pub failed: u64,
    pub failure_rate: Option<f64>,
    pub duration_p50_secs: Option<f64>,
    pub duration_p95_secs: Option<f64>,
}

/// A failed run of the window (the runbook's "Review failed builds").
#[derive(Debug, Clone, Serialize)]
pub struct FailedRun {
    pub workflow: String,
    pub id: u64,
    pub attempt: u32,
    pub conclusion: &'static str,
    pub created_at: String,
    pub head_branch: String,
    pub head_sha: String,
    pub event: String,
    /// Jobs of the run that failed (with `--jobs`).
    pub failed_jobs: Vec<String>,
}

/// What a window's figures break, by the `[alerts]` rules' thresholds.
#[derive(Debug, Clone)]
pub enum Flag {
    FailureRate {
        workflow: Option<String>,
        failed: u64,
        counted: u64,
        threshold_percent: f64,
    },
    Trend {
        workflow: String,
        p50: f64,
        previous_p50: f64,
        percent: f64,
        threshold_percent: f64,
    },
}

impl Flag {
    /// "40% of 5 CI runs failed in the hour to 12:00 UTC on 2026-01-08 (threshold 10%)".
    pub fn message(&self, window: &Window) -> String {
        match self {
            Flag::FailureRate {
                workflow,
                failed,
                counted,
                threshold_percent,
            } => {
                let what = match workflow {
                    Some(w) => format!("runs of workflow `{w}`"),
                    None => "CI runs".into(),
                };
                format!(
                    "{} of {counted} {what} failed in {} (threshold {}%)",
                    percent(*failed as f64 / *counted as f64),
                    window.describe(),
                    trim(*threshold_percent)
                )
            }
            Flag::Trend {
                workflow,
                p50,
                previous_p50,
                percent: pct,
                threshold_percent,
            } => format!(
                "workflow `{workflow}`: median duration {} in {} against {} in the window before ({:+.0}%, threshold +{}%)",
                super::model::human_secs(*p50),
                window.describe(),
                super::model::human_secs(*previous_p50),
                pct,
                trim(*threshold_percent)
            ),
        }
    }

    pub fn workflow(&self) -> Option<&str> {
        match self {
            Flag::FailureRate { workflow, .. } => workflow.as_deref(),
            Flag::Trend { workflow, .. } => Some(workflow),
        }
    }
}

/// `0.4` → `40%`, `0.125` → `12.5%`.
pub fn percent(fraction: f64) -> String {
    format!("{}%", trim((fraction * 1000.0).round() / 10.0))
}

fn trim(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

pub struct Stats {
    pub window: Window,
    pub totals: Figures,
    pub workflows: Vec<WorkflowStats>,
    pub jobs: Vec<JobStats>,
    pub steps: Vec<StepStats>,
    /// The slowest steps by median duration.
    pub slowest: Vec<StepStats>,
    pub failed_runs: Vec<FailedRun>,
    pub queue_p50_secs: Option<f64>,
    pub queue_p95_secs: Option<f64>,
    pub has_jobs: bool,
    pub flags: Vec<Flag>,
}

/// Accumulated durations and counts of one window.
#[derive(Default)]
struct Acc {
    runs: u64,
    completed: u64,
    success: u64,
    failed: u64,
    excluded: u64,
    reruns: u64,
    durations: Vec<f64>,
}

impl Acc {
    fn add(&mut self, r: &Run) {
        self.runs += 1;
        self.reruns += u64::from(r.attempt - 1);
        let Some(c) = r.counted() else { return };
        self.completed += 1;
        match c {
            Counted::Success => self.success += 1,
            Counted::Failed => self.failed += 1,
            Counted::Excluded => {
                self.excluded += 1;
                return;
            }
        }
        if let Some(d) = r.duration() {
            self.durations.push(d as f64);
        }
    }

    fn figures(mut self) -> Figures {
        let counted = self.success + self.failed;
        let (p50, p95) = p50_p95(&mut self.durations);
        Figures {
            runs: self.runs,
            completed: self.completed,
            success: self.success,
            failed: self.failed,
            excluded: self.excluded,
            success_rate: (counted > 0).then(|| self.success as f64 / counted as f64),
            duration_p50_secs: p50,
            duration_p95_secs: p95,
            reruns: self.reruns,
        }
    }
}

/// Counts and durations of a job or step.
#[derive(Default)]
struct Exec {
    runs: u64,
    failed: u64,
    counted: u64,
    durations: Vec<f64>,
    queue: Vec<f64>,
}

impl Exec {
    fn add(&mut self, c: Option<Counted>, duration: Option<Secs>, queue: Option<Secs>) {
        self.runs += 1;
        match c {
            Some(Counted::Success) => self.counted += 1,
            Some(Counted::Failed) => {
                self.counted += 1;
                self.failed += 1;
            }
            Some(Counted::Excluded) | None => return,
        }
        if let Some(d) = duration {
            self.durations.push(d as f64);
        }
        if let Some(q) = queue {
            self.queue.push(q as f64);
        }
    }

    fn rate(&self) -> Option<f64> {
        (self.counted > 0).then(|| self.failed as f64 / self.counted as f64)
    }
}

pub struct Options<'a> {
    pub window: Window,
    pub slowest: usize,
    pub failure: &'a FailureRateRule,
    pub trend: &'a TrendRule,
}

pub fn compute(x: &Exports, o: &Options) -> Stats {
    let (cur, prev) = (o.window, o.window.previous());
    let mut per_wf: FxHashMap<Sym, (Acc, Acc)> = FxHashMap::default();
    let mut total = Acc::default();
    for r in &x.runs {
        if cur.contains(r.created) {
            per_wf.entry(r.workflow).or_default().0.add(r);
            total.add(r);
        } else if prev.contains(r.created) {
            per_wf.entry(r.workflow).or_default().1.add(r);
        }
    }
    let stages = stages(x, &cur);
    let mut workflows: Vec<WorkflowStats> = per_wf
        .into_iter()
        .filter(|(_, (c, _))| c.runs > 0)
        .map(|(sym, (c, p))| {
            let (current, previous) = (c.figures(), p.figures());
            let mut queue = stages
                .queue_by_workflow
                .get(&sym)
                .cloned()
                .unwrap_or_default();
            let (q50, q95) = p50_p95(&mut queue);
            WorkflowStats {
                name: x.names.name(sym).to_string(),
                change: change(&current, &previous),
                current,
                previous,
                queue_p50_secs: q50,
                queue_p95_secs: q95,
            }
        })
        .collect();
    workflows.sort_by(|a, b| a.name.cmp(&b.name));
    let mut slowest: Vec<StepStats> = stages
        .steps
        .iter()
        .filter(|s| s.duration_p50_secs.is_some())
        .cloned()
        .collect();
    slowest.sort_by(|a, b| {
        b.duration_p50_secs
            .unwrap_or_default()
            .total_cmp(&a.duration_p50_secs.unwrap_or_default())
            .then_with(|| (&a.workflow, &a.job, &a.name).cmp(&(&b.workflow, &b.job, &b.name)))
    });
    slowest.truncate(o.slowest);
    let flags = flags(&workflows, o);
    let mut all_queue = stages.all_queue;
    let (q50, q95) = p50_p95(&mut all_queue);
    Stats {
        window: cur,
        totals: total.figures(),
        workflows,
        jobs: stages.jobs,
        steps: stages.steps,
        slowest,
        failed_runs: stages.failed_runs,
        queue_p50_secs: q50,
        queue_p95_secs: q95,
        has_jobs: x.has_jobs,
        flags,
    }
}

fn change(c: &Figures, p: &Figures) -> Change {
    Change {
        runs: c.runs as i64 - p.runs as i64,
        success_rate: c.success_rate.zip(p.success_rate).map(|(a, b)| a - b),
        duration_p50_percent: c
            .duration_p50_secs
            .zip(p.duration_p50_secs)
            .filter(|(_, b)| *b > 0.0)
            .map(|(a, b)| (a - b) / b * 100.0),
    }
}

/// Per workflow over the stats window: the failure rate above `build_failure_rate`'s
/// threshold, the median above `build_time_trend`'s rise.
fn flags(workflows: &[WorkflowStats], o: &Options) -> Vec<Flag> {
    let mut out = Vec::new();
    for w in workflows {
        if let Some(f) = failure_flag(Some(&w.name), &w.current, o.failure) {
            out.push(f);
        }
        if let Some(f) = trend_flag(w, o.trend) {
            out.push(f);
        }
    }
    out
}

/// The failure-rate rule on a window's figures: enough counted runs, a share above the
/// threshold.
pub fn failure_flag(workflow: Option<&str>, f: &Figures, rule: &FailureRateRule) -> Option<Flag> {
    let counted = f.counted();
    if counted < rule.min_runs as u64 || counted == 0 {
        return None;
    }
    let rate = f.failed as f64 / counted as f64;
    (rate * 100.0 > rule.threshold_percent).then(|| Flag::FailureRate {
        workflow: workflow.map(str::to_string),
        failed: f.failed,
        counted,
        threshold_percent: rule.threshold_percent,
    })
}

/// The trend rule: a median up more than the threshold, with enough runs in both windows.
pub fn trend_flag(w: &WorkflowStats, rule: &TrendRule) -> Option<Flag> {
    let min = rule.min_runs as u64;
    if w.current.counted() < min || w.previous.counted() < min {
        return None;
    }
    let (p50, prev) = (w.current.duration_p50_secs?, w.previous.duration_p50_secs?);
    let pct = w.change.duration_p50_percent?;
    (pct > rule.threshold_percent).then(|| Flag::Trend {
        workflow: w.name.clone(),
        p50,
        previous_p50: prev,
        percent: pct,
        threshold_percent: rule.threshold_percent,
    })
}

/// Jobs and steps of the window's runs.
struct Stages {
    jobs: Vec<JobStats>,
    steps: Vec<StepStats>,
    failed_runs: Vec<FailedRun>,
    queue_by_workflow: FxHashMap<Sym, Vec<f64>>,
    all_queue: Vec<f64>,
}

fn stages(x: &Exports, cur: &Window) -> Stages {
    let ranges = x.job_ranges();
    let mut jobs: FxHashMap<(Sym, Sym), Exec> = FxHashMap::default();
    let mut steps: FxHashMap<(Sym, Sym, Sym), Exec> = FxHashMap::default();
    let mut queue_by_workflow: FxHashMap<Sym, Vec<f64>> = FxHashMap::default();
    let mut all_queue = Vec::new();
    let mut failed_runs = Vec::new();
    for (r, range) in x.runs.iter().zip(ranges) {
        if !cur.contains(r.created) {
            continue;
        }
        let mut failed_jobs = Vec::new();
        for j in &x.jobs[range] {
            let counted = j.conclusion.map(|c| c.counted());
            let queue = j.queue().filter(|_| counted != Some(Counted::Excluded));
            jobs.entry((r.workflow, j.name))
                .or_default()
                .add(counted, j.duration(), queue);
            if let Some(q) = queue {
                queue_by_workflow
                    .entry(r.workflow)
                    .or_default()
                    .push(q as f64);
                all_queue.push(q as f64);
            }
            if counted == Some(Counted::Failed) {
                failed_jobs.push(x.names.name(j.name).to_string());
            }
            if counted == Some(Counted::Excluded) {
                continue;
            }
            for s in x.steps_of(j) {
                steps.entry((r.workflow, j.name, s.name)).or_default().add(
                    s.conclusion.map(|c| c.counted()),
                    s.duration(),
                    None,
                );
            }
        }
        if r.counted() == Some(Counted::Failed) {
            failed_runs.push(failed_run(x, r, failed_jobs));
        }
    }
    failed_runs.reverse();
    let n = |s: Sym| x.names.name(s).to_string();
    let mut jobs: Vec<JobStats> = jobs
        .into_iter()
        .map(|((w, j), mut e)| {
            let rate = e.rate();
            let (d50, d95) = p50_p95(&mut e.durations);
            let (q50, q95) = p50_p95(&mut e.queue);
            JobStats {
                workflow: n(w),
                name: n(j),
                runs: e.runs,
                failed: e.failed,
                failure_rate: rate,
                duration_p50_secs: d50,
                duration_p95_secs: d95,
                queue_p50_secs: q50,
                queue_p95_secs: q95,
            }
        })
        .collect();
    jobs.sort_by(|a, b| (&a.workflow, &a.name).cmp(&(&b.workflow, &b.name)));
    let mut steps: Vec<StepStats> = steps
        .into_iter()
        .map(|((w, j, s), mut e)| {
            let rate = e.rate();
            let (d50, d95) = p50_p95(&mut e.durations);
            StepStats {
                workflow: n(w),
                job: n(j),
                name: n(s),
                runs: e.runs,
                failed: e.failed,
                failure_rate: rate,
                duration_p50_secs: d50,
                duration_p95_secs: d95,
            }
        })
        .collect();
    steps.sort_by(|a, b| (&a.workflow, &a.job, &a.name).cmp(&(&b.workflow, &b.job, &b.name)));
    Stages {
        jobs,
        steps,
        failed_runs,
        queue_by_workflow,
        all_queue,
    }
}

fn failed_run(x: &Exports, r: &Run, failed_jobs: Vec<String>) -> FailedRun {
    FailedRun {
        workflow: x.names.name(r.workflow).to_string(),
        id: r.id,
        attempt: r.attempt,
        conclusion: r.conclusion.map_or("", |c| c.as_str()),
        created_at: rfc3339(r.created),
        head_branch: x.names.name(r.branch).to_string(),
        head_sha: x.names.name(r.head_sha).to_string(),
        event: x.names.name(r.event).to_string(),
        failed_jobs,
    }
}

/// The figures of every run that finished (`updated_at`) within `window`, all workflows
/// together: what `build_failure_rate` judges.
pub fn finished_in(x: &Exports, window: &Window) -> Figures {
    let mut acc = Acc::default();
    for r in &x.runs {
        if r.updated.is_some_and(|u| window.contains(u)) && r.counted().is_some() {
            acc.add(r);
        }
    }
    acc.figures()
}

/// Completed runs of the whole exports (each run's latest attempt) by workflow and
/// conclusion, sorted: what `metrics` exposes as a counter.
pub fn conclusions(x: &Exports) -> Vec<(String, &'static str, u64)> {
    let mut by: FxHashMap<(Sym, &'static str), u64> = FxHashMap::default();
    for r in &x.runs {
        if let Some(c) = r.conclusion {
            *by.entry((r.workflow, c.as_str())).or_default() += 1;
        }
    }
    let mut out: Vec<(String, &'static str, u64)> = by
        .into_iter()
        .map(|((w, c), n)| (x.names.name(w).to_string(), c, n))
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_state_the_figure_the_threshold_and_the_window() {
        let f = Flag::FailureRate {
            workflow: None,
            failed: 2,
            counted: 5,
            threshold_percent: 10.0,
        };
        let w = Window {
            since: 1_767_870_000,
            now: 1_767_873_600,
        };
        assert_eq!(
            f.message(&w),
            "40% of 5 CI runs failed in the hour to 12:00 UTC on 2026-01-08 (threshold 10%)"
        );
        assert_eq!(percent(1.0 / 8.0), "12.5%");
        assert_eq!(percent(2.0 / 3.0), "66.7%");
    }
}
