//! GitHub Actions: every `uses:` of the workflows and composite actions under `.github/` —
//! SHA, tag or branch, the latest release from the GitHub API — and end-of-life Python
//! versions in workflow matrices and setup steps.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;

use super::eol::EolTable;
use super::{Ecosystem, Kind, Outdated, Pkg, Scope, Tree, segment, yaml_scalar};
use crate::report::{Finding, Severity, codes};
use crate::util::http;

/// `uses:` of workflow steps and jobs: (line, action, ref, comment version).
pub fn workflow_uses(text: &str) -> Vec<(usize, String, String, Option<String>)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start().trim_start_matches("- ").trim_start();
        let Some(v) = t.strip_prefix("uses:") else {
            continue;
        };
        let (value, comment) = match v.split_once('#') {
            Some((a, c)) => (a.trim(), Some(c.trim().to_string())),
            None => (v.trim(), None),
        };
        let value = value.trim_matches(['"', '\'']);
        if value.starts_with("./") || value.starts_with("docker://") {
            continue;
        }
        let Some((action, r)) = value.split_once('@') else {
            out.push((i + 1, value.to_string(), String::new(), comment));
            continue;
        };
        let version = comment
            .and_then(|c| c.split_whitespace().next().map(str::to_string))
            .filter(|c| c.starts_with('v') || c.starts_with(|ch: char| ch.is_ascii_digit()));
        out.push((i + 1, action.to_string(), r.to_string(), version));
    }
    out
}

