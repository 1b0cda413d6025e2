//! `workflows lint`: GitHub Actions workflows (and `action.yml` of local actions) checked
//! offline against the rules in [`rules`], each finding at the line and column of the key
//! to fix. Findings accepted in `[workflows] ignore` (code, path, reason, until) are left
//! out; an ignore past its `until` is itself a finding (`exception-expired`).
//!
//! Phases: discover files → parse each into a positioned tree ([`yaml`]) → run every rule
//! → apply ignores → report.

pub mod rules;
pub mod yaml;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use chrono::NaiveDate;
use serde_json::json;

use crate::config::{LintIgnore, WorkflowsConfig};
use crate::context::Context;
use crate::report::{Finding, Report, Severity, Table, codes};
use crate::util::glob;
use rules::{FileKind, Hit, Wf};
use yaml::Lines;

pub struct Options {
    pub paths: Vec<PathBuf>,
    pub fail_on: Option<Severity>,
}

/// A file to lint: its path on disk, its path as reported, and what it is.
struct Input {
    path: PathBuf,
    rel: String,
    kind: FileKind,
}

/// The outcome of one file: its hits, or why it could not be read.
struct Linted {
    rel: String,
    kind: FileKind,
    jobs: usize,
    /// The hits, or why the file could not be read and the line where known.
    result: Result<Vec<Hit>, (String, Option<usize>)>,
}

pub fn dispatch(cx: &Context, command: crate::cli::WorkflowsCmd) -> Result<Report> {
    match command {
        crate::cli::WorkflowsCmd::Lint { paths, fail_on } => run(cx, Options { paths, fail_on }),
    }
}

pub fn run(cx: &Context, opts: Options) -> Result<Report> {
    let cfg = &cx.config.workflows;
    let today = chrono::Utc::now().date_naive();
    let inputs = discover(cx, &opts.paths)?;
    let eol = crate::outdated::EolTable::shipped();
    let linted: Vec<Linted> = inputs
        .iter()
        .map(|i| lint_file(i, cfg, today, &eol))
        .collect();
    let mut report = Report::new("workflows lint");
    report.fail_on = opts.fail_on.unwrap_or(cfg.fail_on);
    let ignored = present(cx, &linted, today, &mut report);
    report.summary("files", linted.len().to_string());
    report.summary("fail on", report.fail_on.as_str());
    if ignored > 0 {
        report.summary(
            "ignored",
            format!("{ignored} finding(s) accepted in [workflows] ignore"),
        );
    }
    report.set("ignored", ignored);
    Ok(report)
}

/// Why `workflows lint` without PATH has nothing to lint (for `checklist`), or None.
pub fn nothing_to_check(cx: &Context) -> Result<Option<String>> {
    Ok(discover(cx, &[])?.is_empty().then(|| {
        format!(
            "no workflow or action file under workflows.paths (`{}`)",
            cx.config.workflows.paths.join("`, `")
        )
    }))
}

/// The files named on the command line, else the configured paths (missing ones skipped).
/// A folder gives its `*.yml`/`*.yaml` files; `action.yml` anywhere is a local action.
fn discover(cx: &Context, cli: &[PathBuf]) -> Result<Vec<Input>> {
    let mut roots = Vec::new();
    if cli.is_empty() {
        for p in &cx.config.workflows.paths {
            let path = cx.root.join(p);
            if path.exists() {
                roots.push(path);
            }
        }
    } else {
        for p in cli {
            let path = cx.cli_path(p);
            if !path.exists() {
                bail!(
                    "{}: no such file or folder: give a workflow file or folder",
                    p.display()
                );
            }
            roots.push(path);
        }
    }
    let mut out: Vec<Input> = Vec::new();
    for root in roots {
        let walk = walkdir::WalkDir::new(&root).sort_by_file_name();
        for entry in walk {
            let entry = entry.with_context(|| format!("reading {}", root.display()))?;
            // A link is followed only when named explicitly (walkdir reports it as a link).
            if !entry.file_type().is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy();
            if !(name.ends_with(".yml") || name.ends_with(".yaml")) {
                continue;
            }
            // GitHub reads workflows from the top of the folder only; actions anywhere.
            let kind = if name == "action.yml" || name == "action.yaml" {
                FileKind::Action
            } else if entry.depth() <= 1 {
                FileKind::Workflow
            } else {
                continue;
            };
            let path = entry.path().to_path_buf();
            if out.iter().all(|i| i.path != path) {
                out.push(Input {
                    rel: cx.rel(&path),
                    path,
                    kind,
                });
            }
        }
    }
    Ok(out)
}

