//! lcov tracefiles (`coverage lcov`, cargo-llvm-cov `--lcov`, geninfo): `SF:` records with
//! `DA:line,hits`, `BRDA:line,block,branch,taken` and the `BRF`/`BRH` summaries, up to
//! `end_of_record`. A file recorded more than once (several test names) is merged.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};

use super::model::FileCov;

/// One `SF:` record.
#[derive(Default)]
struct Record {
    lines: BTreeMap<u32, bool>,
    /// (line, block, branch) → taken; `None` when the line never ran (`-`).
    brda: BTreeMap<(u32, String), Option<bool>>,
    brf: Option<u64>,
    brh: Option<u64>,
}

/// Is this text an lcov tracefile (its first record line)?
pub fn looks_like(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .is_some_and(|l| ["TN:", "SF:", "VER:"].iter().any(|p| l.starts_with(p)))
}

pub fn parse(text: &str) -> Result<Vec<FileCov>> {
    let mut records: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    let mut current: Option<(String, Record)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let n = i + 1;
        let (key, value) = line.split_once(':').unwrap_or((line, ""));
        match key {
            "SF" => {
                if current.is_some() {
                    bail!("line {n}: `SF:` before the previous record's `end_of_record`");
                }
                current = Some((value.to_string(), Record::default()));
            }
            "end_of_record" => match current.take() {
                Some((sf, r)) => records.entry(sf).or_default().push(r),
                None => bail!("line {n}: `end_of_record` without `SF:`"),
            },
            "DA" | "BRDA" | "BRF" | "BRH" => {
                let Some((_, r)) = current.as_mut() else {
                    bail!("line {n}: `{key}:` outside a `SF:` record");
                };
                record_line(r, key, value).with_context(|| format!("line {n}"))?;
            }
            // Between records, a line that is not `KEY:...` is no lcov line: the start of a
            // record cut short (`S`, `SF`), which must not pass for a complete file.
            _ if current.is_none() && !line.trim().is_empty() && !line.contains(':') => {
                bail!("line {n}: not an lcov line (`KEY:value`): is the file cut short?");
            }
            // TN, VER, FN*, LF/LH (recomputed from DA) and lines of newer lcov versions.
            _ => {}
        }
    }
    if let Some((sf, _)) = current {
        bail!("the record of `{sf}` has no `end_of_record`: the file is truncated");
    }
    if records.is_empty() {
        bail!("no `SF:` record: not an lcov tracefile");
    }
    Ok(records
        .into_iter()
        .map(|(path, rs)| file_cov(path, rs))
        .collect())
}

fn count(v: &str, what: &str) -> Result<u64> {
    let v = v.trim();
    // Execution counts are integers; some tools write large ones as floats.
    v.parse::<u64>()
        .or_else(|_| v.parse::<f64>().map(|f| f.max(0.0) as u64))
        .map_err(|_| anyhow::anyhow!("{what} `{v}` is not a number"))
}

/// A branch count: at most [`MAX_BRANCHES`](super::model::MAX_BRANCHES).
fn branches(v: &str, what: &str) -> Result<u64> {
    let n = count(v, what)?;
    if n > super::model::MAX_BRANCHES {
        bail!("{what} `{}` is not a count of a source file", v.trim());
    }
    Ok(n)
}

fn record_line(r: &mut Record, key: &str, value: &str) -> Result<()> {
    match key {
        "DA" => {
            let mut parts = value.split(',');
            let line = count(parts.next().unwrap_or_default(), "line number")?;
            let hits = count(parts.next().unwrap_or_default(), "hit count")?;
            let line = u32::try_from(line).map_err(|_| anyhow::anyhow!("line {line} too large"))?;
            *r.lines.entry(line).or_default() |= hits > 0;
        }
        "BRDA" => {
            // line,block,branch,taken: the branch name may itself hold commas.
            let Some((line, id, taken)) = value
                .split_once(',')
                .and_then(|(l, rest)| rest.rsplit_once(',').map(|(id, t)| (l, id, t)))
            else {
                bail!("`BRDA:{value}` is not line,block,branch,taken");
            };
            let line = u32::try_from(count(line, "line number")?)?;
            let id = id.to_string();
            let taken = match taken.trim() {
                "-" => None,
                t => Some(count(t, "branch count")? > 0),
            };
            let e = r.brda.entry((line, id)).or_insert(None);
            *e = match (*e, taken) {
                (Some(a), Some(b)) => Some(a || b),
                (a, b) => a.or(b),
            };
        }
        "BRF" => r.brf = Some(branches(value, "BRF")?),
        _ => r.brh = Some(branches(value, "BRH")?),
    }
    Ok(())
}

