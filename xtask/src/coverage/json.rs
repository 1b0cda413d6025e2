//! coverage.py's JSON report (`coverage json`): `files` → `executed_lines`, `missing_lines`,
//! the branch counts of `summary`, and `missing_branches` as `[from, to]` pairs.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use super::model::FileCov;

#[derive(Deserialize)]
struct Report {
    meta: Option<serde_json::Value>,
    files: Option<BTreeMap<String, File>>,
}

#[derive(Deserialize)]
struct File {
    executed_lines: Vec<u32>,
    missing_lines: Vec<u32>,
    summary: Summary,
    #[serde(default)]
    missing_branches: Vec<(i64, i64)>,
}

#[derive(Deserialize)]
struct Summary {
    #[serde(default)]
    num_branches: u64,
    #[serde(default)]
    missing_branches: u64,
    #[serde(default)]
    num_partial_branches: u64,
}

/// Is this text JSON (rather than lcov or XML)?
pub fn looks_like(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

pub fn parse(text: &str) -> Result<Vec<FileCov>> {
    let report: Report = serde_json::from_str(text).context("not valid JSON")?;
    let (Some(_), Some(files)) = (report.meta, report.files) else {
        bail!("no `meta` and `files` keys: not a coverage.py JSON report");
    };
    let mut out = Vec::new();
    for (path, f) in files {
        let mut c = FileCov {
            path,
            ..FileCov::default()
        };
        c.statements.extend(&f.executed_lines);
        c.statements.extend(&f.missing_lines);
        c.missing.extend(&f.missing_lines);
        c.branches = f.summary.num_branches;
        c.missing_branches = f.summary.missing_branches;
        c.partial_branches = f.summary.num_partial_branches;
        let most = c.branches.max(c.missing_branches).max(c.partial_branches);
        if most > super::model::MAX_BRANCHES {
            bail!(
                "`{}`: {most} branches is not a count of a source file",
                c.path
            );
        }
        if c.missing_branches > c.branches {
            bail!(
                "`{}`: {} missing of {} branches",
                c.path,
                c.missing_branches,
                c.branches
            );
        }
        c.missing_arcs = f
            .missing_branches
            .iter()
            .filter_map(|&(a, b)| Some((u32::try_from(a).ok()?, b)))
            .collect();
        out.push(c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_branches() {
        let text = r#"{"meta": {"format": 3}, "files": {"pkg/a.py": {"executed_lines": [1, 2],
            "missing_lines": [3], "excluded_lines": [], "missing_branches": [[2, 3], [2, -1]],
            "summary": {"num_statements": 3, "num_branches": 4, "missing_branches": 2, "num_partial_branches": 2}}},
            "totals": {}}"#;
        let f = &parse(text).unwrap()[0];
        assert_eq!((f.statements.len(), f.missing.len()), (3, 1));
        assert_eq!((f.branches, f.missing_branches), (4, 2));
        assert_eq!(f.missing_text(), "2->exit, 3");
        let err = parse(r#"{"name": "x"}"#).unwrap_err().to_string();
        assert!(err.contains("not a coverage.py JSON report"), "{err}");
    }

    /// Found by `fuzz_tests::reports`: a branch count near `u64::MAX` overflowed the
    /// totals (a panic in the dev profile `cargo xtask` runs in).
    #[test]
    fn implausible_branch_counts_are_refused() {
        let text = r#"{"meta": {}, "files": {"a.py": {"executed_lines": [1], "missing_lines": [],
            "summary": {"num_branches": 18446744073709551615, "missing_branches": 0}}}}"#;
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("not a count of a source file"), "{err}");
    }
}
