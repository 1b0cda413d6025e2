//! Reading GitHub Actions exports as users have them, into [`Exports`]:
//!
//! - REST API pages of `/actions/runs` (`{"total_count", "workflow_runs": [...]}`) and of
//!   `/actions/runs/{id}/jobs` (`{"total_count", "jobs": [...]}`), one page per file or
//!   several back to back (`gh api --paginate` output);
//! - `gh run list --json ...` (an array of runs) and `gh run view --json ...,jobs` (a run
//!   with its jobs, or only `{"jobs": [...]}`).
//!
//! Files are parsed on every core. Runs are merged by id, keeping the latest `run_attempt`;
//! jobs by id, keeping those of each run's latest attempt. Anything malformed, and any
//! export that says it is partial (a listing's `total_count` above the runs its pages
//! hold, a run's jobs pages holding fewer jobs than their `total_count`), is an error
//! naming the file and the run: a figure is never computed from part of an export.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use rustc_hash::{FxHashMap, FxHashSet};

use super::model::{
    Conclusion, Exports, Job, Names, Notes, Run, Secs, Status, Step, Sym, parse_time,
};
use super::raw::{Raw, RawJob, RawStep, Top, serde_documents};
use crate::context::Context;

/// What a file given on the command line must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Runs,
    Jobs,
    /// A file of the export folder: runs or jobs.
    Any,
}

/// The export folder: `ci.exports`, else `<backup.dir>/ci`.
pub fn exports_dir(cx: &Context) -> PathBuf {
    match &cx.config.ci.exports {
        Some(p) => cx.root.join(p),
        None => cx.store().dir.join("ci"),
    }
}

/// Read and merge the exports: `--runs` and `--jobs` files (or folders), or every `.json`
/// of the export folder when neither is given.
pub fn load(cx: &Context, runs: &[PathBuf], jobs: &[PathBuf]) -> Result<Exports> {
    let mut files: Vec<(PathBuf, Expect)> = Vec::new();
    if runs.is_empty() && jobs.is_empty() {
        let dir = exports_dir(cx);
        let found = json_files(&dir)?;
        if found.is_empty() {
            bail!(
                "no GitHub Actions exports in {}: run `cargo xtask ci fetch --repo OWNER/NAME`, or pass --runs FILE (REST /actions/runs pages or `gh run list --json databaseId,attempt,workflowName,status,conclusion,createdAt,startedAt,updatedAt,headSha,headBranch,event`)",
                cx.rel(&dir)
            );
        }
        files.extend(found.into_iter().map(|f| (f, Expect::Any)));
    }
    for (given, expect) in runs
        .iter()
        .map(|p| (p, Expect::Runs))
        .chain(jobs.iter().map(|p| (p, Expect::Jobs)))
    {
        let p = cx.cli_path(given);
        if p.is_dir() {
            let found = json_files(&p)?;
            if found.is_empty() {
                bail!("{}: no .json export in this folder", given.display());
            }
            files.extend(found.into_iter().map(|f| (f, expect)));
        } else {
            files.push((p, expect));
        }
    }
    let shown: Vec<String> = files.iter().map(|(f, _)| cx.rel(f)).collect();
    let parsed = parse_all(&files, &shown)?;
    merge(parsed, shown)
}

/// `.json` files below `dir`, without hidden or temporary ones (the fetch progress file).
pub(super) fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let files = crate::util::walk::files_under(dir, &[], &[])?;
    Ok(files
        .into_iter()
        .filter(|f| {
            let name = f.file_name().unwrap_or_default().to_string_lossy();
            name.ends_with(".json") && !name.starts_with('.')
        })
        .collect())
}

/// A REST runs page: the listing's total, the runs it holds.
struct RunsPage {
    file: u32,
    total: u64,
    ids: Vec<u64>,
}

/// A REST jobs page: the run's total, the jobs it holds.
struct JobsPage {
    file: u32,
    run_id: u64,
    total: u64,
}

/// What one file holds, its names interned in its own table.
#[derive(Default)]
struct Parsed {
    names: Names,
    runs: Vec<Run>,
    jobs: Vec<Job>,
    steps: Vec<Step>,
    runs_pages: Vec<RunsPage>,
    jobs_pages: Vec<JobsPage>,
    runs_without_attempt: u64,
}

