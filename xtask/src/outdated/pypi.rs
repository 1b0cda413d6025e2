//! Python: every pinned requirement (the audit's parsers, lockfiles included) against the
//! PyPI JSON API; `compatible` from the pip-compile input beside a requirements file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Result;

use super::{Ecosystem, Kind, Missing, Outdated, Pkg, Scope, Update, segment};
use crate::deps::{self as inputs, Ecosystem as InputEcosystem, python};
use crate::report::{Finding, Severity, codes};
use crate::util::http;
use crate::util::redact::redact;

/// The registry's name in messages.
const REGISTRY: &str = "PyPI";

/// PyPI JSON API base from pip's index (`PIP_INDEX_URL`, `.../simple` → `.../pypi`).
pub fn pypi_base() -> String {
    if let Ok(u) = std::env::var("XTASK_PYPI_URL") {
        return u.trim_end_matches('/').to_string();
    }
    match std::env::var("PIP_INDEX_URL") {
        Ok(u) => {
            u.trim_end_matches('/')
                .trim_end_matches("/simple")
                .to_string()
                + "/pypi"
        }
        Err(_) => "https://pypi.org/pypi".to_string(),
    }
}

/// What a PyPI JSON document says about a package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Release {
    /// The latest stable non-yanked version.
    pub latest: Option<String>,
    /// The highest of those inside the allowed range.
    pub compatible: Option<String>,
    /// Is the current version yanked?
    pub yanked: bool,
}

/// The releases of a PyPI JSON document, or `None` when it is not one.
pub fn pypi_latest(
    body: &[u8],
    current: &str,
    range: Option<&pep440_rs::VersionSpecifiers>,
) -> Option<Release> {
    let v = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    let releases = v["releases"].as_object()?;
    let mut compatible: Option<pep440_rs::Version> = None;
    let yanked = |files: &serde_json::Value| {
        files
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|f| f["yanked"].as_bool() == Some(true)))
    };
    let mut best: Option<pep440_rs::Version> = None;
    let mut current_yanked = false;
    let cur = pep440_rs::Version::from_str(current).ok();
    for (ver, files) in releases {
        let Ok(pv) = pep440_rs::Version::from_str(ver) else {
            continue;
        };
        if cur.as_ref() == Some(&pv) && yanked(files) {
            current_yanked = true;
        }
        if pv.any_prerelease() || yanked(files) || files.as_array().is_some_and(|a| a.is_empty()) {
            continue;
        }
        if range.is_some_and(|r| r.contains(&pv)) && compatible.as_ref().is_none_or(|c| &pv > c) {
            compatible = Some(pv.clone());
        }
        if best.as_ref().is_none_or(|b| &pv > b) {
            best = Some(pv);
        }
    }
    Some(Release {
        latest: best.map(|b| b.to_string()),
        compatible: compatible.map(|c| c.to_string()),
        yanked: current_yanked,
    })
}

/// A requirement's name and what follows its extras (deps' scanner).
fn split_requirement(req: &str) -> (&str, &str) {
    match python::requirement_head(req) {
        Ok(head) => (head.name, head.rest.trim()),
        Err(name) => (name, ""),
    }
}

/// The version ranges a pip-compile input (`X.in` beside `X.txt`) gives its packages.
pub fn input_ranges(txt: &Path) -> BTreeMap<String, pep440_rs::VersionSpecifiers> {
    let mut out = BTreeMap::new();
    let Ok(text) = fs::read_to_string(txt.with_extension("in")) else {
        return out;
    };
    for (_, line) in python::join_continuations(&text) {
        let l = line
            .split('#')
            .next()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        if l.is_empty() || l.starts_with('-') {
            continue;
        }
        let (name, rest) = split_requirement(l);
        if !rest.is_empty()
            && let Ok(spec) = pep440_rs::VersionSpecifiers::from_str(rest)
        {
            out.insert(inputs::pep503(name), spec);
        }
    }
    out
}

/// A requirement that pins no version: a range (`~=`, `!=`, `>=`, none), a URL or path, or
/// an editable install.
struct Loose {
    name: String,
    /// The versions it allows (a range that parses).
    range: Option<pep440_rs::VersionSpecifiers>,
    kind: Kind,
    file: PathBuf,
    note: String,
}

impl Loose {
    fn of(u: &inputs::Unpinned) -> Loose {
        let req = u.requirement.split(';').next().unwrap_or_default().trim();
        let (name, rest) = split_requirement(req);
        let (name, range, kind, note) =
            if name.is_empty() || rest.starts_with('@') || req.contains("://") {
                // A URL can carry a token: only its redacted form is shown.
                let shown = redact(req);
                let name = if rest.starts_with('@') {
                    name.to_string()
                } else {
                    shown.clone()
                };
                (name, None, Kind::Url, format!("not from PyPI: `{shown}`"))
            } else {
                let range = pep440_rs::VersionSpecifiers::from_str(rest).ok();
                let note = format!("not pinned: `{req}`");
                (name.to_string(), range, Kind::Unpinned, note)
            };
        Loose {
            name,
            range,
            kind,
            file: u.file.clone(),
            note,
        }
    }

