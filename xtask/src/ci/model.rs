//! The data `ci` computes with: workflow runs (their latest attempt), jobs and steps, with
//! names interned and times in Unix seconds (UTC); and the clock and windows of a run.

use anyhow::{Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use rustc_hash::FxHashMap;

/// Unix seconds, UTC.
pub type Secs = i64;

/// An interned name (workflow, job, step, branch, event, commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Sym(pub u32);

/// The interned names; `Sym(0)` is the empty name.
pub struct Names {
    map: FxHashMap<Box<str>, u32>,
    list: Vec<Box<str>>,
}

impl Default for Names {
    fn default() -> Self {
        let mut n = Names {
            map: FxHashMap::default(),
            list: Vec::new(),
        };
        n.get("");
        n
    }
}

impl Names {
    pub fn get(&mut self, s: &str) -> Sym {
        if let Some(&i) = self.map.get(s) {
            return Sym(i);
        }
        let i = self.list.len() as u32;
        self.list.push(s.into());
        self.map.insert(s.into(), i);
        Sym(i)
    }

    pub fn name(&self, s: Sym) -> &str {
        &self.list[s.0 as usize]
    }

    pub fn all(&self) -> &[Box<str>] {
        &self.list
    }
}

/// Where a run, job or step stands. Anything but `completed` (queued, in progress,
/// waiting, requested, pending) is unfinished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Completed,
    Unfinished,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "completed" => Some(Status::Completed),
            "queued" | "in_progress" | "waiting" | "requested" | "pending" => {
                Some(Status::Unfinished)
            }
            _ => None,
        }
    }
}

/// How a completed run, job or step ended (GitHub's `conclusion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conclusion {
    Success,
    Failure,
    TimedOut,
    StartupFailure,
    Cancelled,
    Skipped,
    Neutral,
    ActionRequired,
    Stale,
}

/// What a conclusion counts as in the rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Success,
    /// Counted, and not a success (failure, timed out, startup failure, neutral, ...).
    Failed,
    /// Cancelled and skipped: left out of the rates and durations.
    Excluded,
}

impl Conclusion {
    pub fn parse(s: &str) -> Option<Conclusion> {
        Some(match s {
            "success" => Conclusion::Success,
            "failure" => Conclusion::Failure,
            "timed_out" => Conclusion::TimedOut,
            "startup_failure" => Conclusion::StartupFailure,
            "cancelled" => Conclusion::Cancelled,
            "skipped" => Conclusion::Skipped,
            "neutral" => Conclusion::Neutral,
            "action_required" => Conclusion::ActionRequired,
            "stale" => Conclusion::Stale,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::TimedOut => "timed_out",
            Conclusion::StartupFailure => "startup_failure",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Skipped => "skipped",
            Conclusion::Neutral => "neutral",
            Conclusion::ActionRequired => "action_required",
            Conclusion::Stale => "stale",
        }
    }

    pub fn counted(self) -> Counted {
        match self {
            Conclusion::Success => Counted::Success,
            Conclusion::Cancelled | Conclusion::Skipped => Counted::Excluded,
            _ => Counted::Failed,
        }
    }
}

/// A workflow run: its latest attempt among the exports.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: u64,
    /// `run_attempt`: 1 for the first attempt; earlier attempts count as re-runs.
    pub attempt: u32,
    pub workflow: Sym,
    pub status: Status,
    /// Set exactly when `status` is completed.
    pub conclusion: Option<Conclusion>,
    pub created: Secs,
    /// `run_started_at` (set when completed).
    pub started: Option<Secs>,
    /// `updated_at` (set when completed): when the run finished.
    pub updated: Option<Secs>,
    pub head_sha: Sym,
    pub branch: Sym,
    pub event: Sym,
    /// The export it came from (ties between duplicates go to the later file).
    pub file: u32,
}

impl Run {
    /// How the run counts, when it is completed.
    pub fn counted(&self) -> Option<Counted> {
        self.conclusion.map(Conclusion::counted)
    }

    /// `updated_at − run_started_at` of a completed run.
    pub fn duration(&self) -> Option<Secs> {
        Some(self.updated? - self.started?)
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: u64,
    pub run_id: u64,
    /// The run attempt the job belongs to, when the export says.
    pub attempt: Option<u32>,
    pub name: Sym,
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    /// Only REST exports have it (queue time is `started_at − created_at`).
    pub created: Option<Secs>,
    pub started: Option<Secs>,
    pub completed: Option<Secs>,
    /// Its steps in `Exports::steps`.
    pub steps: std::ops::Range<u32>,
    pub file: u32,
}

impl Job {
    pub fn duration(&self) -> Option<Secs> {
        Some(self.completed? - self.started?)
    }

