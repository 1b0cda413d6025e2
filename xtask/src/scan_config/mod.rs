//! `scan-config check`: every exception a scanner is told about carries its reason, and
//! none has outlived its expiry.
//!
//! - `.trivyignore`: each entry needs a comment, on its line (the runbook's
//!   `CVE-… # reason`) or on the line just above; Trivy's `exp:YYYY-MM-DD` is honoured.
//! - `bandit.yaml` (YAML) / `.bandit` (INI): each `skips` entry needs a comment (YAML: on its
//!   line or the line above; INI, which has no inline comments: the line above `skips`);
//!   `exclude_dirs` may only name tests, virtual environments and build output.
//! - `[audit] ignore` of maintenance.toml: an entry past its `until` is reported.

use anyhow::Result;
use chrono::NaiveDate;
use serde_json::json;

use crate::context::Context;
use crate::report::{Finding, Report, Severity, Table, codes};
use crate::workflows::yaml::{self, Lines, Node};

/// One problem found in one file, before it becomes a finding.
struct Issue {
    code: crate::report::Code,
    line: usize,
    message: String,
}

/// What one file held.
struct Checked {
    rel: String,
    kind: &'static str,
    entries: usize,
    issues: Vec<Issue>,
}

impl Checked {
    fn new(rel: &str, kind: &'static str) -> Checked {
        Checked {
            rel: rel.into(),
            kind,
            entries: 0,
            issues: Vec::new(),
        }
    }
}

pub fn dispatch(cx: &Context, command: crate::cli::ScanConfigCmd) -> Result<Report> {
    let crate::cli::ScanConfigCmd::Check { fail_on } = command;
    run(cx, fail_on)
}

pub fn run(cx: &Context, fail_on: Option<Severity>) -> Result<Report> {
    let cfg = &cx.config.scan_config;
    let today = chrono::Utc::now().date_naive();
    let mut report = Report::new("scan-config check");
    report.fail_on = fail_on.unwrap_or(cfg.fail_on);
    let mut checked = Vec::new();
    for rel in &cfg.trivyignore {
        if let Some(text) = read(cx, rel, &mut report) {
            checked.push(trivyignore(rel, &text, today));
        }
    }
    for rel in &cfg.bandit {
        if let Some(text) = read(cx, rel, &mut report) {
            let yaml =
                !rel.ends_with(".bandit") && !rel.ends_with(".cfg") && !rel.ends_with(".ini");
            let c = if yaml {
                bandit_yaml(rel, &text, &cfg.exclude_ok)
            } else {
                bandit_ini(rel, &text, &cfg.exclude_ok)
            };
            match c {
                Ok(c) => checked.push(c),
                Err(why) => {
                    report.incomplete = true;
                    report.push(
                        Finding::new(codes::INPUT_ERROR, Severity::High, format!("{rel}: {why}"))
                            .at(rel.as_str()),
                    );
                }
            }
        }
    }
    checked.push(audit_ignores(cx, today));
    present(&checked, &mut report);
    Ok(report)
}

/// Why `scan-config check` has nothing to check (for `checklist`), or None: no scanner
/// configuration file exists and `[audit] ignore` is empty.
pub fn nothing_to_check(cx: &Context) -> Option<String> {
    let cfg = &cx.config.scan_config;
    let mut files = cfg.trivyignore.iter().chain(&cfg.bandit);
    let none = !files.any(|rel| cx.root.join(rel).symlink_metadata().is_ok());
    (none && cx.config.audit.ignore.is_empty()).then(|| {
        let names: Vec<&str> = cfg
            .trivyignore
            .iter()
            .chain(&cfg.bandit)
            .map(String::as_str)
            .collect();
        format!(
            "no scanner configuration ({}) and no [audit] ignore",
            names.join(", ")
        )
    })
}

/// The file's text, or None when it does not exist (an unreadable one is an input error).
fn read(cx: &Context, rel: &str, report: &mut Report) -> Option<String> {
    match std::fs::read_to_string(cx.root.join(rel)) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            report.incomplete = true;
            report.push(
                Finding::new(
                    codes::INPUT_ERROR,
                    Severity::High,
                    format!("{rel}: cannot read it: {e}"),
                )
                .at(rel),
            );
            None
        }
    }
}

