//! What several runs say together: totals, each test's newest outcome, flaky tests and the
//! suite's duration trend. Every JUnit file is one run; runs are ordered by the suites'
//! `timestamp` (else the file's modification time).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::junit::{Case, Outcome};

pub struct Run {
    /// The file, relative to the root.
    pub file: String,
    pub when: DateTime<Utc>,
    pub commit: Option<String>,
    /// The suite's duration, else the sum of its tests'.
    pub time: f64,
    pub cases: Vec<Case>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Counts {
    pub tests: u64,
    pub passed: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
    pub time: f64,
}

impl Counts {
    pub fn of(run: &Run) -> Counts {
        let mut c = Counts {
            time: run.time,
            ..Counts::default()
        };
        for case in &run.cases {
            c.tests += 1;
            match case.outcome {
                Outcome::Passed => c.passed += 1,
                Outcome::Skipped => c.skipped += 1,
                Outcome::Failed => c.failures += 1,
                Outcome::Error => c.errors += 1,
            }
        }
        c
    }

    fn add(&mut self, o: &Counts) {
        self.tests += o.tests;
        self.passed += o.passed;
        self.failures += o.failures;
        self.errors += o.errors;
        self.skipped += o.skipped;
        self.time += o.time;
    }
}

/// A failing `<testcase>` of a test's newest run.
#[derive(Debug, Serialize)]
pub struct Failing {
    pub id: String,
    pub outcome: Outcome,
    pub message: Option<String>,
    pub file: Option<String>,
    pub line: Option<usize>,
    /// The JUnit file it is in.
    pub report: String,
}

#[derive(Debug, Serialize)]
pub struct Slow {
    pub id: String,
    pub time: f64,
    pub report: String,
}

#[derive(Debug, Serialize)]
pub struct Flaky {
    pub id: String,
    /// Runs (of those compared) that ran the test.
    pub runs: usize,
    /// Passing and failing results among them (a failed attempt before a rerun counts).
    pub passed: usize,
    pub failed: usize,
    /// The commit it both failed and passed on, when the runs record commits.
    pub same_commit: Option<String>,
    pub file: Option<String>,
    /// The JUnit file of its newest run.
    pub report: String,
}

#[derive(Debug, Serialize)]
pub struct Trend {
    pub latest: f64,
    pub median_before: f64,
    pub runs_before: usize,
    pub change_percent: f64,
}

pub struct Analysis {
    pub totals: Counts,
    pub failing: Vec<Failing>,
    pub slowest: Vec<Slow>,
    pub flaky: Vec<Flaky>,
    pub trend: Option<Trend>,
}

/// `runs` must be ordered oldest first.
pub fn analyse(runs: &[Run], slowest: usize, flaky_runs: usize) -> Analysis {
    let mut totals = Counts::default();
    for r in runs {
        totals.add(&Counts::of(r));
    }
    // Each test's runs, oldest first: run index → its elements in that run.
    let mut by_id: BTreeMap<&str, Vec<(usize, Vec<&Case>)>> = BTreeMap::new();
    for (i, r) in runs.iter().enumerate() {
        for c in &r.cases {
            let v = by_id.entry(c.id.as_str()).or_default();
            match v.last_mut() {
                Some((j, cases)) if *j == i => cases.push(c),
                _ => v.push((i, vec![c])),
            }
        }
    }
    let mut failing = Vec::new();
    let mut slow = Vec::new();
    let mut flaky = Vec::new();
    let window = runs.len().saturating_sub(flaky_runs);
    for (id, seen) in &by_id {
        let (newest, cases) = seen.last().expect("a test is seen in some run");
        for c in cases.iter().filter(|c| c.outcome >= Outcome::Failed) {
            failing.push(Failing {
                id: id.to_string(),
                outcome: c.outcome,
                message: c.message.clone(),
                file: c.file.clone(),
                line: c.line,
                report: runs[*newest].file.clone(),
            });
        }
        let time = cases.iter().map(|c| c.time).sum();
        if time > 0.0 {
            slow.push(Slow {
                id: id.to_string(),
                time,
                report: runs[*newest].file.clone(),
            });
        }
        if let Some(f) = flaky_test(id, seen, runs, window) {
            flaky.push(f);
        }
    }
    slow.sort_by(|a, b| b.time.total_cmp(&a.time).then(a.id.cmp(&b.id)));
    slow.truncate(slowest);
    Analysis {
        totals,
        failing,
        slowest: slow,
        flaky,
        trend: trend(runs),
    }
}

/// (passed, failed) results of a test in one run.
fn results(cases: &[&Case]) -> (usize, usize) {
    let failed = cases
        .iter()
        .map(|c| c.failed_attempts as usize + usize::from(c.outcome >= Outcome::Failed))
        .sum();
    let passed = usize::from(
        cases.iter().any(|c| c.outcome == Outcome::Passed)
            && cases.iter().all(|c| c.outcome < Outcome::Failed),
    );
    (passed, failed)
}

/// Flaky: it failed and passed within the newest runs (`window` is the first run index
/// compared), or on one commit whenever that was.
fn flaky_test(
    id: &str,
    seen: &[(usize, Vec<&Case>)],
    runs: &[Run],
    window: usize,
) -> Option<Flaky> {
    let mut by_commit: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (i, cases) in seen {
        if let Some(c) = runs[*i].commit.as_deref() {
            let (p, f) = results(cases);
            let e = by_commit.entry(c).or_default();
            *e = (e.0 + p, e.1 + f);
        }
    }
    let same_commit = by_commit
        .into_iter()
        .find(|(_, (p, f))| *p > 0 && *f > 0)
        .map(|(c, _)| c.to_string());
    let compared: Vec<&(usize, Vec<&Case>)> = seen
        .iter()
        .filter(|(i, _)| {
            *i >= window
                || runs[*i].commit.as_ref() == same_commit.as_ref() && same_commit.is_some()
        })
        .collect();
    let (passed, failed) = compared.iter().fold((0, 0), |(p, f), (_, cases)| {
        let (p2, f2) = results(cases);
        (p + p2, f + f2)
    });
    if passed == 0 || failed == 0 {
        return None;
    }
    Some(Flaky {
        id: id.to_string(),
        runs: compared.len(),
        passed,
        failed,
        same_commit,
        file: seen
            .last()
            .and_then(|(_, c)| c.first())
            .and_then(|c| c.file.clone()),
        report: seen
            .last()
            .map(|(i, _)| runs[*i].file.clone())
            .unwrap_or_default(),
    })
}

/// The newest run's duration against the median of the ones before it.
fn trend(runs: &[Run]) -> Option<Trend> {
    let (latest, before) = runs.split_last()?;
    if before.is_empty() {
        return None;
    }
    let mut times: Vec<f64> = before.iter().map(|r| r.time).collect();
    times.sort_by(f64::total_cmp);
    let n = times.len();
    let median = if n % 2 == 1 {
        times[n / 2]
    } else {
        (times[n / 2 - 1] + times[n / 2]) / 2.0
    };
    Some(Trend {
        latest: latest.time,
        median_before: median,
        runs_before: n,
        change_percent: if median > 0.0 {
            (latest.time - median) / median * 100.0
        } else {
            0.0
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, outcome: Outcome) -> Case {
        Case {
            id: id.into(),
            file: None,
            line: None,
            time: 1.0,
            outcome,
            message: Some(format!("{id} message")),
            failed_attempts: 0,
        }
    }

    fn run(n: i64, commit: Option<&str>, cases: Vec<Case>) -> Run {
        Run {
            file: format!("run{n}.xml"),
            when: DateTime::from_timestamp(n * 100, 0).unwrap(),
            commit: commit.map(str::to_string),
            time: 10.0 + n as f64,
            cases,
        }
    }

    #[test]
    fn newest_outcome_decides_and_flaky_is_counted() {
        use Outcome::*;
        let runs = [
            run(
                1,
                None,
                vec![case("a", Failed), case("b", Passed), case("c", Failed)],
            ),
            run(
                2,
                None,
                vec![case("a", Passed), case("b", Passed), case("c", Failed)],
            ),
            run(3, None, vec![case("a", Passed), case("b", Error)]),
        ];
        let a = analyse(&runs, 2, 10);
        assert_eq!(a.totals.tests, 8);
        let failing: Vec<(&str, Outcome)> = a
            .failing
            .iter()
            .map(|f| (f.id.as_str(), f.outcome))
            .collect();
        // `c` last ran in run 2 and failed there; `a` failed in run 1 only.
        assert_eq!(failing, [("b", Error), ("c", Failed)]);
        let flaky: Vec<(&str, usize, usize)> = a
            .flaky
            .iter()
            .map(|f| (f.id.as_str(), f.passed, f.failed))
            .collect();
        assert_eq!(flaky, [("a", 2, 1), ("b", 2, 1)]);
        let t = a.trend.unwrap();
        assert_eq!((t.latest, t.median_before, t.runs_before), (13.0, 11.5, 2));
        // A window of 2 runs no longer sees `a` fail.
        let a = analyse(&runs, 2, 2);
        assert_eq!(a.flaky.len(), 1);
    }

    #[test]
    fn same_commit_and_reruns() {
        use Outcome::*;
        let mut retried = case("r", Passed);
        retried.failed_attempts = 2;
        let runs = [
            run(1, Some("abc"), vec![case("x", Failed)]),
            run(2, Some("def"), vec![case("x", Passed), retried]),
            run(3, Some("abc"), vec![case("x", Passed)]),
        ];
        let a = analyse(&runs, 0, 2);
        let x = a.flaky.iter().find(|f| f.id == "x").unwrap();
        assert_eq!(x.same_commit.as_deref(), Some("abc"));
        assert_eq!((x.runs, x.passed, x.failed), (3, 2, 1));
        let r = a.flaky.iter().find(|f| f.id == "r").unwrap();
        assert_eq!((r.passed, r.failed), (1, 2));
        assert!(a.failing.is_empty() && a.slowest.is_empty());
    }
}