/// Parse every file, spread over the cores (largest files first).
fn parse_all(files: &[(PathBuf, Expect)], shown: &[String]) -> Result<Vec<Parsed>> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    let size = |i: &usize| std::fs::metadata(&files[*i].0).map_or(0, |m| m.len());
    order.sort_by_key(|i| std::cmp::Reverse(size(i)));
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    // Each thread gathers its files into one `Parsed` (its vectors grow once, not per
    // file); which thread read which file does not change the merge (ties go by file).
    let results: Vec<Result<Parsed>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut p = Parsed::default();
                    let mut buf = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&i) = order.get(k) else { break };
                        let (path, expect) = &files[i];
                        parse_file(path, &shown[i], i as u32, *expect, &mut buf, &mut p)?;
                    }
                    Ok(p)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a parser thread panicked"))
            .collect()
    });
    results.into_iter().collect()
}

/// One file's records, added to `p`; `buf` is the thread's read buffer, reused.
fn parse_file(
    path: &Path,
    shown: &str,
    file: u32,
    expect: Expect,
    buf: &mut Vec<u8>,
    p: &mut Parsed,
) -> Result<()> {
    use std::io::Read;
    buf.clear();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(buf))
        .with_context(|| format!("reading {shown}"))?;
    let bytes = &buf[..];
    // The fast scanner reads what it is sure of; anything else is serde's, for its errors.
    let docs = match std::str::from_utf8(bytes).ok().map(super::scan::documents) {
        Some(Ok(docs)) => docs,
        _ => serde_documents(bytes, shown)?,
    };
    let mut any = false;
    for (n, doc) in docs.into_iter().enumerate() {
        any = true;
        let mut ctx = FileCtx {
            p: &mut *p,
            shown,
            file,
            expect,
        };
        match doc {
            Top::Array(runs) => {
                ctx.want(Expect::Runs)?;
                ctx.runs(runs, None)?
            }
            Top::Object(obj) => ctx.object(*obj, n + 1)?,
        }
    }
    if !any {
        bail!("{shown}: empty file: it holds no GitHub Actions export");
    }
    Ok(())
}

struct FileCtx<'p> {
    p: &'p mut Parsed,
    shown: &'p str,
    file: u32,
    expect: Expect,
}

fn text<'a>(v: &'a Option<Cow<'a, str>>) -> Option<&'a str> {
    v.as_deref().filter(|s| !s.is_empty())
}