    /// An editable requirement, from the parser's note about it (`-e PATH` is not audited).
    fn editable((file, _, note): &(PathBuf, usize, String)) -> Option<Loose> {
        let req = note
            .strip_prefix("editable requirement `")?
            .rsplit_once('`')?
            .0;
        let target = ["--editable=", "--editable", "-e"]
            .iter()
            .find_map(|o| req.strip_prefix(o))
            .unwrap_or(req)
            .trim();
        Some(Loose {
            name: target.to_string(),
            range: None,
            kind: Kind::Editable,
            file: file.clone(),
            note: format!("editable: `{req}`"),
        })
    }

    /// Looked up on PyPI (URLs, paths and editables are not from there).
    fn on_pypi(&self) -> bool {
        self.kind == Kind::Unpinned
    }
}

/// The Python phase: every pinned requirement of `files` against PyPI, and the requirements
/// that pin nothing listed beside them.
pub(super) fn check(scope: &Scope, files: &[PathBuf], out: &mut Outdated) -> Result<()> {
    let cx = scope.cx;
    let py = inputs::load_read(&cx.root, files, Vec::new());
    for (f, err) in &py.failed {
        out.input_failed = true;
        out.push(Finding::new(codes::INPUT_ERROR, Severity::High, err.clone()).at(cx.rel(f)));
    }
    let mut seen = BTreeSet::new();
    let pins: Vec<&inputs::Package> = py
        .packages
        .iter()
        .filter(|p| {
            p.ecosystem == InputEcosystem::PyPI
                && !scope.ignored(&p.name)
                && seen.insert((inputs::pep503(&p.name), p.version.clone()))
        })
        .collect();
    let loose: Vec<Loose> = py
        .unpinned
        .iter()
        .map(Loose::of)
        .chain(py.notes.iter().filter_map(Loose::editable))
        .filter(|l| !scope.ignored(&l.name))
        .collect();
    let names = pins.iter().map(|p| p.name.as_str()).chain(
        loose
            .iter()
            .filter(|l| l.on_pypi())
            .map(|l| l.name.as_str()),
    );
    let answers = lookup(scope, names, out)?;
    let mut ranges: BTreeMap<PathBuf, BTreeMap<String, pep440_rs::VersionSpecifiers>> =
        BTreeMap::new();
    for p in pins {
        let range = ranges
            .entry(p.file.to_path_buf())
            .or_insert_with(|| input_ranges(&p.file))
            .get(&inputs::pep503(&p.name))
            .cloned();
        pin_row(scope, p, range, &answers, out);
    }
    for l in loose {
        loose_row(scope, l, &answers, out);
    }
    Ok(())
}

/// PyPI's answer for each project (by PEP 503 name): one request per project, however many
/// requirements name it.
fn lookup<'a>(
    scope: &Scope,
    names: impl Iterator<Item = &'a str>,
    out: &mut Outdated,
) -> Result<BTreeMap<String, http::Response>> {
    let base = pypi_base();
    let names: BTreeSet<String> = names.map(inputs::pep503).collect();
    let urls: Vec<String> = names
        .iter()
        .map(|n| format!("{base}/{}/json", segment(n)))
        .collect();
    let client = scope.client();
    let answers = client.fetch_all(&urls)?;
    out.http.add(&answers);
    // An answer that is not JSON (cut off, a proxy's error page) is not kept in the cache.
    for (a, url) in answers.iter().zip(&urls) {
        if let Some(b) = &a.body
            && serde_json::from_slice::<serde::de::IgnoredAny>(b).is_err()
        {
            client.forget(url);
        }
    }
    Ok(names.into_iter().zip(answers).collect())
}

/// What PyPI's answer says about `name` at `current` within `range`, or why it says nothing
/// (a finding, and a note).
fn release(
    name: &str,
    current: &str,
    range: Option<&pep440_rs::VersionSpecifiers>,
    answers: &BTreeMap<String, http::Response>,
    out: &mut Outdated,
    notes: &mut Vec<String>,
) -> Release {
    let a = &answers[&inputs::pep503(name)];
    let release = match &a.body {
        Some(b) => pypi_latest(b, current, range)
            .ok_or_else(|| Missing::Failed("the answer is not a PyPI JSON document".into())),
        None => Err(Missing::of(a)),
    };
    release.unwrap_or_else(|why| {
        out.push(why.finding(name, REGISTRY));
        notes.push(out.missing(&why, REGISTRY));
        Release::default()
    })
}

