//! `tests report [FILE]...`: the runbook's daily "Test result verification" and its warning
//! alert "Test flakiness detection".
//!
//! Reads JUnit XML files (found by `tests.reports` under the root when none is given; a
//! folder means every JUnit file in it): totals, each failing test with the first line of
//! its message, the slowest tests, and across several runs the flaky tests and the suite's
//! duration trend. A test's newest run decides whether it fails now.

pub(crate) mod history;
pub(crate) mod junit;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::TestsCmd;
use crate::context::Context;
use crate::report::{Finding, Report, Severity, Table, codes};
use crate::util::{glob, walk};
use history::{Analysis, Counts, Run};
use junit::Outcome;

#[derive(Serialize)]
struct RunRow {
    file: String,
    timestamp: String,
    commit: Option<String>,
    #[serde(flatten)]
    counts: Counts,
}

pub fn run(cx: &Context, cmd: TestsCmd) -> Result<Report> {
    let TestsCmd::Report { files } = cmd;
    let (files, skipped) = inputs(cx, &files)?;
    let mut runs = files
        .iter()
        .map(|f| load(cx, f))
        .collect::<Result<Vec<Run>>>()?;
    runs.sort_by(|a, b| a.when.cmp(&b.when).then(a.file.cmp(&b.file)));
    let cfg = &cx.config.tests;
    let analysis = history::analyse(&runs, cfg.slowest, cfg.flaky_runs);
    Ok(to_report(&runs, &analysis, skipped))
}

/// The JUnit files to read, and how many other XML files a searched folder held.
fn inputs(cx: &Context, given: &[PathBuf]) -> Result<(Vec<PathBuf>, usize)> {
    let mut files = Vec::new();
    let mut skipped = 0;
    if given.is_empty() {
        files = configured(cx)?;
        if files.is_empty() {
            bail!(
                "no JUnit XML under {} matches tests.reports: run the tests with `pytest --junitxml=junit.xml`, or pass FILE",
                cx.root.display()
            );
        }
        return Ok((files, 0));
    }
    for g in given {
        let p = cx.cli_path(g);
        if !p.is_dir() {
            files.push(p);
            continue;
        }
        let before = files.len();
        for f in files_in(&p, cx)?
            .into_iter()
            .filter(|f| f.extension().is_some_and(|e| e == "xml"))
        {
            // A folder of CI artifacts may hold other XML (coverage.xml): only JUnit counts.
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            if junit::root_element(&text).is_some_and(|r| junit::is_junit_root(&r)) {
                files.push(f);
            } else {
                skipped += 1;
            }
        }
        if files.len() == before {
            bail!("{}: no JUnit XML file in this folder", g.display());
        }
    }
    Ok((files, skipped))
}

/// The files under the root that `tests.reports` matches.
fn configured(cx: &Context) -> Result<Vec<PathBuf>> {
    let globs = &cx.config.tests.reports;
    let mut files = files_in(&cx.root, cx)?;
    files.retain(|f| globs.iter().any(|g| glob::matches(g, &cx.rel(f))));
    Ok(files)
}

/// Why `tests report` without FILE has nothing to read (for `checklist`), or None.
pub fn nothing_to_check(cx: &Context) -> Result<Option<String>> {
    Ok(configured(cx)?.is_empty().then(|| {
        format!(
            "no JUnit XML matches tests.reports (`{}`)",
            cx.config.tests.reports.join("`, `")
        )
    }))
}

/// Every file below `dir`, without build output, VCS data, virtualenvs or the backup store.
fn files_in(dir: &Path, cx: &Context) -> Result<Vec<PathBuf>> {
    walk::files_under(dir, crate::deps::SKIP_DIRS, &[cx.store().dir])
}

fn load(cx: &Context, path: &Path) -> Result<Run> {
    let name = cx.rel(path);
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {name}"))?;
    let parsed =
        junit::parse(&text).with_context(|| format!("{name}: not a valid JUnit XML report"))?;
    let when = match parsed.timestamp {
        Some(t) => t,
        None => {
            let m = std::fs::metadata(path).and_then(|m| m.modified());
            m.map(DateTime::<Utc>::from)
                .with_context(|| format!("{name}: no timestamp and no modification time"))?
        }
    };
    let time = parsed
        .time
        .unwrap_or_else(|| parsed.cases.iter().map(|c| c.time).sum());
    Ok(Run {
        file: name,
        when,
        commit: parsed.commit,
        time,
        cases: parsed.cases,
    })
}