fn lint_file(
    input: &Input,
    cfg: &WorkflowsConfig,
    today: NaiveDate,
    eol: &crate::outdated::EolTable,
) -> Linted {
    let mut linted = Linted {
        rel: input.rel.clone(),
        kind: input.kind,
        jobs: 0,
        result: Ok(Vec::new()),
    };
    let text = match std::fs::read_to_string(&input.path) {
        Ok(t) => t,
        Err(e) => {
            linted.result = Err((format!("cannot read it: {e}"), None));
            return linted;
        }
    };
    let lines = Lines::new(&text);
    let root = match yaml::parse(&text, &lines) {
        Ok(r) => r,
        Err(e) => {
            linted.result = Err((
                format!("not valid YAML at {e}: fix the file, then lint again"),
                Some(e.line),
            ));
            return linted;
        }
    };
    let wf = Wf::new(&text, &lines, &root, input.kind, cfg, today, eol);
    linted.jobs = wf.jobs().len();
    linted.result = Ok(rules::check(&wf));
    linted
}

/// Turn every file's hits into findings (ignores applied) and the table; returns how many
/// findings ignores accepted.
fn present(cx: &Context, linted: &[Linted], today: NaiveDate, report: &mut Report) -> usize {
    let ignores = &cx.config.workflows.ignore;
    let mut ignored = 0;
    let mut table = Table::new("Workflows", &["file", "kind", "jobs", "findings"]);
    let mut files = Vec::new();
    for l in linted {
        let hits = match &l.result {
            Ok(h) => h,
            Err((why, line)) => {
                report.incomplete = true;
                let f = Finding::new(
                    codes::INPUT_ERROR,
                    Severity::High,
                    format!("{}: {why}", l.rel),
                );
                report.push(match line {
                    Some(n) => f.at_line(&l.rel, *n),
                    None => f.at(&l.rel),
                });
                table.row(vec![
                    l.rel.clone(),
                    l.kind.as_str().into(),
                    "-".into(),
                    "unreadable".into(),
                ]);
                files.push(json!({"path": l.rel, "kind": l.kind.as_str(), "error": why}));
                continue;
            }
        };
        let mut shown = 0;
        for h in hits {
            if ignores
                .iter()
                .any(|ig| active(ig, today) && covers(ig, h.code.id(), &l.rel))
            {
                ignored += 1;
                continue;
            }
            shown += 1;
            report.push(h.finding(&l.rel));
        }
        table.row(vec![
            l.rel.clone(),
            l.kind.as_str().into(),
            l.jobs.to_string(),
            shown.to_string(),
        ]);
        files.push(
            json!({"path": l.rel, "kind": l.kind.as_str(), "jobs": l.jobs, "findings": shown}),
        );
    }
    expired_ignores(cx, ignores, today, report);
    report.tables.push(table);
    report.set("files", files);
    ignored
}

fn active(ig: &LintIgnore, today: NaiveDate) -> bool {
    ig.until.is_none_or(|u| u >= today)
}

fn covers(ig: &LintIgnore, code: &str, rel: &str) -> bool {
    ig.code == code && ig.path.as_deref().is_none_or(|p| glob::matches(p, rel))
}

/// An ignore past its `until` date no longer hides anything and is reported at its line in
/// maintenance.toml.
fn expired_ignores(cx: &Context, ignores: &[LintIgnore], today: NaiveDate, report: &mut Report) {
    let lines = ignore_lines(&cx.config_path, "workflows");
    for (n, ig) in ignores.iter().enumerate() {
        let Some(until) = ig.until.filter(|u| *u < today) else {
            continue;
        };
        let msg = format!(
            "the ignore of `{}`{} expired on {until} (reason was: {}); fix: fix the findings, or renew `until` with a reason",
            ig.code,
            ig.path
                .as_deref()
                .map(|p| format!(" in {p}"))
                .unwrap_or_default(),
            ig.reason
        );
        let mut f = Finding::new(codes::EXCEPTION_EXPIRED, Severity::Medium, msg);
        let rel = cx.rel(&cx.config_path);
        f = match lines.get(n).copied().flatten() {
            Some(line) => f.at_line(rel, line),
            None => f.at(rel),
        };
        f.extra.insert("until".into(), json!(until.to_string()));
        report.push(f);
    }
}

/// The line in `config` of each entry of `[SECTION] ignore` (none when it cannot be told),
/// from the TOML parser's spans.
pub fn ignore_lines(config: &Path, section: &str) -> Vec<Option<usize>> {
    #[derive(serde::Deserialize)]
    struct Section {
        #[serde(default)]
        ignore: Vec<toml::Spanned<toml::Value>>,
    }
    let Ok(text) = std::fs::read_to_string(config) else {
        return Vec::new();
    };
    let Ok(mut doc) = toml::from_str::<std::collections::BTreeMap<String, Section>>(&text) else {
        return Vec::new();
    };
    doc.remove(section)
        .map(|s| s.ignore)
        .unwrap_or_default()
        .iter()
        .map(|s| Some(text[..s.span().start].matches('\n').count() + 1))
        .collect()
}