impl FileCtx<'_> {
    fn want(&self, what: Expect) -> Result<()> {
        match (self.expect, what) {
            (Expect::Any, _) => Ok(()),
            (Expect::Runs, Expect::Jobs) => {
                bail!("{} holds jobs, not runs: pass it with --jobs", self.shown)
            }
            (Expect::Jobs, Expect::Runs) => {
                bail!("{} holds runs, not jobs: pass it with --runs", self.shown)
            }
            _ => Ok(()),
        }
    }

    /// A top-level object: a runs page, a jobs page, a run with its jobs, or a run.
    fn object(&mut self, mut obj: Raw, n: usize) -> Result<()> {
        if let Some(runs) = obj.workflow_runs.take() {
            self.want(Expect::Runs)?;
            return self.runs(runs, obj.total_count);
        }
        let jobs = obj.jobs.take();
        let is_run = obj.id.is_some() && obj.created_at.is_some();
        match (is_run, jobs) {
            (false, None) => bail!(
                "{}: JSON document {n} is not a GitHub Actions export: expected a runs page (`workflow_runs`), a jobs page (`jobs`), a run, or an array of runs",
                self.shown
            ),
            (false, Some(jobs)) => {
                self.want(Expect::Jobs)?;
                self.jobs(jobs, None, obj.total_count)
            }
            (true, None) => {
                self.want(Expect::Runs)?;
                self.runs(vec![obj], None)
            }
            // `gh run view ID --json databaseId,attempt,...,jobs`: a run and its jobs (the
            // run itself is read unless the file was given as jobs).
            (true, Some(jobs)) => {
                let parent = (obj.id.unwrap_or_default(), obj.run_attempt);
                if self.expect != Expect::Jobs {
                    self.runs(vec![obj], None)?;
                }
                self.jobs(jobs, Some(parent), None)
            }
        }
    }

    fn runs(&mut self, runs: Vec<Raw>, total: Option<u64>) -> Result<()> {
        let mut ids = Vec::with_capacity(runs.len());
        for (i, r) in runs.into_iter().enumerate() {
            let run = self.run(r, i)?;
            ids.push(run.id);
            self.p.runs.push(run);
        }
        if let Some(total) = total {
            self.p.runs_pages.push(RunsPage {
                file: self.file,
                total,
                ids,
            });
        }
        Ok(())
    }

    fn time(
        &self,
        what: &str,
        run: u64,
        field: &str,
        v: &Option<Cow<str>>,
    ) -> Result<Option<Secs>> {
        match text(v) {
            None => Ok(None),
            Some(s) => match parse_time(s) {
                Some(t) => Ok(Some(t)),
                None => bail!(
                    "{}: {what} of run {run}: {field} `{}` is not an RFC 3339 time",
                    self.shown,
                    s.escape_debug()
                ),
            },
        }
    }

    fn run(&mut self, r: Raw, i: usize) -> Result<Run> {
        let Some(id) = r.id else {
            bail!(
                "{}: run {} of the document has no `id` (`databaseId` in gh output)",
                self.shown,
                i + 1
            );
        };
        let shown = self.shown;
        let bad = |msg: String| -> anyhow::Error { anyhow::anyhow!("{shown}: run {id}: {msg}") };
        let workflow = text(&r.workflow_name).or(text(&r.name)).ok_or_else(|| {
            bad("no workflow name (`name`, or `workflowName` in gh output)".into())
        })?;
        let status = status(text(&r.status), &bad)?;
        let conclusion = conclusion(status, text(&r.conclusion), &bad)?;
        let created = self
            .time("the export", id, "created_at", &r.created_at)?
            .ok_or_else(|| bad("no `created_at` (`createdAt`)".into()))?;
        let started = self.time("the export", id, "run_started_at", &r.run_started_at)?;
        let updated = self.time("the export", id, "updated_at", &r.updated_at)?;
        if status == Status::Completed {
            let (Some(s), Some(u)) = (started, updated) else {
                return Err(bad(
                    "completed, but without `run_started_at` and `updated_at` (`startedAt`, `updatedAt`): its duration is unknown; export those fields".into(),
                ));
            };
            if u < s {
                return Err(bad(format!(
                    "updated_at {} is before run_started_at {}",
                    text(&r.updated_at).unwrap_or_default(),
                    text(&r.run_started_at).unwrap_or_default()
                )));
            }
        }
        if r.run_attempt.is_none() {
            self.p.runs_without_attempt += 1;
        }
        if r.run_attempt == Some(0) {
            return Err(bad("run_attempt 0: attempts count from 1".into()));
        }
        let names = &mut self.p.names;
        Ok(Run {
            id,
            attempt: r.run_attempt.unwrap_or(1),
            workflow: names.get(workflow),
            status,
            conclusion,
            created,
            started,
            updated,
            head_sha: names.get(text(&r.head_sha).unwrap_or_default()),
            branch: names.get(text(&r.head_branch).unwrap_or_default()),
            event: names.get(text(&r.event).unwrap_or_default()),
            file: self.file,
        })
    }

    /// Jobs of a page, of a `gh run view` document (`parent`: its run), or of several runs.
    fn jobs(
        &mut self,
        jobs: Vec<RawJob>,
        parent: Option<(u64, Option<u32>)>,
        total: Option<u64>,
    ) -> Result<()> {
        let mut runs_in_page = FxHashSet::default();
        for (i, j) in jobs.into_iter().enumerate() {
            let job = self.job(j, i, parent)?;
            runs_in_page.insert(job.run_id);
            self.p.jobs.push(job);
        }
        if let Some(total) = total {
            // A REST page of one run's jobs: its total is that run's.
            if runs_in_page.len() == 1 {
                let run_id = *runs_in_page.iter().next().expect("one run");
                self.p.jobs_pages.push(JobsPage {
                    file: self.file,
                    run_id,
                    total,
                });
            }
        }
        Ok(())
    }

    fn job(&mut self, j: RawJob, i: usize, parent: Option<(u64, Option<u32>)>) -> Result<Job> {
        let run_id = j
            .run_id
            .or_else(|| text(&j.url).and_then(run_id_in_url))
            .or(parent.map(|p| p.0));
        let Some(run_id) = run_id else {
            bail!(
                "{}: job {} has no `run_id` (and no run in its URL): export jobs with `gh run view ID --json databaseId,attempt,jobs` or the REST /actions/runs/ID/jobs pages",
                self.shown,
                j.id.map_or_else(|| format!("#{}", i + 1), |id| id.to_string())
            );
        };
        let id = j.id.ok_or_else(|| {
            anyhow::anyhow!("{}: run {run_id}: job {} has no `id`", self.shown, i + 1)
        })?;
        let shown = self.shown;
        let bad = |msg: String| -> anyhow::Error {
            anyhow::anyhow!("{shown}: run {run_id}: job {id}: {msg}")
        };
        let name = text(&j.name).ok_or_else(|| bad("no `name`".into()))?;
        let status = status(text(&j.status), &bad)?;
        let conclusion = conclusion(status, text(&j.conclusion), &bad)?;
        let t = |field: &str, v: &Option<Cow<str>>| self.time("a job", run_id, field, v);
        let created = t("created_at", &j.created_at)?;
        let started = t("started_at", &j.started_at)?;
        let completed = t("completed_at", &j.completed_at)?;
        let counted = conclusion.map(Conclusion::counted);
        if counted.is_some_and(|c| c != super::model::Counted::Excluded)
            && (started.is_none() || completed.is_none())
        {
            return Err(bad(
                "completed without `started_at` and `completed_at`: its duration is unknown".into(),
            ));
        }
        if let (Some(s), Some(c)) = (started, completed)
            && c < s
        {
            return Err(bad("completed_at is before started_at".into()));
        }
        let first = self.p.steps.len() as u32;
        for s in j.steps.unwrap_or_default() {
            let step = self.step(s, &bad)?;
            self.p.steps.push(step);
        }
        let names = &mut self.p.names;
        Ok(Job {
            id,
            run_id,
            attempt: j.run_attempt.or(parent.and_then(|p| p.1)),
            name: names.get(name),
            status,
            conclusion,
            created,
            started,
            completed,
            steps: first..self.p.steps.len() as u32,
            file: self.file,
        })
    }

    fn step(&mut self, s: RawStep, bad: &dyn Fn(String) -> anyhow::Error) -> Result<Step> {
        let name = text(&s.name).ok_or_else(|| bad("a step has no `name`".into()))?;
        let status = status(text(&s.status), &|m| bad(format!("step `{name}`: {m}")))?;
        let conclusion = conclusion(status, text(&s.conclusion), &|m| {
            bad(format!("step `{name}`: {m}"))
        })?;
        let time = |v: &Option<Cow<str>>| -> Result<Option<Secs>> {
            match text(v) {
                None => Ok(None),
                Some(t) => parse_time(t).map(Some).ok_or_else(|| {
                    bad(format!(
                        "step `{name}`: `{}` is not an RFC 3339 time",
                        t.escape_debug()
                    ))
                }),
            }
        };
        let (started, completed) = (time(&s.started_at)?, time(&s.completed_at)?);
        // GitHub leaves the times of some cancelled or skipped steps empty; such a step
        // counts in the failure rate but has no duration.
        let secs = match (started, completed) {
            (Some(a), Some(b)) => Some(u32::try_from(b - a).map_err(|_| {
                bad(format!(
                    "step `{name}`: completed_at is before started_at, or 136 years after it"
                ))
            })?),
            _ => None,
        };
        Ok(Step {
            name: self.p.names.get(name),
            conclusion,
            secs,
        })
    }
}

