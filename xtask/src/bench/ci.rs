//! `bench ci-stats`: `ci stats` on generated GitHub Actions exports — REST pages of
//! `/actions/runs` and `/actions/runs/ID/jobs` with the fields the API sends most often,
//! several pages back to back per file as `gh api --paginate` writes them. The binary runs
//! under GNU time (wall, peak RSS); the answer is checked against what was generated.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use xshell::cmd;

use super::Rng;
use super::backup::timed;
use crate::report::{Report, Table, human_bytes};
use crate::util::sh;

/// The window's end: runs are generated over the 7 days before it.
const NOW: i64 = 1_767_873_600; // 2026-01-08T12:00:00Z
const FILES: usize = 50;

fn ts(t: i64) -> String {
    crate::ci::model::rfc3339(t)
}

/// What the generator made, to check the answer against.
struct Generated {
    success: u64,
    counted: u64,
    bytes: u64,
}

/// Runs (and their jobs and steps) in `FILES` files each of runs and jobs.
fn generate(dir: &Path, runs: usize, jobs: usize, steps: usize) -> Result<Generated> {
    let _ = fs::remove_dir_all(dir.join("runs"));
    let _ = fs::remove_dir_all(dir.join("jobs"));
    fs::create_dir_all(dir.join("runs"))?;
    fs::create_dir_all(dir.join("jobs"))?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let workflows = ["ci", "deploy", "nightly", "docs", "security"];
    let mut g = Generated {
        success: 0,
        counted: 0,
        bytes: 0,
    };
    let per_file = runs.div_ceil(FILES);
    for f in 0..FILES {
        let (mut rtext, mut jtext) = (String::new(), String::new());
        let ids: Vec<usize> = (f * per_file..((f + 1) * per_file).min(runs)).collect();
        for page in ids.chunks(100) {
            let _ = write!(rtext, "{{\"total_count\":{runs},\"workflow_runs\":[");
            for (k, &i) in page.iter().enumerate() {
                let id = 10_000_000 + i as u64;
                let created = NOW - 7 * 86_400 + (i as i64 * 7 * 86_400) / runs as i64;
                let queue = 2 + (rng.next() % 40) as i64;
                let fail = rng.next().is_multiple_of(10);
                let (conclusion, run_status) = if fail {
                    ("failure", "completed")
                } else {
                    ("success", "completed")
                };
                g.counted += 1;
                g.success += u64::from(!fail);
                let attempt = 1 + u32::from(rng.next().is_multiple_of(20));
                let mut t = created + queue;
                let job_text = gen_jobs(&mut rng, id, attempt, jobs, steps, &mut t, fail);
                let wf = workflows[i % workflows.len()];
                if k > 0 {
                    rtext.push(',');
                }
                let _ = write!(
                    rtext,
                    "{{\"id\":{id},\"name\":\"{wf}\",\"node_id\":\"WFR_kwLOA{id}\",\"head_branch\":\"main\",\"head_sha\":\"{:040x}\",\"path\":\".github/workflows/{wf}.yml\",\"display_title\":\"Commit message number {i}\",\"run_number\":{i},\"event\":\"push\",\"status\":\"{run_status}\",\"conclusion\":\"{conclusion}\",\"workflow_id\":{},\"check_suite_id\":{},\"url\":\"https://api.github.com/repos/o/r/actions/runs/{id}\",\"html_url\":\"https://github.com/o/r/actions/runs/{id}\",\"pull_requests\":[],\"created_at\":\"{}\",\"updated_at\":\"{}\",\"run_attempt\":{attempt},\"run_started_at\":\"{}\",\"jobs_url\":\"https://api.github.com/repos/o/r/actions/runs/{id}/jobs\"}}",
                    rng.next(),
                    100 + i % workflows.len(),
                    20_000_000 + i,
                    ts(created),
                    ts(t),
                    ts(created + queue),
                );
                jtext.push_str(&job_text);
            }
            rtext.push_str("]}\n");
        }
        for (name, text) in [("runs", &rtext), ("jobs", &jtext)] {
            let path = dir.join(name).join(format!("{name}-{f:02}.json"));
            fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            g.bytes += text.len() as u64;
        }
    }
    Ok(g)
}