fn present(checked: &[Checked], report: &mut Report) {
    let mut t = Table::new(
        "Scanner exceptions",
        &["file", "kind", "entries", "findings"],
    );
    let mut files = Vec::new();
    for c in checked {
        t.row(vec![
            c.rel.clone(),
            c.kind.into(),
            c.entries.to_string(),
            c.issues.len().to_string(),
        ]);
        files.push(json!({"path": c.rel, "kind": c.kind, "entries": c.entries, "findings": c.issues.len()}));
        for i in &c.issues {
            let sev = i.code.default_severity();
            let f = Finding::new(i.code, sev, format!("{}:{}: {}", c.rel, i.line, i.message));
            report.push(if i.line > 0 {
                f.at_line(&c.rel, i.line)
            } else {
                f.at(&c.rel)
            });
        }
    }
    report.summary("files", checked.len().to_string());
    report.summary("fail on", report.fail_on.as_str());
    report.tables.push(t);
    report.set("files", files);
}

/// `.trivyignore`: `ID [exp:YYYY-MM-DD] [# reason]`, comments and blank lines.
fn trivyignore(rel: &str, text: &str, today: NaiveDate) -> Checked {
    let mut c = Checked::new(rel, "trivyignore");
    let lines: Vec<&str> = text.lines().collect();
    for (i, raw) in lines.iter().enumerate() {
        let (entry, comment) = match raw.split_once('#') {
            Some((e, r)) => (e.trim(), r.trim()),
            None => (raw.trim(), ""),
        };
        if entry.is_empty() {
            continue;
        }
        c.entries += 1;
        let mut words = entry.split_whitespace();
        let id = words.next().unwrap_or_default();
        if comment.is_empty() && !comment_above(&lines, i + 1) {
            c.issues.push(Issue {
                code: codes::EXCEPTION_UNJUSTIFIED,
                line: i + 1,
                message: format!("`{id}` is ignored without a reason: add `# why it does not apply` (the runbook's `CVE-… # reason`)"),
            });
        }
        for w in words {
            let Some(day) = w.strip_prefix("exp:") else {
                continue;
            };
            match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
                Ok(d) if d < today => c.issues.push(Issue {
                    code: codes::EXCEPTION_EXPIRED,
                    line: i + 1,
                    message: format!("`{id}` expired on {d}: Trivy reports it again; fix it, or renew `exp:` with a reason"),
                }),
                Ok(_) => {}
                Err(_) => c.issues.push(Issue {
                    code: codes::EXCEPTION_UNJUSTIFIED,
                    line: i + 1,
                    message: format!("`{id}` has `exp:{day}`, not a YYYY-MM-DD day: Trivy ignores it for ever"),
                }),
            }
        }
    }
    c
}

/// `bandit.yaml`: `skips` entries with a comment; `exclude_dirs` only of allowed folders.
fn bandit_yaml(rel: &str, text: &str, exclude_ok: &[String]) -> Result<Checked, String> {
    let lines = Lines::new(text);
    let root = yaml::parse(text, &lines).map_err(|e| format!("not valid YAML at {e}"))?;
    let mut c = Checked::new(rel, "bandit");
    let src: Vec<&str> = text.lines().collect();
    if let Some((key, skips)) = root.entry("skips") {
        for item in skips.one_or_many() {
            let Some(id) = item.str() else { continue };
            c.entries += 1;
            let justified = [item.pos, key.pos]
                .iter()
                .any(|p| comment_after(&src, p.line, p.col) || comment_above(&src, p.line));
            if !justified {
                c.issues.push(Issue {
                    code: codes::EXCEPTION_UNJUSTIFIED,
                    line: item.pos.line,
                    message: format!("bandit skips `{id}` without a reason: add `# why` on its line (the runbook's `skips: ['B101']  # reason`)"),
                });
            }
        }
    }
    if let Some(dirs) = root.get("exclude_dirs") {
        for item in dirs.one_or_many() {
            excluded(&mut c, item, exclude_ok);
        }
    }
    Ok(c)
}