fn status(s: Option<&str>, bad: &dyn Fn(String) -> anyhow::Error) -> Result<Status> {
    let s = s.ok_or_else(|| bad("no `status`".into()))?;
    Status::parse(s).ok_or_else(|| bad(format!("unknown status `{}`", s.escape_debug())))
}

/// A completed record has a known conclusion; an unfinished one has none (yet).
fn conclusion(
    status: Status,
    c: Option<&str>,
    bad: &dyn Fn(String) -> anyhow::Error,
) -> Result<Option<Conclusion>> {
    match (status, c) {
        (Status::Completed, None) => Err(bad("completed without a `conclusion`".into())),
        (Status::Completed, Some(c)) => Conclusion::parse(c)
            .map(Some)
            .ok_or_else(|| bad(format!("unknown conclusion `{}`", c.escape_debug()))),
        (Status::Unfinished, _) => Ok(None),
    }
}

/// The run id in a job's web URL: `https://github.com/O/R/actions/runs/123/job/456`.
fn run_id_in_url(url: &str) -> Option<u64> {
    let rest = &url[url.find("/actions/runs/")? + "/actions/runs/".len()..];
    let digits: &str = &rest[..rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len())];
    digits.parse().ok()
}

/// Is `a` a later (or more final) record of the same run than `b`? Of equal ones, that of
/// the later file, whatever order the threads read the files in.
fn later_run(a: &Run, b: &Run) -> bool {
    let key = |r: &Run| (r.attempt, r.status == Status::Completed, r.updated, r.file);
    key(a) > key(b)
}