/// One run's jobs page; `t` moves on to the run's end.
fn gen_jobs(
    rng: &mut Rng,
    id: u64,
    attempt: u32,
    jobs: usize,
    steps: usize,
    t: &mut i64,
    fail: bool,
) -> String {
    let names = ["lint", "test", "build", "scan", "deploy", "docs"];
    let steps_of = [
        "Set up job",
        "Checkout",
        "Set up Python",
        "Install dependencies",
        "Run",
        "Upload artifacts",
        "Post Checkout",
        "Complete job",
    ];
    let mut s = format!("{{\"total_count\":{jobs},\"jobs\":[");
    for j in 0..jobs {
        let job_id = id * 10 + j as u64;
        let created = *t;
        let started = created + 1 + (rng.next() % 30) as i64;
        let failed_job = fail && j + 1 == jobs;
        if j > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            "{{\"id\":{job_id},\"run_id\":{id},\"workflow_name\":\"ci\",\"head_branch\":\"main\",\"run_url\":\"https://api.github.com/repos/o/r/actions/runs/{id}\",\"run_attempt\":{attempt},\"node_id\":\"CR_kwDO{job_id}\",\"url\":\"https://api.github.com/repos/o/r/actions/jobs/{job_id}\",\"html_url\":\"https://github.com/o/r/actions/runs/{id}/job/{job_id}\",\"status\":\"completed\",\"conclusion\":\"{}\",\"created_at\":\"{}\",\"started_at\":\"{}\",\"name\":\"{}\",\"steps\":[",
            if failed_job { "failure" } else { "success" },
            ts(created),
            ts(started),
            names[j % names.len()]
        );
        let mut st = started;
        for k in 0..steps {
            let d = 1 + (rng.next() % 90) as i64 * (1 + k as i64 % 3);
            let failed_step = failed_job && k + 1 == steps;
            if k > 0 {
                s.push(',');
            }
            let _ = write!(
                s,
                "{{\"name\":\"{}\",\"status\":\"completed\",\"conclusion\":\"{}\",\"number\":{},\"started_at\":\"{}\",\"completed_at\":\"{}\"}}",
                steps_of[k % steps_of.len()],
                if failed_step { "failure" } else { "success" },
                k + 1,
                ts(st),
                ts(st + d)
            );
            st += d;
        }
        let _ = write!(
            s,
            "],\"completed_at\":\"{}\",\"labels\":[\"ubuntu-latest\"],\"runner_name\":\"GitHub Actions {}\"}}",
            ts(st),
            job_id % 50
        );
        *t = st;
    }
    s.push_str("]}\n");
    s
}

pub(super) fn ci_stats(
    dir: &Path,
    runs: usize,
    jobs: usize,
    steps: usize,
    repeat: usize,
) -> Result<Report> {
    if !Path::new("/usr/bin/time").exists() {
        bail!("/usr/bin/time is missing: install it (apt-get install time) to run this benchmark");
    }
    fs::create_dir_all(dir)?;
    let g = generate(dir, runs, jobs, steps)?;
    // GNU time counts a run only when it exits 0: thresholds no generated week breaks (the
    // rules are still evaluated).
    fs::write(
        dir.join("maintenance.toml"),
        "[alerts.build_failure_rate]\nthreshold_percent = 100\n[alerts.build_time_trend]\nthreshold_percent = 1000\n",
    )?;
    let exe = std::env::current_exe()?.display().to_string();
    let d = dir.display().to_string();
    let (r, j) = (
        dir.join("runs").display().to_string(),
        dir.join("jobs").display().to_string(),
    );
    let now = ts(NOW);
    let args: Vec<&str> = vec![
        &exe, "--root", &d, "--format", "json", "ci", "stats", "--runs", &r, "--jobs", &j,
        "--since", "7d", "--now", &now,
    ];
    // The answer first: every run counted, the generated success rate.
    let sh = sh::shell(dir)?;
    let rest = &args[1..];
    let out = cmd!(sh, "{exe} {rest...}").quiet().ignore_status().read()?;
    let v: serde_json::Value = serde_json::from_str(&out).context("ci stats printed no JSON")?;
    let got_runs = v["totals"]["runs"].as_u64().unwrap_or(0);
    let got_rate = v["totals"]["success_rate"].as_f64().unwrap_or(-1.0);
    let want_rate = g.success as f64 / g.counted as f64;
    if got_runs != runs as u64 || (got_rate - want_rate).abs() > 1e-12 {
        bail!("ci stats answered {got_runs} runs at {got_rate}, generated {runs} at {want_rate}");
    }
    let mut walls = Vec::new();
    let mut peak = 0;
    for _ in 0..repeat {
        let (secs, kib) = timed(&sh, &args, 600)?.context("ci stats did not finish in 600 s")?;
        walls.push(secs);
        peak = peak.max(kib);
    }
    walls.sort_by(f64::total_cmp);
    let median = walls[walls.len() / 2];
    let mut report = Report::new("bench ci-stats");
    report.summary(
        "input",
        format!(
            "{runs} runs × {jobs} jobs × {steps} steps ({} jobs, {} steps), {} of JSON in {} files",
            runs * jobs,
            runs * jobs * steps,
            human_bytes(g.bytes),
            2 * FILES
        ),
    );
    let mut t = Table::new(
        "ci stats",
        &["runs", "median wall", "fastest", "slowest", "peak RSS"],
    );
    t.row(vec![
        repeat.to_string(),
        format!("{median:.3} s"),
        format!("{:.3} s", walls[0]),
        format!("{:.3} s", walls[walls.len() - 1]),
        human_bytes(peak * 1024),
    ]);
    report.tables.push(t);
    report.set("runs", runs);
    report.set("input_bytes", g.bytes);
    report.set("median_secs", median);
    report.set("peak_rss_kib", peak);
    Ok(report)
}