fn excluded(c: &mut Checked, item: &Node, exclude_ok: &[String]) {
    let Some(dir) = item.str() else { return };
    c.entries += 1;
    if !allowed_exclude(dir, exclude_ok) {
        c.issues.push(Issue {
            code: codes::SCAN_EXCLUDES_CODE,
            line: item.pos.line,
            message: format!("bandit excludes `{dir}`, which is not tests, a virtualenv or build output: scan it, or list it in scan_config.exclude_ok"),
        });
    }
}

/// A folder is fine to exclude when one of its components is a test, virtualenv or build
/// folder (`tests`, `src/tests`, `./venv`, `*/node_modules/*`).
fn allowed_exclude(dir: &str, ok: &[String]) -> bool {
    dir.split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != "." && !p.chars().all(|c| c == '*'))
        .any(|part| ok.iter().any(|pat| crate::util::glob::matches(pat, part)))
}

/// A `#` comment on line `line` (1-based) after column `col`, outside quotes.
fn comment_after(src: &[&str], line: usize, col: usize) -> bool {
    let Some(text) = src.get(line.wrapping_sub(1)) else {
        return false;
    };
    let rest: String = text.chars().skip(col.saturating_sub(1)).collect();
    let mut quote = None;
    let mut prev = ' ';
    for ch in rest.chars() {
        match (quote, ch) {
            (None, '\'' | '"') => quote = Some(ch),
            (Some(q), _) if ch == q => quote = None,
            (None, '#') if prev.is_whitespace() => return true,
            _ => {}
        }
        prev = ch;
    }
    false
}

/// The line above `line` is a non-empty comment.
fn comment_above(src: &[&str], line: usize) -> bool {
    line >= 2
        && src
            .get(line - 2)
            .is_some_and(|l| l.trim_start().starts_with('#') && l.trim().len() > 1)
}

/// `.bandit` (INI, `[bandit]`): `skips = B101,B102` needs a comment line right above it;
/// `exclude` / `exclude_dirs` as for YAML.
fn bandit_ini(rel: &str, text: &str, exclude_ok: &[String]) -> Result<Checked, String> {
    let mut c = Checked::new(rel, "bandit");
    let src: Vec<&str> = text.lines().collect();
    let mut section = String::new();
    for (i, line) in src.iter().enumerate() {
        let t = line.trim();
        if let Some(s) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.trim().to_string();
            continue;
        }
        let Some((key, value)) = t.split_once('=') else {
            continue;
        };
        if section != "bandit" || t.starts_with(['#', ';']) {
            continue;
        }
        let values = value.split(',').map(str::trim).filter(|v| !v.is_empty());
        match key.trim() {
            "skips" => {
                let above = i > 0
                    && src[i - 1].trim_start().starts_with(['#', ';'])
                    && src[i - 1].trim().len() > 1;
                for id in values {
                    c.entries += 1;
                    if !above {
                        c.issues.push(Issue {
                            code: codes::EXCEPTION_UNJUSTIFIED,
                            line: i + 1,
                            message: format!("bandit skips `{id}` without a reason: add a `# why` line above `skips`"),
                        });
                    }
                }
            }
            "exclude" | "exclude_dirs" => {
                for dir in values {
                    let node = Node {
                        pos: yaml::Pos {
                            line: i + 1,
                            col: 1,
                            offset: 0,
                        },
                        value: yaml::Value::Scalar(dir.into()),
                    };
                    excluded(&mut c, &node, exclude_ok);
                }
            }
            _ => {}
        }
    }
    Ok(c)
}