fn later_job(a: &Job, b: &Job) -> bool {
    let key = |j: &Job| (j.status == Status::Completed, j.completed, j.file);
    key(a) > key(b)
}

/// Merge the files' runs and jobs (names into one table), check that no export is partial.
fn merge(mut parsed: Vec<Parsed>, files: Vec<String>) -> Result<Exports> {
    // The largest part's names, steps and jobs become the whole's (no copy, no renaming);
    // the others are renamed into them and appended.
    parsed.sort_by_key(|p| std::cmp::Reverse(p.steps.len() + p.jobs.len()));
    let mut names = parsed
        .first_mut()
        .map_or_else(Names::default, |p| std::mem::take(&mut p.names));
    let mut notes = Notes::default();
    let mut runs: FxHashMap<u64, Run> = FxHashMap::default();
    let (total_jobs, total_steps) = parsed
        .iter()
        .fold((0, 0), |(j, s), p| (j + p.jobs.len(), s + p.steps.len()));
    let mut jobs: Vec<Job> = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    let mut runs_pages = Vec::new();
    let mut jobs_pages = Vec::new();
    for (k, p) in parsed.into_iter().enumerate() {
        if k == 0 {
            jobs = p.jobs;
            steps = p.steps;
            jobs.reserve(total_jobs - jobs.len());
            steps.reserve(total_steps - steps.len());
            notes.runs_without_attempt += p.runs_without_attempt;
            for r in p.runs {
                add_run(&mut runs, r, &mut notes);
            }
            runs_pages.extend(p.runs_pages);
            jobs_pages.extend(p.jobs_pages);
            continue;
        }
        let map: Vec<Sym> = p.names.all().iter().map(|n| names.get(n)).collect();
        let remap = |s: Sym| map[s.0 as usize];
        notes.runs_without_attempt += p.runs_without_attempt;
        for mut r in p.runs {
            r.workflow = remap(r.workflow);
            r.head_sha = remap(r.head_sha);
            r.branch = remap(r.branch);
            r.event = remap(r.event);
            add_run(&mut runs, r, &mut notes);
        }
        let offset = steps.len() as u32;
        steps.extend(p.steps.into_iter().map(|mut s| {
            s.name = remap(s.name);
            s
        }));
        jobs.extend(p.jobs.into_iter().map(|mut j| {
            j.name = remap(j.name);
            j.steps = j.steps.start + offset..j.steps.end + offset;
            j
        }));
        runs_pages.extend(p.runs_pages);
        jobs_pages.extend(p.jobs_pages);
    }
    let has_jobs = !jobs.is_empty();
    let jobs = dedup_jobs(jobs, &mut notes);
    let mut jobs_per_run: FxHashMap<u64, u64> = FxHashMap::default();
    for j in &jobs {
        *jobs_per_run.entry(j.run_id).or_default() += 1;
    }
    check_runs_pages(&runs_pages, &files)?;
    check_jobs_pages(&jobs_pages, &jobs_per_run, &files)?;

    let mut runs: Vec<Run> = runs.into_values().collect();
    runs.sort_by_key(|r| (r.created, r.id));
    let order: FxHashMap<u64, usize> = runs.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let mut kept: Vec<Job> = Vec::with_capacity(jobs.len());
    let mut at: Vec<usize> = Vec::with_capacity(jobs.len());
    for j in jobs {
        match order.get(&j.run_id) {
            None => notes.jobs_without_run += 1,
            Some(&r) if j.attempt.is_some_and(|a| a != runs[r].attempt) => {
                notes.earlier_attempts += 1
            }
            Some(&r) => {
                kept.push(j);
                at.push(r);
            }
        }
    }
    let mut idx: Vec<usize> = (0..kept.len()).collect();
    idx.sort_unstable_by_key(|&i| (at[i], kept[i].started, kept[i].id));
    let mut slots: Vec<Option<Job>> = kept.into_iter().map(Some).collect();
    let kept: Vec<Job> = idx.into_iter().filter_map(|i| slots[i].take()).collect();
    Ok(Exports {
        runs,
        jobs: kept,
        steps,
        names,
        files,
        has_jobs,
        notes,
    })
}

