//! Cobertura XML (`coverage xml`, pytest-cov `--cov-report=xml`, cargo-llvm-cov
//! `--cobertura`): `<class filename>` elements with `<lines><line number hits branch
//! condition-coverage missing-branches>`. Lines under `<methods>` repeat the class's lines
//! and are not counted again; a file split over several classes is merged.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};
use quick_xml::events::BytesStart;

use crate::util::xml::{self, Step, attr};

use super::model::FileCov;

/// One statement line: run or not, and (exits, exits taken) when it branches.
#[derive(Default)]
struct Line {
    hit: bool,
    branch: Option<(u64, u64)>,
    missing_arcs: Vec<i64>,
}

pub struct Parsed {
    pub files: Vec<FileCov>,
    /// `<sources><source>`: the folders class file names are relative to.
    pub sources: Vec<String>,
}

/// `50% (1/2)` → (2 exits, 1 taken).
fn condition(text: &str) -> Option<(u64, u64)> {
    let inner = text.split_once('(')?.1.split_once(')')?.0;
    let (taken, total) = inner.split_once('/')?;
    let (taken, total) = (taken.trim().parse().ok()?, total.trim().parse().ok()?);
    (taken <= total && total <= super::model::MAX_BRANCHES).then_some((total, taken))
}

pub fn parse(text: &str) -> Result<Parsed> {
    let mut files: BTreeMap<String, BTreeMap<u32, Line>> = BTreeMap::new();
    let mut class: Option<String> = None;
    let mut sources = Vec::new();
    let mut seen_root = false;
    xml::read(text, true, |stack, step| {
        let (e, name) = match step {
            Step::Open { e, name, .. } => (e, name),
            Step::Close(name) => {
                if name == "class" {
                    class = None;
                }
                return Ok(());
            }
            Step::Text(t) if stack.last().is_some_and(|s| s == "source") => {
                sources.push(t.to_string());
                return Ok(());
            }
            _ => return Ok(()),
        };
        if !seen_root {
            if name != "coverage" {
                bail!("the root element is <{name}>, not <coverage>: not a Cobertura report");
            }
            seen_root = true;
        }
        match name {
            "class" => {
                let Some(f) = attr(e, "filename")? else {
                    bail!("a <class> has no filename attribute");
                };
                files.entry(f.clone()).or_default();
                class = Some(f);
            }
            "line" if stack.len() >= 2 && stack[stack.len() - 2..] == ["class", "lines"] => {
                let Some(file) = &class else { return Ok(()) };
                add_line(e, files.get_mut(file).expect("class entry exists"))?;
            }
            _ => {}
        }
        Ok(())
    })?;
    if !seen_root {
        bail!("no XML element found: not a Cobertura report");
    }
    let files = files
        .into_iter()
        .map(|(path, lines)| file_cov(path, lines))
        .collect();
    Ok(Parsed { files, sources })
}

fn add_line(e: &BytesStart, lines: &mut BTreeMap<u32, Line>) -> Result<()> {
    let number = attr(e, "number")?.unwrap_or_default();
    let number: u32 = number
        .parse()
        .with_context(|| format!("<line number=\"{number}\">: not a line number"))?;
    let hits = attr(e, "hits")?.unwrap_or_default();
    // Hit counts are integers; some tools write them as floats.
    let hit = match hits.parse::<u64>() {
        Ok(n) => n > 0,
        Err(_) => hits
            .parse::<f64>()
            .map(|h| h > 0.0)
            .with_context(|| format!("<line number=\"{number}\" hits=\"{hits}\">"))?,
    };
    let line = lines.entry(number).or_default();
    line.hit |= hit;
    if attr(e, "branch")?.as_deref() == Some("true") {
        let cc = attr(e, "condition-coverage")?.unwrap_or_default();
        let Some((total, taken)) = condition(&cc) else {
            bail!(
                "<line number=\"{number}\">: condition-coverage `{cc}` is not `N% (taken/total)`"
            );
        };
        let (t0, k0) = line.branch.unwrap_or((0, 0));
        line.branch = Some((t0.max(total), k0.max(taken)));
    }
    if let Some(mb) = attr(e, "missing-branches")? {
        for d in mb.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            line.missing_arcs.push(if d == "exit" {
                -1
            } else {
                d.parse().unwrap_or(-1)
            });
        }
    }
    Ok(())
}

fn file_cov(path: String, lines: BTreeMap<u32, Line>) -> FileCov {
    let mut f = FileCov {
        path,
        ..FileCov::default()
    };
    for (n, l) in lines {
        f.statements.insert(n);
        if !l.hit {
            f.missing.insert(n);
        }
        if let Some((total, taken)) = l.branch {
            f.branches += total;
            f.missing_branches += total - taken;
            if l.hit {
                f.partial_branches += total - taken;
            }
        }
        f.missing_arcs
            .extend(l.missing_arcs.iter().map(|&d| (n, d)));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_lines_and_branches() {
        let xml = r#"<?xml version="1.0" ?>
<coverage version="7" lines-valid="4"><sources><source>/src/app</source></sources>
<packages><package name="pkg"><classes>
<class name="a.py" filename="pkg/a.py"><methods><method name="f"><lines><line number="1" hits="1"/></lines></method></methods>
<lines><line number="1" hits="1"/><line number="2" hits="3" branch="true" condition-coverage="50% (1/2)" missing-branches="4"/>
<line number="3" hits="0" branch="true" condition-coverage="0% (0/2)" missing-branches="4,exit"/><line number="4" hits="0"/></lines></class>
<class name="a$Inner" filename="pkg/a.py"><lines><line number="4" hits="1"/></lines></class>
</classes></package></packages></coverage>"#;
        let p = parse(xml).unwrap();
        assert_eq!(p.sources, ["/src/app"]);
        let f = &p.files[0];
        assert_eq!(f.statements.len(), 4);
        assert_eq!(f.missing.iter().copied().collect::<Vec<_>>(), [3]);
        assert_eq!(
            (f.branches, f.missing_branches, f.partial_branches),
            (4, 3, 1)
        );
        assert_eq!(f.missing_text(), "2->4, 3");
    }

    #[test]
    fn other_xml_is_refused() {
        let err = parse("<html><body/></html>").err().unwrap().to_string();
        assert!(err.contains("not a Cobertura report"), "{err}");
        let err = format!(
            "{:#}",
            parse("<coverage><class filename='a'>").err().unwrap()
        );
        assert!(err.contains("truncated"), "{err}");
        let err = format!(
            "{:#}",
            parse("<coverage><packages><package><classes><class filename='a'><lines><line number='x' hits='1'/></lines></class></classes></package></packages></coverage>")
                .err()
                .unwrap()
        );
        assert!(err.contains("not a line number"), "{err}");
    }

    /// Found by `fuzz_tests::reports`: branch totals near `u64::MAX` overflowed the sum
    /// of a file's branches (a panic in the dev profile `cargo xtask` runs in).
    #[test]
    fn implausible_branch_counts_are_refused() {
        let line = |n: u32| {
            format!(
                "<line number='{n}' hits='1' branch='true' condition-coverage='0% (0/18446744073709551615)'/>"
            )
        };
        let text = format!(
            "<coverage><classes><class filename='a'><lines>{}{}</lines></class></classes></coverage>",
            line(1),
            line(2)
        );
        let err = format!("{:#}", parse(&text).err().unwrap());
        assert!(err.contains("is not `N% (taken/total)`"), "{err}");
    }
}