    pub fn queue(&self) -> Option<Secs> {
        Some(self.started? - self.created?)
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: Sym,
    /// None while unfinished.
    pub conclusion: Option<Conclusion>,
    /// `completed_at − started_at` in seconds (none when either is missing): steps are the
    /// bulk of an export, so only what the figures need is kept.
    pub secs: Option<u32>,
}

impl Step {
    pub fn duration(&self) -> Option<Secs> {
        self.secs.map(Secs::from)
    }
}

/// Every export merged: one run per id (its latest attempt), the jobs of those attempts.
#[derive(Default)]
pub struct Exports {
    /// Oldest first (by `created_at`, then id).
    pub runs: Vec<Run>,
    /// Grouped by run (in `runs` order), each run's jobs by start.
    pub jobs: Vec<Job>,
    pub steps: Vec<Step>,
    pub names: Names,
    /// The files read, as shown in messages.
    pub files: Vec<String>,
    /// Whether any job export was read (per-job figures exist only then).
    pub has_jobs: bool,
    pub notes: Notes,
}

/// What merging found, for the summary.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Notes {
    /// The same run attempt or job in more than one file or page.
    pub duplicates: u64,
    /// Records of attempts older than a run's latest (re-runs), left out.
    pub earlier_attempts: u64,
    /// Jobs of runs that are in no runs export, left out.
    pub jobs_without_run: u64,
    /// Runs whose export has no `run_attempt` (taken as the first attempt).
    pub runs_without_attempt: u64,
}

impl Exports {
    /// The jobs of the run at `runs[i]` (jobs are grouped by run in `runs` order).
    pub fn job_ranges(&self) -> Vec<std::ops::Range<usize>> {
        let mut ranges = vec![0..0; self.runs.len()];
        let index: FxHashMap<u64, usize> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id, i))
            .collect();
        let mut at = 0;
        while at < self.jobs.len() {
            let run = self.jobs[at].run_id;
            let start = at;
            while at < self.jobs.len() && self.jobs[at].run_id == run {
                at += 1;
            }
            if let Some(&i) = index.get(&run) {
                ranges[i] = start..at;
            }
        }
        ranges
    }

    pub fn steps_of(&self, job: &Job) -> &[Step] {
        &self.steps[job.steps.start as usize..job.steps.end as usize]
    }
}

/// The time span a figure covers: `[since, now)`; the previous window is as long and ends
/// where this one starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: Secs,
    pub now: Secs,
}

impl Window {
    pub fn len(&self) -> Secs {
        self.now - self.since
    }

    pub fn previous(&self) -> Window {
        Window {
            since: self.since - self.len(),
            now: self.since,
        }
    }

    pub fn contains(&self, t: Secs) -> bool {
        self.since <= t && t < self.now
    }

    /// "the hour to 12:00 UTC on 2026-01-08", "the 7 days to 2026-01-08 12:00 UTC".
    pub fn describe(&self) -> String {
        let len = self.len();
        let what = match len {
            3600 => "the hour".to_string(),
            86_400 => "the day".to_string(),
            604_800 => "the week".to_string(),
            l if l % 604_800 == 0 => format!("the {} weeks", l / 604_800),
            l if l % 86_400 == 0 => format!("the {} days", l / 86_400),
            l if l % 3600 == 0 => format!("the {} hours", l / 3600),
            l => format!("the {} minutes", l / 60),
        };
        let end = utc(self.now);
        if len < 86_400 {
            format!(
                "{what} to {} on {}",
                end.format("%H:%M UTC"),
                end.format("%Y-%m-%d")
            )
        } else {
            format!("{what} to {}", end.format("%Y-%m-%d %H:%M UTC"))
        }
    }
}

pub fn utc(t: Secs) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