/// A pinned requirement: its row, and findings when it is yanked or behind.
fn pin_row(
    scope: &Scope,
    p: &inputs::Package,
    range: Option<pep440_rs::VersionSpecifiers>,
    answers: &BTreeMap<String, http::Response>,
    out: &mut Outdated,
) {
    let mut notes: Vec<String> = p.markers.iter().map(|m| format!("markers: {m}")).collect();
    let release = release(
        &p.name,
        &p.version,
        range.as_ref(),
        answers,
        out,
        &mut notes,
    );
    let at = scope.cx.rel(&p.file);
    if release.yanked {
        let f = Finding::new(
            codes::YANKED_VERSION,
            Severity::Medium,
            format!("{} {} is yanked on PyPI", p.name, p.version),
        )
        .at_line(at.clone(), p.line);
        out.push(f);
    }
    if let Some(l) = &release.latest {
        compare(p, l, range.as_ref(), &at, out);
    }
    out.packages.push(Pkg {
        ecosystem: Ecosystem::PyPI,
        name: p.name.clone(),
        current: Some(p.version.clone()),
        compatible: release.compatible,
        latest: release.latest,
        kind: Kind::Pinned,
        direct: true,
        source: at,
        line: Some(p.line),
        notes,
    });
}

/// A requirement that pins nothing: its row (no current version, so never behind), with
/// PyPI's latest release and the highest its range allows when it is from PyPI.
fn loose_row(
    scope: &Scope,
    l: Loose,
    answers: &BTreeMap<String, http::Response>,
    out: &mut Outdated,
) {
    let mut notes = vec![l.note.clone()];
    let release = if l.on_pypi() {
        release(&l.name, "", l.range.as_ref(), answers, out, &mut notes)
    } else {
        Release::default()
    };
    out.packages.push(Pkg {
        ecosystem: Ecosystem::PyPI,
        name: l.name,
        current: None,
        compatible: release.compatible,
        latest: release.latest,
        kind: l.kind,
        direct: true,
        source: scope.cx.rel(&l.file),
        line: None,
        notes,
    });
}

/// A pin against the latest release: `outdated-major` when the latest is outside the range
/// the pip-compile input allows (no input: the pin is the range), `outdated-compatible` when
/// it is inside.
fn compare(
    p: &inputs::Package,
    latest: &str,
    range: Option<&pep440_rs::VersionSpecifiers>,
    at: &str,
    out: &mut Outdated,
) {
    let (Ok(l), Ok(c)) = (
        pep440_rs::Version::from_str(latest),
        pep440_rs::Version::from_str(&p.version),
    ) else {
        return;
    };
    if l <= c {
        return;
    }
    let update = match range {
        Some(r) if r.contains(&l) => Update::Compatible,
        _ => Update::Major,
    };
    out.count_behind(Ecosystem::PyPI, update);
    let f = match range {
        Some(r) if r.contains(&l) => Finding::new(
            codes::OUTDATED_COMPATIBLE,
            Severity::Info,
            format!(
                "{} {} → {latest}: `pip-compile --upgrade-package {}`",
                p.name, p.version, p.name
            ),
        ),
        Some(r) => Finding::new(
            codes::OUTDATED_MAJOR,
            Severity::Low,
            format!(
                "{} {} → {latest} is outside the input's range `{r}`",
                p.name, p.version
            ),
        ),
        None => Finding::new(
            codes::OUTDATED_MAJOR,
            Severity::Low,
            format!("{} {} → {latest}", p.name, p.version),
        ),
    };
    out.push(f.at_line(at, p.line));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pypi_documents() {
        let doc = br#"{"releases": {"1.0": [{"yanked": false}], "2.0": [{"yanked": true}], "1.5rc1": [{"yanked": false}], "1.4": []}}"#;
        let release = |latest: &str, compatible: Option<&str>, yanked| Release {
            latest: Some(latest.into()),
            compatible: compatible.map(str::to_string),
            yanked,
        };
        assert_eq!(
            pypi_latest(doc, "2.0", None),
            Some(release("1.0", None, true))
        );
        let range = pep440_rs::VersionSpecifiers::from_str("<1.2").unwrap();
        let doc = br#"{"releases": {"1.0": [{}], "1.1": [{}], "1.3": [{}]}}"#;
        assert_eq!(
            pypi_latest(doc, "1.0", Some(&range)),
            Some(release("1.3", Some("1.1"), false))
        );
        assert_eq!(pypi_latest(b"<html>", "1.0", None), None);
    }
}
