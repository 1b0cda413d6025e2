//! `--diff BASE`: the lines added or changed since BASE (diff-cover's question), from
//! `git diff --merge-base BASE --unified=0` (commits, staged and unstaged changes), by path
//! relative to the repository's top level.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use xshell::cmd;

use crate::util::sh;

pub struct Changes {
    /// The repository's top level (canonical).
    pub top: PathBuf,
    /// Repository-relative path → changed line numbers in the working tree.
    pub lines: BTreeMap<String, BTreeSet<u32>>,
}

pub fn changed_lines(root: &Path, base: &str) -> Result<Changes> {
    if base.starts_with('-') {
        bail!("--diff `{base}`: a revision does not start with `-`");
    }
    let sh = sh::shell(root)?;
    let top = cmd!(sh, "git rev-parse --show-toplevel")
        .quiet()
        .ignore_stderr()
        .read()
        .with_context(|| {
            format!(
                "--diff needs a git repository: {} is not in one",
                root.display()
            )
        })?;
    let top = PathBuf::from(top.trim())
        .canonicalize()
        .context("the repository's top level")?;
    let out = cmd!(
        sh,
        "git -c core.quotePath=false diff --merge-base {base} --unified=0 --no-color --no-ext-diff --no-textconv --no-renames --"
    )
    .quiet()
    .ignore_status()
    .output()
    .context("running git diff")?;
    if !out.status.success() {
        bail!(
            "git diff --merge-base {base} failed: {} (is `{base}` a revision here? in CI fetch it first, e.g. `git fetch origin main`)",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(Changes {
        top,
        lines: parse_diff(&text)?,
    })
}

/// Added lines per file of a `--unified=0` diff.
pub fn parse_diff(text: &str) -> Result<BTreeMap<String, BTreeSet<u32>>> {
    let mut out: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    let mut file: Option<String> = None;
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("+++ ") {
            let p = unquote(p);
            file = p.strip_prefix("b/").map(str::to_string);
        } else if let (Some(h), Some(f)) = (line.strip_prefix("@@ "), &file) {
            // @@ -a[,b] +c[,d] @@
            let plus = h
                .split_whitespace()
                .find_map(|w| w.strip_prefix('+'))
                .with_context(|| format!("unexpected hunk header `{line}`"))?;
            let (start, len) = match plus.split_once(',') {
                Some((s, l)) => (s.parse::<u32>(), l.parse::<u32>()),
                None => (plus.parse::<u32>(), Ok(1)),
            };
            let (Ok(start), Ok(len)) = (start, len) else {
                bail!("unexpected hunk header `{line}`");
            };
            out.entry(f.clone()).or_default().extend(start..start + len);
        }
    }
    out.retain(|_, l| !l.is_empty());
    Ok(out)
}

/// git quotes a path with special characters as a C string: `"b/a\tb.py"`.
fn unquote(p: &str) -> String {
    let Some(inner) = p.strip_prefix('"').and_then(|p| p.strip_suffix('"')) else {
        return p.to_string();
    };
    let mut bytes = Vec::new();
    let mut it = inner.bytes().peekable();
    while let Some(b) = it.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        match it.next() {
            Some(b'n') => bytes.push(b'\n'),
            Some(b't') => bytes.push(b'\t'),
            Some(d @ b'0'..=b'7') => {
                let mut v = u32::from(d - b'0');
                for _ in 0..2 {
                    if let Some(&d @ b'0'..=b'7') = it.peek() {
                        v = v * 8 + u32::from(d - b'0');
                        it.next();
                    }
                }
                bytes.push(v as u8);
            }
            Some(c) => bytes.push(c),
            None => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_lines_per_file() {
        let diff = "diff --git a/src/a.py b/src/a.py\nindex 1..2 100644\n--- a/src/a.py\n+++ b/src/a.py\n@@ -3,2 +3,3 @@ def f():\n-x\n-y\n+x\n+y\n+z\n@@ -10,0 +12 @@\n+w\n\
                    diff --git a/gone.py b/gone.py\n--- a/gone.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-a\n-b\n\
                    diff --git \"a/sp ace\\303\\251.py\" \"b/sp ace\\303\\251.py\"\n--- /dev/null\n+++ \"b/sp ace\\303\\251.py\"\n@@ -0,0 +1,2 @@\n+a\n+b\n";
        let d = parse_diff(diff).unwrap();
        assert_eq!(
            d["src/a.py"].iter().copied().collect::<Vec<_>>(),
            [3, 4, 5, 12]
        );
        assert!(!d.contains_key("gone.py"));
        assert_eq!(d["sp aceé.py"].len(), 2);
    }
}