/// RFC 3339 as JSON shows it: `2026-01-08T12:00:00Z`.
pub fn rfc3339(t: Secs) -> String {
    utc(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// [`days_from_civil`] with the last day remembered: an export's timestamps mostly share
/// their day.
fn days_of(y: i64, m: i64, d: i64) -> i64 {
    thread_local! {
        static LAST: std::cell::Cell<(i64, i64)> = const { std::cell::Cell::new((-1, 0)) };
    }
    let key = y * 10_000 + m * 100 + d;
    LAST.with(|last| {
        let (k, days) = last.get();
        if k == key {
            return days;
        }
        let days = days_from_civil(y, m, d);
        last.set((key, days));
        days
    })
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A GitHub timestamp: `2026-01-08T12:00:00Z` on the fast path, any RFC 3339 otherwise.
pub fn parse_time(s: &str) -> Option<Secs> {
    if let Ok(b) = <&[u8; 20]>::try_from(s.as_bytes())
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
    {
        let d = |i: usize| b[i].wrapping_sub(b'0');
        const DIGITS: [usize; 14] = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
        if DIGITS.iter().fold(0u8, |acc, &i| acc | u8::from(d(i) > 9)) != 0 {
            return None;
        }
        let two = |i: usize| i64::from(d(i)) * 10 + i64::from(d(i + 1));
        let (y, mo, day) = (two(0) * 100 + two(2), two(5), two(8));
        let (h, mi, sec) = (two(11), two(14), two(17));
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let month_days = match mo {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if (1..=12).contains(&mo)
            && (1..=month_days).contains(&day)
            && h < 24
            && mi < 60
            && sec < 60
        {
            return Some(days_of(y, mo, day) * 86_400 + h * 3600 + mi * 60 + sec);
        }
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp())
}

/// A time given on the command line: RFC 3339, a day (`2026-01-08`, midnight UTC), or a
/// length of time before `now` (`7d`, `1h`).
pub fn parse_when(text: &str, now: Secs) -> Result<Secs> {
    if let Some(t) = parse_time(text) {
        return Ok(t);
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc()
            .timestamp());
    }
    if let Ok(span) = crate::config::Span::parse(text) {
        return Ok(now - span.secs());
    }
    bail!(
        "`{}` is not a time: give RFC 3339 (2026-01-08T12:00:00Z), a day (2026-01-08) or a length of time before now (7d, 12h)",
        text.escape_debug()
    )
}

/// `--now`, or the current time.
pub fn clock(now: Option<&str>) -> Result<Secs> {
    let real = Utc::now().timestamp();
    match now {
        Some(t) => parse_when(t, real),
        None => Ok(real),
    }
}

/// The window ending at `now` that starts at `--since`, or `default` before `now`.
pub fn window(since: Option<&str>, now: Secs, default: crate::config::Span) -> Result<Window> {
    let since = match since {
        Some(s) => parse_when(s, now)?,
        None => now - default.secs(),
    };
    if since >= now {
        bail!(
            "--since {} is not before the end of the window ({}): give an earlier time",
            rfc3339(since),
            rfc3339(now)
        );
    }
    Ok(Window { since, now })
}

/// Linear interpolation between the closest ranks (NumPy's default, `percentile_cont`):
/// rank `p/100 · (n−1)` of the sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = p / 100.0 * (n - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64))
}

/// p50 and p95 of `values` (sorted here).
pub fn p50_p95(values: &mut [f64]) -> (Option<f64>, Option<f64>) {
    values.sort_unstable_by(f64::total_cmp);
    (percentile(values, 50.0), percentile(values, 95.0))
}

/// `1h 02m`, `12m 30s`, `45s` for people.
pub fn human_secs(secs: f64) -> String {
    let s = secs.round() as i64;
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_linearly_between_ranks() {
        // Hand-computed: n=4, p50 rank 1.5 → 20 + 0.5·(30−20) = 25; p95 rank 2.85 →
        // 30 + 0.85·(100−30) = 89.5.
        let v = [10.0, 20.0, 30.0, 100.0];
        assert_eq!(percentile(&v, 50.0), Some(25.0));
        assert!((percentile(&v, 95.0).unwrap() - 89.5).abs() < 1e-9);
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        let mut odd = [3.0, 1.0, 2.0];
        assert_eq!(p50_p95(&mut odd).0, Some(2.0));
    }

    #[test]
    fn timestamps_parse_on_the_fast_path_and_the_general_one() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2026-01-08T12:00:00Z"), Some(1_767_873_600));
        assert_eq!(parse_time("2024-02-29T23:59:59Z"), Some(1_709_251_199));
        assert_eq!(
            parse_time("2026-01-08T13:00:00+01:00"),
            Some(1_767_873_600),
            "an offset goes through chrono"
        );
        assert_eq!(parse_time("2026-01-08T12:00:00.250Z"), Some(1_767_873_600));
        for bad in [
            "",
            "2026-13-08T12:00:00Z",
            "2026-01-08 12:00:00",
            "yesterday",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn when_accepts_times_days_and_lengths_before_now() {
        let now = 1_767_873_600;
        assert_eq!(parse_when("2026-01-08", now).unwrap(), 1_767_830_400);
        assert_eq!(parse_when("7d", now).unwrap(), now - 7 * 86_400);
        assert!(parse_when("last week", now).is_err());
        let w = window(Some("1h"), now, crate::config::Span::days(7)).unwrap();
        assert_eq!(w.describe(), "the hour to 12:00 UTC on 2026-01-08");
        assert_eq!(
            w.previous(),
            Window {
                since: now - 7200,
                now: now - 3600
            }
        );
        let w = window(None, now, crate::config::Span::days(7)).unwrap();
        assert_eq!(w.describe(), "the week to 2026-01-08 12:00 UTC");
        assert!(window(Some("2027-01-01"), now, crate::config::Span::days(1)).is_err());
    }
}
