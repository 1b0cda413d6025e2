//! `coverage check [FILE]... [--min PCT] [--diff BASE]`: the runbook's "Test coverage
//! analysis" against its "Maintain 80%+ test coverage".
//!
//! Reads Cobertura XML, lcov and coverage.py JSON (found under the root when no FILE is
//! given), computes each report's total exactly as coverage.py does ([`model`]), compares it
//! with the threshold like coverage.py's `fail_under`, lists the least-covered files with
//! their missing lines and, with `--diff`, the coverage of the lines changed since BASE.
//! Each report is checked on its own: several files are several measurements.

pub(crate) mod cobertura;
mod diff;
pub(crate) mod json;
pub(crate) mod lcov;
pub mod model;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::Serialize;

use crate::cli::CoverageCmd;
use crate::context::Context;
use crate::report::{Finding, Report, Severity, Table, codes};
use crate::util::walk;
use model::{FileCov, Numbers, Threshold, Totals};

struct Options {
    files: Vec<PathBuf>,
    min: Option<f64>,
    diff: Option<String>,
}

/// The names `coverage check` looks for under the root when no FILE is given.
const DEFAULT_NAMES: &[&str] = &["coverage.xml", "lcov.info", "coverage.json"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Cobertura,
    Lcov,
    Json,
}

/// A coverage report read from disk.
struct Loaded {
    path: PathBuf,
    format: Format,
    files: Vec<FileCov>,
    /// Folders relative file names may be under (Cobertura `<source>`, the report's folder).
    bases: Vec<PathBuf>,
}

/// One file's line in the least-covered list.
#[derive(Debug, Serialize)]
struct FileRow {
    file: String,
    num_statements: u64,
    missing_lines: u64,
    num_branches: u64,
    num_partial_branches: u64,
    percent_covered: f64,
    percent_covered_display: String,
    missing: String,
}

/// Coverage of the lines changed since a revision.
#[derive(Debug, Serialize)]
struct DiffResult {
    base: String,
    changed_statements: u64,
    covered: u64,
    percent_covered: f64,
    percent_covered_display: String,
    passed: bool,
    files: Vec<DiffFile>,
}

#[derive(Debug, Serialize)]
struct DiffFile {
    file: String,
    changed: u64,
    missed: u64,
    missing: String,
}

/// The result for one report.
#[derive(Debug, Serialize)]
struct Checked {
    file: String,
    format: Format,
    files: u64,
    totals: Totals,
    passed: bool,
    least_covered: Vec<FileRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<DiffResult>,
}

pub fn run(cx: &Context, cmd: CoverageCmd) -> Result<Report> {
    let CoverageCmd::Check { files, min, diff } = cmd;
    check_reports(cx, Options { files, min, diff })
}

fn check_reports(cx: &Context, opts: Options) -> Result<Report> {
    let threshold = Threshold {
        min: opts.min.unwrap_or(cx.config.coverage.min),
        precision: cx.config.coverage.precision,
    };
    if !(0.0..=100.0).contains(&threshold.min) {
        bail!("--min {}: use a percentage from 0 to 100", threshold.min);
    }
    let paths = inputs(cx, &opts.files)?;
    let loaded = paths
        .iter()
        .map(|p| load(cx, p))
        .collect::<Result<Vec<_>>>()?;
    let changes = match &opts.diff {
        Some(base) => Some(diff::changed_lines(&cx.root, base)?),
        None => None,
    };
    let checked: Vec<Checked> = loaded
        .iter()
        .map(|l| check(cx, l, threshold, changes.as_ref(), opts.diff.as_deref()))
        .collect();
    Ok(to_report(&checked, threshold))
}

/// The given files, or the default names found under the root.
fn inputs(cx: &Context, files: &[PathBuf]) -> Result<Vec<PathBuf>> {
    if !files.is_empty() {
        return Ok(files.iter().map(|f| cx.cli_path(f)).collect());
    }
    let found = found(cx)?;
    if found.is_empty() {
        bail!(
            "no coverage report under {} (coverage.xml, lcov.info or coverage.json): run `coverage xml` after the tests, or pass FILE",
            cx.root.display()
        );
    }
    Ok(found)
}