/// A run into the merge: a record of a run already there is a duplicate (same attempt) or
/// another attempt; the later one stays.
fn add_run(runs: &mut FxHashMap<u64, Run>, r: Run, notes: &mut Notes) {
    match runs.get_mut(&r.id) {
        None => {
            runs.insert(r.id, r);
        }
        Some(old) => {
            if old.attempt == r.attempt {
                notes.duplicates += 1;
            } else {
                notes.earlier_attempts += 1;
            }
            if later_run(&r, old) {
                *old = r;
            }
        }
    }
}

/// One record per job id: the latest state of it (records in file order; duplicates counted).
fn dedup_jobs(mut jobs: Vec<Job>, notes: &mut Notes) -> Vec<Job> {
    jobs.sort_by_key(|j| j.id);
    let mut out: Vec<Job> = Vec::with_capacity(jobs.len());
    for j in jobs {
        match out.last_mut() {
            Some(last) if last.id == j.id => {
                notes.duplicates += 1;
                if later_job(&j, last) {
                    *last = j;
                }
            }
            _ => out.push(j),
        }
    }
    out
}

/// The pages of one listing share its `total_count`: together they must hold that many runs.
fn check_runs_pages(pages: &[RunsPage], files: &[String]) -> Result<()> {
    let mut by_total: FxHashMap<u64, (FxHashSet<u64>, Vec<u32>)> = FxHashMap::default();
    for p in pages {
        let e = by_total.entry(p.total).or_default();
        e.0.extend(&p.ids);
        if !e.1.contains(&p.file) {
            e.1.push(p.file);
        }
    }
    let mut totals: Vec<_> = by_total.into_iter().collect();
    totals.sort_by_key(|(t, _)| *t);
    for (total, (ids, in_files)) in totals {
        if (ids.len() as u64) < total {
            let shown: Vec<&str> = in_files
                .iter()
                .map(|f| files[*f as usize].as_str())
                .collect();
            bail!(
                "partial export: the /actions/runs pages in {} say the listing holds {total} runs, but they hold {} (a page is missing): export every page (`gh api --paginate`), or run `cargo xtask ci fetch` again to finish",
                shown.join(", "),
                ids.len()
            );
        }
    }
    Ok(())
}

/// A run's jobs pages must together hold their `total_count` jobs.
fn check_jobs_pages(
    pages: &[JobsPage],
    jobs_per_run: &FxHashMap<u64, u64>,
    files: &[String],
) -> Result<()> {
    let mut pages: Vec<&JobsPage> = pages.iter().collect();
    pages.sort_by_key(|p| (p.run_id, p.file));
    for p in pages {
        let have = jobs_per_run.get(&p.run_id).copied().unwrap_or(0);
        if have < p.total {
            bail!(
                "partial export: {}: run {}: its jobs pages hold {have} of its {} jobs (a page is missing): export every page of /actions/runs/{}/jobs",
                files[p.file as usize],
                p.run_id,
                p.total,
                p.run_id
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_found_in_job_urls() {
        assert_eq!(
            run_id_in_url("https://github.com/o/r/actions/runs/123/job/456"),
            Some(123)
        );
        assert_eq!(
            run_id_in_url("https://api.github.com/repos/o/r/actions/jobs/456"),
            None
        );
    }
}