/// `[audit] ignore` entries past their `until`, at their line in maintenance.toml.
fn audit_ignores(cx: &Context, today: NaiveDate) -> Checked {
    let rel = cx.rel(&cx.config_path);
    let lines = crate::workflows::ignore_lines(&cx.config_path, "audit");
    let ignores = &cx.config.audit.ignore;
    let mut c = Checked::new(&rel, "audit ignore");
    c.entries = ignores.len();
    for (n, ig) in ignores.iter().enumerate() {
        let Some(until) = ig.until.filter(|u| *u < today) else {
            continue;
        };
        c.issues.push(Issue {
            code: codes::EXCEPTION_EXPIRED,
            line: lines.get(n).copied().flatten().unwrap_or(0),
            message: format!(
                "the audit ignore of {} expired on {until} (reason was: {}): `audit` reports it again; fix it, or renew `until`",
                ig.id, ig.reason
            ),
        });
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trivyignore_reasons_and_expiry() {
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let text = "# Ignore specific vulnerabilities with justification\nCVE-2023-12345  # False positive in development dependencies\n\nCVE-2023-1 exp:2026-01-01 # fixed upstream soon\nCVE-2023-2\n# base image, no fix yet\nCVE-2023-3 exp:2027-01-01\n";
        let c = trivyignore(".trivyignore", text, today);
        let got: Vec<(usize, &str)> = c.issues.iter().map(|i| (i.line, i.code.id())).collect();
        assert_eq!(
            got,
            vec![(4, "exception-expired"), (5, "exception-unjustified")]
        );
        assert_eq!(c.entries, 4);
    }

    #[test]
    fn bandit_yaml_and_ini() {
        let ok = crate::config::ScanConfigConfig::default().exclude_ok;
        let text = "skips: ['B101']  # Skip test-related assert statements\nexclude_dirs: ['tests', 'venv']\n";
        assert!(
            bandit_yaml("bandit.yaml", text, &ok)
                .unwrap()
                .issues
                .is_empty()
        );
        let text = "skips:\n  - B101 # asserts in tests\n  - B603\nexclude_dirs:\n  - tests\n  - src/payments\n";
        let c = bandit_yaml("bandit.yaml", text, &ok).unwrap();
        let got: Vec<(usize, &str)> = c.issues.iter().map(|i| (i.line, i.code.id())).collect();
        assert_eq!(
            got,
            vec![(3, "exception-unjustified"), (6, "scan-excludes-code")]
        );
        let ini =
            "[bandit]\n# subprocess with fixed argv only\nskips = B603,B607\nexclude = tests,app\n";
        let c = bandit_ini(".bandit", ini, &ok).unwrap();
        let got: Vec<(usize, &str)> = c.issues.iter().map(|i| (i.line, i.code.id())).collect();
        assert_eq!(got, vec![(4, "scan-excludes-code")]);
    }

    /// Part of the fuzz suite (`fuzz_tests`): mutated `.trivyignore`, bandit YAML and INI
    /// files never panic, and every issue is at a line of the file (1,000 cases each).
    #[test]
    fn mutated_scanner_configs_never_panic() {
        use crate::fuzz_tests::{check, mutate_text, mutations};
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let ok = crate::config::ScanConfigConfig::default().exclude_ok;
        let samples = [
            "# reason\nCVE-2023-1 exp:2026-01-01 # fixed soon\nCVE-2023-2\nGHSA-x exp:2027-13-45\n",
            "skips:\n  - B101 # asserts in tests\n  - B603\nexclude_dirs: ['tests', 'src/payments']\n",
            "[bandit]\n# fixed argv only\nskips = B603,B607\nexclude = tests,app\ntargets = src\n",
        ];
        for (k, sample) in samples.into_iter().enumerate() {
            check("mutated scanner config", 1000, mutations(6), |ms| {
                let text = mutate_text(sample, &ms);
                let c = match k {
                    0 => Ok(trivyignore(".trivyignore", &text, today)),
                    1 => bandit_yaml("bandit.yaml", &text, &ok),
                    _ => bandit_ini(".bandit", &text, &ok),
                };
                // The end of a file ending in a newline is the start of the line after it.
                let n = text.split('\n').count();
                for i in c.iter().flat_map(|c| &c.issues) {
                    proptest::prop_assert!(
                        (1..=n).contains(&i.line),
                        "line {} of {n} in {:?}",
                        i.line,
                        text
                    );
                }
                Ok(())
            });
        }
    }
}