/// The coverage reports under the root with a default name.
fn found(cx: &Context) -> Result<Vec<PathBuf>> {
    let skip = [cx.store().dir];
    let mut found = walk::files_under(&cx.root, crate::deps::SKIP_DIRS, &skip)?;
    found.retain(|f| {
        f.file_name()
            .is_some_and(|n| DEFAULT_NAMES.contains(&n.to_string_lossy().as_ref()))
    });
    Ok(found)
}

/// Why `coverage check` without FILE has nothing to read (for `checklist`), or None.
pub fn nothing_to_check(cx: &Context) -> Result<Option<String>> {
    Ok(found(cx)?.is_empty().then(|| {
        format!(
            "no coverage report ({}) under the root",
            DEFAULT_NAMES.join(", ")
        )
    }))
}

fn load(cx: &Context, path: &Path) -> Result<Loaded> {
    let name = cx.rel(path);
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {name}"))?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let text = text.trim_start_matches('\u{feff}');
    let head = text.trim_start();
    let (format, files, mut bases) = if head.starts_with('<') {
        let p = cobertura::parse(text)
            .with_context(|| format!("{name}: not a valid Cobertura XML coverage report"))?;
        let sources = p.sources.iter().map(PathBuf::from).collect();
        (Format::Cobertura, p.files, sources)
    } else if json::looks_like(head) {
        let files = json::parse(text)
            .with_context(|| format!("{name}: not a valid coverage.py JSON report"))?;
        (Format::Json, files, Vec::new())
    } else if lcov::looks_like(head) {
        let files =
            lcov::parse(text).with_context(|| format!("{name}: not a valid lcov tracefile"))?;
        (Format::Lcov, files, Vec::new())
    } else {
        bail!(
            "{name} is not a coverage report: expected Cobertura XML (`coverage xml`), lcov (`coverage lcov`) or coverage.py JSON (`coverage json`)"
        );
    };
    if files.is_empty() {
        bail!("{name}: the report measures no files: was coverage run with the right --source?");
    }
    bases.push(dir);
    bases.push(cx.root.clone());
    Ok(Loaded {
        path: path.to_path_buf(),
        format,
        files,
        bases,
    })
}

fn check(
    cx: &Context,
    l: &Loaded,
    threshold: Threshold,
    changes: Option<&diff::Changes>,
    base: Option<&str>,
) -> Checked {
    let precision = threshold.precision;
    let total = l
        .files
        .iter()
        .map(FileCov::numbers)
        .fold(Numbers::default(), |a, b| a + b);
    let mut rows: Vec<(&FileCov, Numbers)> = l
        .files
        .iter()
        .map(|f| (f, f.numbers()))
        .filter(|(_, n)| n.percent() < 100.0)
        .collect();
    rows.sort_by(|a, b| {
        a.1.percent()
            .total_cmp(&b.1.percent())
            .then(b.1.missing.cmp(&a.1.missing))
            .then(a.0.path.cmp(&b.0.path))
    });
    let least_covered = rows
        .into_iter()
        .take(cx.config.coverage.least_covered)
        .map(|(f, n)| FileRow {
            file: f.path.clone(),
            num_statements: n.statements,
            missing_lines: n.missing,
            num_branches: n.branches,
            num_partial_branches: n.partial_branches,
            percent_covered: n.percent(),
            percent_covered_display: model::display_covered(n.percent(), precision),
            missing: f.missing_text(),
        })
        .collect();
    Checked {
        file: cx.rel(&l.path),
        format: l.format,
        files: total.files,
        totals: Totals::new(&total, precision),
        passed: !threshold.fails(total.percent()),
        least_covered,
        diff: changes.map(|c| diff_coverage(l, c, threshold, base.unwrap_or_default())),
    }
}

/// A report's file as a path relative to the repository's top level, when it is there.
fn repo_path(file: &str, bases: &[PathBuf], top: &Path) -> Option<String> {
    let p = Path::new(file);
    let found = if p.is_absolute() {
        p.is_file().then(|| p.to_path_buf())
    } else {
        bases.iter().map(|b| b.join(p)).find(|c| c.is_file())
    }?;
    let found = found.canonicalize().ok()?;
    Some(found.strip_prefix(top).ok()?.to_string_lossy().into_owned())
}