/// `python-version:` values of workflow matrices and setup steps: a scalar, a flow list
/// (`['3.8', '3.12']`), a block list (`- "3.8"` lines below the key), or inside a flow
/// mapping (`with: { python-version: "3.8" }`). (line, version)
pub fn python_versions(text: &str) -> Vec<(usize, String)> {
    const KEY: &str = "python-version:";
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut push = |line: usize, item: &str| {
        let item = yaml_scalar(item);
        if item.starts_with(|c: char| c.is_ascii_digit()) {
            out.push((line, item.to_string()));
        }
    };
    for (i, line) in lines.iter().enumerate() {
        // The key itself, not the end of a longer one (`my-python-version:`).
        let Some(at) = line.match_indices(KEY).map(|(at, _)| at).find(|&at| {
            !line[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        }) else {
            continue;
        };
        let value = line[at + KEY.len()..]
            .split(" #")
            .next()
            .unwrap_or_default()
            .trim();
        if value.is_empty() {
            let indent = line.len() - line.trim_start().len();
            for (j, item) in lines.iter().enumerate().skip(i + 1) {
                let t = item.trim_start();
                if t.is_empty() || t.starts_with('#') {
                    continue;
                }
                match t.strip_prefix('-') {
                    Some(v) if item.len() - t.len() >= indent => push(j + 1, v),
                    _ => break,
                }
            }
        } else if let Some(list) = value.strip_prefix('[') {
            for item in list.split(']').next().unwrap_or_default().split(',') {
                push(i + 1, item);
            }
        } else {
            push(i + 1, value.split([',', '}']).next().unwrap_or_default());
        }
    }
    out
}

fn is_sha(r: &str) -> bool {
    r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Where an action is used: (workflow, line, ref, version from the pin comment).
type ActionUse = (PathBuf, usize, String, Option<String>);

/// The Actions phase: pinning findings per `uses:`, end-of-life Python versions, and each
/// action's latest release.
pub(super) fn check(scope: &Scope, tree: &Tree, eols: &EolTable, out: &mut Outdated) -> Result<()> {
    let mut actions: BTreeMap<String, Vec<ActionUse>> = BTreeMap::new();
    for (wf, text) in &tree.workflows {
        for (line, action, r, version) in workflow_uses(text) {
            if scope.ignored(&action) {
                continue;
            }
            pinning(scope, wf, line, &action, &r, out);
            actions
                .entry(action)
                .or_default()
                .push((wf.clone(), line, r, version));
        }
        python_eol(scope, wf, text, eols, out);
    }
    let latest = latest_releases(scope, &actions)?;
    for (action, uses) in &actions {
        let (latest, notes) = match &latest[action.as_str()] {
            Ok(tag) => (Some(tag.clone()), vec![]),
            Err(why) => (None, vec![format!("latest unknown: {why}")]),
        };
        for (wf, line, r, version) in uses {
            let current = if is_sha(r) {
                version.clone().or_else(|| Some(r[..12].to_string()))
            } else {
                Some(r.clone())
            };
            out.packages.push(Pkg {
                ecosystem: Ecosystem::Actions,
                name: action.clone(),
                current,
                compatible: None,
                latest: latest.clone(),
                kind: if is_sha(r) {
                    Kind::Sha
                } else if r.is_empty() {
                    Kind::None
                } else {
                    Kind::TagOrBranch
                },
                direct: true,
                source: scope.cx.rel(wf),
                line: Some(*line),
                notes: notes.clone(),
            });
        }
    }
    Ok(())
}

/// Findings for a `uses:` that is not pinned to a full commit SHA.
fn pinning(
    scope: &Scope,
    wf: &std::path::Path,
    line: usize,
    action: &str,
    r: &str,
    out: &mut Outdated,
) {
    let at = scope.cx.rel(wf);
    let mk = |code, sev, msg: String| Finding::new(code, sev, msg).at_line(at.clone(), line);
    if r.is_empty() {
        out.push(mk(
            codes::MUTABLE_ACTION_REF,
            Severity::Medium,
            format!("{action} has no ref: it follows the default branch"),
        ));
    } else if !is_sha(r) {
        out.push(mk(
            codes::UNPINNED_ACTION,
            Severity::Low,
            format!("{action}@{r} is not pinned to a full commit SHA"),
        ));
        let tagish = r
            .trim_start_matches('v')
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !tagish {
            out.push(mk(
                codes::MUTABLE_ACTION_REF,
                Severity::Medium,
                format!("{action}@{r} follows a branch: every run may get different code"),
            ));
        }
    }
}

/// End-of-life Python versions of a workflow's matrices and setup steps.
fn python_eol(
    scope: &Scope,
    wf: &std::path::Path,
    text: &str,
    eols: &EolTable,
    out: &mut Outdated,
) {
    let today = chrono::Utc::now().date_naive();
    for (line, v) in python_versions(text) {
        if let Some((cycle, date)) = eols.lookup("python", &v)
            && date < today
        {
            let msg = format!("python {cycle} in a workflow matrix reached end of life on {date}");
            let f = Finding::new(codes::EOL_RUNTIME, Severity::Medium, msg)
                .at_line(scope.cx.rel(wf), line);
            out.push(f);
        }
    }
}

/// The latest release of each action from the GitHub API (optional: no retries), or why it
/// is unknown.
fn latest_releases<'a>(
    scope: &Scope,
    actions: &'a BTreeMap<String, Vec<ActionUse>>,
) -> Result<BTreeMap<&'a str, Result<String, &'static str>>> {
    // `owner/repo[/path]`: the release is the repository's.
    let repos: Vec<(&str, Option<String>)> = actions
        .keys()
        .map(|a| {
            let mut parts = a.split('/');
            let url = match (parts.next(), parts.next()) {
                (Some(owner), Some(repo)) if !owner.is_empty() && !repo.is_empty() => {
                    Some(format!(
                        "{}/repos/{}/{}/releases/latest",
                        github_api(),
                        segment(owner),
                        segment(repo)
                    ))
                }
                _ => None,
            };
            (a.as_str(), url)
        })
        .collect();
    let urls: Vec<String> = repos.iter().filter_map(|(_, u)| u.clone()).collect();
    let gh = http::Client {
        headers: github_headers(),
        ..scope.enrich_client()
    };
    let mut answers = gh.fetch_all(&urls)?.into_iter();
    let mut out = BTreeMap::new();
    for (action, url) in repos {
        let latest = match url {
            None => Err("not a GitHub repository (owner/repo)"),
            Some(_) => {
                let a = answers.next().expect("one answer per URL");
                match &a.body {
                    Some(b) => serde_json::from_slice::<serde_json::Value>(b)
                        .ok()
                        .and_then(|v| v["tag_name"].as_str().map(str::to_string))
                        .ok_or("GitHub API answer has no tag_name"),
                    None if a.status == 404 => Err("no release on GitHub"),
                    None => Err("GitHub API not reachable"),
                }
            }
        };
        out.insert(action, latest);
    }
    Ok(out)
}

fn github_api() -> String {
    std::env::var("XTASK_GITHUB_API").unwrap_or_else(|_| "https://api.github.com".into())
}

fn github_headers() -> Vec<String> {
    let mut h = vec!["Accept: application/vnd.github+json".to_string()];
    if let Ok(t) = std::env::var("GITHUB_TOKEN") {
        h.push(format!("Authorization: Bearer {t}"));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_refs() {
        let wf = "jobs:\n  t:\n    uses: org/repo/.github/workflows/x.yml@main\n    steps:\n      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n      - uses: actions/setup-python@v5\n      - uses: ./local\n        with:\n          python-version: ['3.8', \"3.12\"]\n";
        let u = workflow_uses(wf);
        assert_eq!(u.len(), 3);
        assert_eq!(u[0].2, "main");
        assert_eq!(u[1].3.as_deref(), Some("v4.2.2"));
        assert_eq!(
            python_versions(wf),
            vec![(9, "3.8".to_string()), (9, "3.12".to_string())]
        );
    }

    #[test]
    fn python_versions_in_every_yaml_form() {
        let wf = "    matrix:\n      python-version:\n        - \"3.7\"  # old\n\n        - '3.12'\n      os: [ubuntu-latest]\n    steps:\n      - uses: actions/setup-python@v5\n        with: { python-version: \"3.8\", cache: pip }\n      - with:\n          python-version: 3.9 # unquoted\n          my-python-version: 2.7\n          python-version-file: .python-version\n      - with:\n          python-version: ${{ matrix.python-version }}\n";
        let v = |l: usize, s: &str| (l, s.to_string());
        assert_eq!(
            python_versions(wf),
            vec![v(3, "3.7"), v(5, "3.12"), v(9, "3.8"), v(11, "3.9")]
        );
    }
}