fn file_cov(path: String, records: Vec<Record>) -> FileCov {
    let mut lines: BTreeMap<u32, bool> = BTreeMap::new();
    let mut brda: BTreeMap<(u32, String), Option<bool>> = BTreeMap::new();
    let summary = match records.as_slice() {
        [r] => r.brf.zip(r.brh),
        _ => None,
    };
    for r in records {
        for (l, hit) in r.lines {
            *lines.entry(l).or_default() |= hit;
        }
        for (k, taken) in r.brda {
            let e = brda.entry(k).or_insert(None);
            *e = match (*e, taken) {
                (Some(a), Some(b)) => Some(a || b),
                (a, b) => a.or(b),
            };
        }
    }
    let mut f = FileCov {
        path,
        ..FileCov::default()
    };
    for (&l, &hit) in &lines {
        f.statements.insert(l);
        if !hit {
            f.missing.insert(l);
        }
    }
    let mut missing = 0;
    for ((l, _), taken) in &brda {
        if *taken != Some(true) {
            missing += 1;
            if lines.get(l) == Some(&true) {
                f.partial_branches += 1;
            }
        }
    }
    // A single record's own summary is the writer's count (coverage.py's exits per line);
    // merged records are counted from their branches.
    (f.branches, f.missing_branches) = match summary {
        Some((brf, brh)) if brh <= brf => (brf, brf - brh),
        _ => (brda.len() as u64, missing),
    };
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_branches_and_merging() {
        let text = "TN:\nSF:pkg/a.py\nDA:1,1\nDA:2,1\nDA:3,0\nBRDA:2,0,jump to line 3,0\nBRDA:2,0,jump to line 4,1\nBRDA:3,0,a, b,-\nBRDA:3,0,c,-\nBRF:4\nBRH:1\nend_of_record\n\
                    SF:src/lib.rs\nDA:1,5\nDA:2,0\nBRDA:1,0,0,1\nBRDA:1,0,1,0\nend_of_record\nSF:src/lib.rs\nDA:2,3\nBRDA:1,0,1,2\nend_of_record\n";
        assert!(looks_like(text));
        let files = parse(text).unwrap();
        let a = &files[0];
        assert_eq!((a.statements.len(), a.missing.len()), (3, 1));
        assert_eq!(
            (a.branches, a.missing_branches, a.partial_branches),
            (4, 3, 1)
        );
        let lib = &files[1];
        assert_eq!(lib.path, "src/lib.rs");
        assert!(lib.missing.is_empty());
        assert_eq!((lib.branches, lib.missing_branches), (2, 0));
    }

    #[test]
    fn malformed_tracefiles_name_the_line() {
        let err = format!("{:#}", parse("SF:a\nDA:x,1\nend_of_record\n").unwrap_err());
        assert!(err.contains("line 2") && err.contains("`x`"), "{err}");
        let err = parse("SF:a\nDA:1,1\n").unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
        assert!(!looks_like("hello\nSF:a\n"));
    }

    /// Found by `fuzz_tests::reports`: a file cut just after the `S` of a record's `SF:`
    /// parsed as a complete tracefile without that record.
    #[test]
    fn a_record_cut_at_its_first_line_is_an_error() {
        let whole = "SF:a\nDA:1,1\nend_of_record\nSF:b\nDA:1,0\nend_of_record\n";
        let at = whole.find("SF:b").unwrap();
        let err = parse(&whole[..at + 1]).unwrap_err().to_string();
        assert!(err.contains("line 4") && err.contains("cut short"), "{err}");
        assert!(
            parse(&whole[..at + 2]).is_err(),
            "`SF` opens a record never closed"
        );
        assert_eq!(parse(whole).unwrap().len(), 2);
        assert_eq!(parse(&format!("TN:\n\n{whole}")).unwrap().len(), 2);
    }

    /// Found by `fuzz_tests::reports`: `BRF:18446744073709551615` overflowed the totals.
    #[test]
    fn implausible_branch_counts_are_refused() {
        let err = format!(
            "{:#}",
            parse("SF:a\nDA:1,1\nBRF:18446744073709551615\nBRH:0\nend_of_record\n").unwrap_err()
        );
        assert!(
            err.contains("line 3") && err.contains("not a count"),
            "{err}"
        );
    }
}