fn to_report(runs: &[Run], a: &Analysis, skipped: usize) -> Report {
    let mut report = Report::new("tests report");
    report.fail_on = Severity::High;
    let t = &a.totals;
    let newest = runs.last().expect("at least one run is read");
    report.summary(
        "runs",
        format!(
            "{} (newest {} at {})",
            runs.len(),
            newest.file,
            newest.when.format("%Y-%m-%d %H:%M:%S UTC")
        ),
    );
    report.summary(
        "tests",
        format!(
            "{} (passed {}, failed {}, errors {}, skipped {}) in {:.2} s",
            t.tests, t.passed, t.failures, t.errors, t.skipped, t.time
        ),
    );
    if skipped > 0 {
        report.summary(
            "skipped files",
            format!("{skipped} XML file(s) that are not JUnit"),
        );
    }
    if let Some(tr) = &a.trend {
        report.summary(
            "duration trend",
            format!(
                "newest run {:.2} s against a median of {:.2} s over {} earlier run(s) ({:+.1}%)",
                tr.latest, tr.median_before, tr.runs_before, tr.change_percent
            ),
        );
    }
    findings(&mut report, a);
    tables(&mut report, runs, a);
    report.set("totals", t);
    report.set("failing", &a.failing);
    report.set("slowest", &a.slowest);
    report.set("flaky", &a.flaky);
    report.set("trend", &a.trend);
    let rows: Vec<RunRow> = runs
        .iter()
        .map(|r| RunRow {
            file: r.file.clone(),
            timestamp: r.when.to_rfc3339(),
            commit: r.commit.clone(),
            counts: Counts::of(r),
        })
        .collect();
    report.set("runs", rows);
    report
}

fn findings(report: &mut Report, a: &Analysis) {
    for f in &a.failing {
        let (code, verb) = match f.outcome {
            Outcome::Error => (codes::TEST_ERROR, "errored"),
            _ => (codes::TEST_FAILED, "failed"),
        };
        let msg = match &f.message {
            Some(m) => format!("{} {verb}: {m}", f.id),
            None => format!("{} {verb}", f.id),
        };
        let mut finding = Finding::new(code, Severity::High, msg);
        finding = match (&f.file, f.line) {
            (Some(p), Some(l)) => finding.at_line(p.clone(), l),
            (Some(p), None) => finding.at(p.clone()),
            _ => finding.at(f.report.clone()),
        };
        report.push(finding);
    }
    for f in &a.flaky {
        let mut msg = format!(
            "{} is flaky: failed {} and passed {} time(s) in {} run(s)",
            f.id, f.failed, f.passed, f.runs
        );
        if let Some(c) = &f.same_commit {
            msg += &format!(", on the same commit {c}");
        }
        let at = f.file.clone().unwrap_or_else(|| f.report.clone());
        let mut finding = Finding::new(codes::TEST_FLAKY, Severity::Medium, msg).at(at);
        finding.extra.insert("passed".into(), f.passed.into());
        finding.extra.insert("failed".into(), f.failed.into());
        report.push(finding);
    }
}

fn tables(report: &mut Report, runs: &[Run], a: &Analysis) {
    let mut failing = Table::new("Failing tests", &["test", "outcome", "message", "report"]);
    for f in &a.failing {
        let outcome = if f.outcome == Outcome::Error {
            "error"
        } else {
            "failed"
        };
        failing.row(vec![
            f.id.clone(),
            outcome.into(),
            f.message.clone().unwrap_or_default(),
            f.report.clone(),
        ]);
    }
    let mut slow = Table::new("Slowest tests", &["test", "seconds"]);
    for s in &a.slowest {
        slow.row(vec![s.id.clone(), format!("{:.3}", s.time)]);
    }
    let mut flaky = Table::new(
        "Flaky tests",
        &["test", "runs", "passed", "failed", "same commit"],
    );
    for f in &a.flaky {
        flaky.row(vec![
            f.id.clone(),
            f.runs.to_string(),
            f.passed.to_string(),
            f.failed.to_string(),
            f.same_commit.clone().unwrap_or_default(),
        ]);
    }
    report.tables.extend([failing, slow, flaky]);
    if runs.len() > 1 {
        let mut t = Table::new(
            "Runs (oldest first)",
            &[
                "report", "time", "commit", "tests", "failed", "errors", "skipped", "seconds",
            ],
        );
        for r in runs {
            let c = Counts::of(r);
            t.row(vec![
                r.file.clone(),
                r.when.format("%Y-%m-%d %H:%M:%S").to_string(),
                r.commit.clone().unwrap_or_default(),
                c.tests.to_string(),
                c.failures.to_string(),
                c.errors.to_string(),
                c.skipped.to_string(),
                format!("{:.2}", c.time),
            ]);
        }
        report.tables.push(t);
    }
}