fn diff_coverage(
    l: &Loaded,
    changes: &diff::Changes,
    threshold: Threshold,
    base: &str,
) -> DiffResult {
    let (mut changed, mut covered) = (0u64, 0u64);
    let mut files = Vec::new();
    for f in &l.files {
        let Some(rel) = repo_path(&f.path, &l.bases, &changes.top) else {
            continue;
        };
        let Some(lines) = changes.lines.get(&rel) else {
            continue;
        };
        let stmts: std::collections::BTreeSet<u32> =
            f.statements.intersection(lines).copied().collect();
        if stmts.is_empty() {
            continue;
        }
        let missed: std::collections::BTreeSet<u32> =
            stmts.intersection(&f.missing).copied().collect();
        changed += stmts.len() as u64;
        covered += (stmts.len() - missed.len()) as u64;
        files.push(DiffFile {
            file: rel,
            changed: stmts.len() as u64,
            missed: missed.len() as u64,
            missing: model::format_lines(&stmts, &missed, &[]),
        });
    }
    let pct = model::percent(covered, changed);
    DiffResult {
        base: base.to_string(),
        changed_statements: changed,
        covered,
        percent_covered: pct,
        percent_covered_display: model::display_covered(pct, threshold.precision),
        passed: changed == 0 || !threshold.fails(pct),
        files,
    }
}

fn to_report(checked: &[Checked], threshold: Threshold) -> Report {
    let mut report = Report::new("coverage check");
    report.fail_on = Severity::High;
    report.summary(
        "min",
        format!(
            "{}% (precision {})",
            threshold.shown_min(),
            threshold.effective_precision()
        ),
    );
    for c in checked {
        let t = &c.totals;
        let mut line = format!(
            "{}% ({} of {} statements",
            t.percent_covered_display, t.covered_lines, t.num_statements
        );
        if t.num_branches > 0 {
            line += &format!(", {} of {} branches", t.covered_branches, t.num_branches);
        }
        line += if c.passed { "): ok" } else { "): below min" };
        report.summary(&c.file, line);
        if !c.passed {
            report.push(
                Finding::new(
                    codes::COVERAGE_BELOW_THRESHOLD,
                    Severity::High,
                    format!(
                        "total coverage of {}% is less than min {}%",
                        threshold.shown(t.percent_covered),
                        threshold.shown_min()
                    ),
                )
                .at(c.file.clone()),
            );
        }
        let mut table = Table::new(
            format!("Least covered files ({})", c.file),
            &[
                "file", "stmts", "miss", "branch", "brpart", "cover", "missing",
            ],
        );
        for r in &c.least_covered {
            table.row(vec![
                r.file.clone(),
                r.num_statements.to_string(),
                r.missing_lines.to_string(),
                r.num_branches.to_string(),
                r.num_partial_branches.to_string(),
                format!("{}%", r.percent_covered_display),
                r.missing.clone(),
            ]);
        }
        report.tables.push(table);
        if let Some(d) = &c.diff {
            diff_report(&mut report, c, d, threshold);
        }
    }
    report.set("min", threshold.min);
    report.set("precision", threshold.effective_precision());
    report.set("reports", checked);
    report
}

fn diff_report(report: &mut Report, c: &Checked, d: &DiffResult, threshold: Threshold) {
    let what = format!("{} lines changed since {}", c.file, d.base);
    if d.changed_statements == 0 {
        report.summary(&what, "no changed statement is measured");
        return;
    }
    report.summary(
        &what,
        format!(
            "{}% ({} of {} changed statements)",
            d.percent_covered_display, d.covered, d.changed_statements
        ),
    );
    if !d.passed {
        report.push(
            Finding::new(
                codes::DIFF_COVERAGE_BELOW_THRESHOLD,
                Severity::High,
                format!(
                    "coverage of the lines changed since {} is {}%, less than min {}% ({} of {} changed statements not run)",
                    d.base,
                    threshold.shown(d.percent_covered),
                    threshold.shown_min(),
                    d.changed_statements - d.covered,
                    d.changed_statements
                ),
            )
            .at(c.file.clone()),
        );
    }
    let mut table = Table::new(
        format!("Changed lines since {} ({})", d.base, c.file),
        &["file", "changed", "missed", "missing"],
    );
    for f in d.files.iter().filter(|f| f.missed > 0) {
        table.row(vec![
            f.file.clone(),
            f.changed.to_string(),
            f.missed.to_string(),
            f.missing.clone(),
        ]);
    }
    report.tables.push(table);
}
