//! `audit`: offline vulnerability audit of Cargo.lock and Python requirements/lockfiles
//! against local advisory databases; `advisories update|status` manage those databases.
//!
//! Modules, each using only those before it: `model` (the data), `matching` (does an
//! advisory affect a version), `advisories` (reading sources), `index` (the pre-parsed
//! index of a source), `db` (the advisories of one audit), then `run` here.

pub mod advisories;
pub mod db;
pub mod index;
pub mod matching;
pub mod model;
pub mod sources;
pub mod zip;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;

use anyhow::{Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::config::{AuditConfig, InformationalKind};
use crate::context::Context;
use crate::deps::{self as inputs, Ecosystem, Inputs, Package, Wanted};
use crate::report::{Finding, Report, Severity, Table, codes};
use matching::Ver;

pub struct Options {
    pub paths: Vec<PathBuf>,
    pub db: Vec<PathBuf>,
    pub fail_on: Option<Severity>,
    pub deny: Vec<InformationalKind>,
    pub allow_stale: bool,
}

/// What an advisory says of a package: a vulnerability, or an informational kind (as the
/// database spells it: RustSec knows three, any other counts as a notice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind<'a> {
    Vulnerability,
    Informational(InformationalKind),
    Other(&'a str),
}

impl<'a> Kind<'a> {
    fn of(adv: &'a model::Advisory) -> Kind<'a> {
        match adv.informational.as_deref() {
            None => Kind::Vulnerability,
            Some("unmaintained") => Kind::Informational(InformationalKind::Unmaintained),
            Some("unsound") => Kind::Informational(InformationalKind::Unsound),
            Some("notice") => Kind::Informational(InformationalKind::Notice),
            Some(other) => Kind::Other(other),
        }
    }

    fn as_str(self) -> &'a str {
        match self {
            Kind::Vulnerability => "vulnerability",
            Kind::Informational(InformationalKind::Unmaintained) => "unmaintained",
            Kind::Informational(InformationalKind::Unsound) => "unsound",
            Kind::Informational(InformationalKind::Notice) => "notice",
            Kind::Other(s) => s,
        }
    }

    fn code(self) -> codes::Code {
        match self {
            Kind::Vulnerability => codes::VULNERABILITY,
            Kind::Informational(InformationalKind::Unmaintained) => codes::UNMAINTAINED,
            Kind::Informational(InformationalKind::Unsound) => codes::UNSOUND,
            Kind::Informational(InformationalKind::Notice) | Kind::Other(_) => codes::NOTICE,
        }
    }
}

/// One (package, version, advisory) hit, merged across input files.
struct Hit {
    pkg: Package,
    adv: usize,
    fixes: BTreeSet<String>,
    paths: BTreeSet<String>,
}

/// Hits by (ecosystem, package key, version, advisory id).
type Hits = BTreeMap<(Ecosystem, String, String, String), Hit>;

pub fn run(cx: &Context, opts: Options) -> Result<Report> {
    let (report, _, held) = audit(cx, opts)?;
    // The process ends right after the report: freeing tens of thousands of small
    // allocations (every package, advisory and index byte) one by one took 0.6 ms, a tenth
    // of a whole audit, for memory the exit returns anyway.
    std::mem::forget(held);
    Ok(report)
}

/// What an audit found, typed (for `metrics`): the vulnerabilities it shows (not ignored)
/// by ecosystem and severity, each database with its last update, and whether it is
/// incomplete (an input or an advisory that concerns it could not be read).
#[derive(Debug)]
pub struct Summary {
    pub vulnerabilities: BTreeMap<(Ecosystem, Severity), usize>,
    /// Each advisory database: its path and when it was last updated (if known).
    pub databases: Vec<(String, Option<DateTime<Utc>>)>,
    pub packages: usize,
    pub incomplete: bool,
}

/// The audit's typed result, for a caller that lives on after it (`metrics serve`): what
/// the audit read is freed here, not left to the end of the process.
pub fn summary(cx: &Context, opts: Options) -> Result<Summary> {
    let (_, summary, _held) = audit(cx, opts)?;
    Ok(summary)
}

/// What an audit read and matched: freed by its caller, or left to the end of the process.
type Held = (Inputs, db::Db, Hits);

fn audit(cx: &Context, opts: Options) -> Result<(Report, Summary, Held)> {
    let cfg = &cx.config.audit;
    let mut report = Report::new("audit");
    report.fail_on = opts.fail_on.unwrap_or(cfg.fail_on);
    let deny: HashSet<InformationalKind> = cfg.deny.iter().chain(&opts.deny).copied().collect();

    let files = discover(cx, &opts.paths)?;
    let (sources, from) = sources::paths(cx, &opts.db)?;
    let (inputs, mut adb) = read(&cx.root, &files, &sources)?;
    report_inputs(cx, &inputs, &mut report);
    report_malformed(&adb, &inputs, &mut report);
    let now = Utc::now();
    let db_rows = check_freshness(cfg, &adb, now, opts.allow_stale, &mut report)?;
    let hits = match_packages(cx, &inputs, &adb, &mut report);
    for hit in hits.values() {
        adb.complete(hit.adv)?;
    }
    let shown = report_hits(cx, cfg, &deny, &adb, &hits, now.date_naive(), &mut report);

    report.summary(
        "inputs",
        format!("{} files, {} packages", files.len(), inputs.packages.len()),
    );
    report.summary("sources", format!("{} (from {from})", sources.len()));
    report.summary(
        "result",
        format!(
            "{} vulnerabilities, {} warnings, {} ignored (failing at {})",
            shown.vulnerabilities,
            shown.warnings,
            shown.ignored.len(),
            report.fail_on.as_str()
        ),
    );
    report.tables.push(shown.table);
    report.set(
        "inputs",
        files.iter().map(|f| cx.rel(f)).collect::<Vec<_>>(),
    );
    report.set("packages", inputs.packages.len());
    report.set("databases", db_rows);
    report.set("ignored", shown.ignored);
    report.set("fail_on", report.fail_on.as_str());
    let summary = Summary {
        vulnerabilities: shown.by_severity,
        databases: adb
            .sources
            .iter()
            .map(|s| (s.path.clone(), s.updated))
            .collect(),
        packages: inputs.packages.len(),
        incomplete: report.incomplete,
    };
    Ok((report, summary, (inputs, adb, hits)))
}

/// The input files under the paths given (the root by default).
fn discover(cx: &Context, paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let paths = if paths.is_empty() {
        vec![cx.root.clone()]
    } else {
        paths.iter().map(|p| cx.cli_path(p)).collect()
    };
    let skip = vec![cx.store().dir];
    inputs::discover(&paths, &skip)
}

/// Parse the inputs and look up the advisories of their packages, on two cores: this one
/// finds the Cargo.lock registry packages by a quick search, hands them over, then parses
/// the inputs in full; the other reads the advisory indexes meanwhile and looks those
/// packages up. Packages the quick search did not find (Python inputs, unusual layouts)
/// are looked up after.
fn read(
    root: &std::path::Path,
    files: &[PathBuf],
    sources: &[PathBuf],
) -> Result<(Inputs, db::Db)> {
    let index_dir = crate::context::advisory_cache().join("index");
    let (inputs, looked_up) = std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel::<Wanted>();
        let index_dir = &index_dir;
        let h = s.spawn(move || -> Result<(db::Db, Wanted)> {
            let opened: Vec<_> = sources
                .iter()
                .map(|p| index::Opened::open(p, index_dir))
                .collect();
            let early = rx.recv().unwrap_or_default();
            let mut adb = db::Db::default();
            for (s, ix) in sources.iter().zip(opened) {
                adb.load_source(s, &early, ix)?;
            }
            Ok((adb, early))
        });
        let (early, texts) = inputs::prescan_cargo_names(files);
        let _ = tx.send(early);
        let inputs = inputs::load_read(root, files, texts);
        (inputs, h.join().expect("advisory reader panicked"))
    });
    let (mut adb, early) = looked_up?;
    let mut rest = Wanted::default();
    for p in &inputs.packages {
        let key = p.ecosystem.key_of(&p.name);
        if !early.contains(p.ecosystem, &key) {
            rest.insert(p.ecosystem, key.into_owned());
        }
    }
    if !rest.is_empty() {
        adb.extend(&rest)?;
    }
    Ok((inputs, adb))
}

/// Inputs that could not be read (the audit is incomplete), notes, unpinned requirements.
fn report_inputs(cx: &Context, inputs: &Inputs, report: &mut Report) {
    for (f, err) in &inputs.failed {
        report.incomplete = true;
        report.push(
            Finding::new(
                codes::INPUT_ERROR,
                Severity::High,
                format!("not audited: {err}"),
            )
            .at(cx.rel(f)),
        );
    }
    for (f, line, note) in &inputs.notes {
        let finding =
            Finding::new(codes::INPUT_NOTE, Severity::Info, note.clone()).at_line(cx.rel(f), *line);
        report.push(finding);
    }
    for u in &inputs.unpinned {
        let f = Finding::new(
            codes::UNPINNED_REQUIREMENT,
            Severity::Medium,
            format!("`{}` pins no exact version (==): it cannot be audited; pin it or compile a lockfile", u.requirement),
        )
        .at_line(cx.rel(&u.file), u.line);
        report.push(f);
    }
}

/// Advisories that could not be read. One that may concern an audited package (it names
/// one, sits in its folder, or names nothing readable) could say that package is
/// vulnerable: the audit is incomplete. One for other packages only is a warning.
fn report_malformed(adb: &db::Db, inputs: &Inputs, report: &mut Report) {
    if adb.malformed().next().is_none() {
        return;
    }
    let mut audited = Wanted::default();
    for p in &inputs.packages {
        audited.insert(p.ecosystem, p.ecosystem.key(&p.name));
    }
    for m in adb.malformed() {
        let concerned: Vec<&str> = m
            .packages
            .iter()
            .filter(|p| audited.contains(p.ecosystem, &p.key))
            .map(|p| p.key.as_str())
            .collect();
        let whom = match concerned.as_slice() {
            [] if m.packages.is_empty() && !inputs.packages.is_empty() => Some(
                "it names no package that could be read, so it may concern any audited one"
                    .to_string(),
            ),
            [] => None,
            names => Some(format!("it concerns {}, audited here", names.join(", "))),
        };
        let finding = match whom {
            Some(whom) => {
                report.incomplete = true;
                Finding::new(
                    codes::ADVISORY_MALFORMED,
                    Severity::High,
                    format!(
                        "advisory not read: {}; {whom}: the audit is incomplete until the file is fixed or removed",
                        m.message
                    ),
                )
            }
            None => Finding::new(
                codes::ADVISORY_MALFORMED,
                Severity::Low,
                format!("advisory skipped: {}", m.message),
            ),
        };
        report.push(finding.at(m.file.display().to_string()));
    }
}

/// Staleness: always stated, warned, refused past the maximum. Returns the report's
/// `databases` rows.
fn check_freshness(
    cfg: &AuditConfig,
    adb: &db::Db,
    now: DateTime<Utc>,
    allow_stale: bool,
    report: &mut Report,
) -> Result<Vec<Value>> {
    let mut db_rows = Vec::new();
    for s in &adb.sources {
        let age = s.updated.map(|u| (now - u).num_days());
        match age {
            Some(days) if days > i64::from(cfg.max_age_days) && !allow_stale => bail!(
                "advisory database {} is {days} days old (limit {}): run `cargo xtask advisories update`, or pass --allow-stale",
                s.path,
                cfg.max_age_days
            ),
            Some(days) if days > i64::from(cfg.stale_after_days) => report.push(
                Finding::new(
                    codes::ADVISORY_DB_STALE,
                    Severity::Low,
                    format!("advisory database is {days} days old (from {}): run `cargo xtask advisories update`", s.updated_from),
                )
                .at(s.path.clone()),
            ),
            None => report.push(
                Finding::new(codes::ADVISORY_DB_STALE, Severity::Low, "the database's age is unknown: no advisory carries a date")
                    .at(s.path.clone()),
            ),
            _ => {}
        }
        db_rows.push(json!({
            "path": s.path, "kind": s.kind, "advisories_matched": s.advisories,
            "advisories_total": s.total, "index": s.index.to_string(),
            "updated": s.updated.map(|u| u.to_rfc3339()), "updated_from": s.updated_from,
            "age_days": age,
        }));
        report.summary(
            "database",
            format!(
                "{} ({}, {} days old by {})",
                s.path,
                s.kind,
                age.map_or("?".into(), |d| d.to_string()),
                s.updated_from
            ),
        );
    }
    Ok(db_rows)
}

/// Every package against the advisories loaded for it; a version that cannot be compared
/// is a finding.
fn match_packages(cx: &Context, inputs: &Inputs, adb: &db::Db, report: &mut Report) -> Hits {
    let mut hits = Hits::new();
    for p in &inputs.packages {
        let key = p.ecosystem.key_of(&p.name);
        let list = adb.advisories_of(p.ecosystem, &key);
        if list.is_empty() {
            continue;
        }
        let Some(ver) = Ver::parse(p.ecosystem, &p.version) else {
            let f = Finding::new(
                codes::UNPARSABLE_VERSION,
                Severity::Low,
                format!(
                    "{} {}: version cannot be compared, advisories not checked",
                    p.name, p.version
                ),
            )
            .at_line(cx.rel(&p.file), p.line);
            report.push(f);
            continue;
        };
        for &i in list {
            let adv = &adb.advisories[i];
            if adv.withdrawn {
                continue;
            }
            let mut fixes: Option<Vec<String>> = None;
            for a in adv
                .affected
                .iter()
                .filter(|a| a.ecosystem == p.ecosystem && a.key == key)
            {
                if let Some(f) = matching::affected(a, &ver, &p.version) {
                    fixes.get_or_insert_with(Vec::new).extend(f);
                }
            }
            let Some(fixes) = fixes else { continue };
            let hk = (
                p.ecosystem,
                key.to_string(),
                p.version.clone(),
                adv.id.clone(),
            );
            let hit = hits.entry(hk).or_insert_with(|| Hit {
                pkg: p.clone(),
                adv: i,
                fixes: BTreeSet::new(),
                paths: BTreeSet::new(),
            });
            hit.fixes.extend(fixes);
            hit.paths.extend(p.paths.iter().cloned());
        }
    }
    hits
}

/// What [`report_hits`] showed.
struct Shown {
    table: Table,
    vulnerabilities: usize,
    /// The vulnerabilities shown, by ecosystem and severity.
    by_severity: BTreeMap<(Ecosystem, Severity), usize>,
    warnings: usize,
    ignored: Vec<Value>,
}

/// Each hit as a finding and a table row, unless ignored (by id or alias, until its
/// expiry); ignores that matched nothing are findings too.
fn report_hits(
    cx: &Context,
    cfg: &AuditConfig,
    deny: &HashSet<InformationalKind>,
    adb: &db::Db,
    hits: &Hits,
    today: NaiveDate,
    report: &mut Report,
) -> Shown {
    let mut used = vec![false; cfg.ignore.len()];
    let mut shown = Shown {
        table: Table::new(
            "Advisories",
            &[
                "package",
                "version",
                "advisory",
                "kind",
                "severity",
                "fix",
                "pulled in by",
            ],
        ),
        vulnerabilities: 0,
        by_severity: BTreeMap::new(),
        warnings: 0,
        ignored: Vec::new(),
    };
    for hit in hits.values() {
        let adv = &adb.advisories[hit.adv];
        let names: Vec<&str> = std::iter::once(adv.id.as_str())
            .chain(adv.aliases.iter().map(String::as_str))
            .collect();
        if let Some((n, ig)) = cfg
            .ignore
            .iter()
            .enumerate()
            .find(|(_, ig)| names.contains(&ig.id.as_str()))
        {
            used[n] = true;
            match ig.until {
                Some(until) if until < today => report.push(Finding::new(
                    codes::IGNORE_EXPIRED,
                    Severity::Low,
                    format!("the ignore of {} expired on {until} (reason was: {}); it is reported again", ig.id, ig.reason),
                )),
                _ => {
                    shown.ignored.push(json!({"id": adv.id, "package": hit.pkg.name, "version": hit.pkg.version, "reason": ig.reason}));
                    continue;
                }
            }
        }
        let kind = Kind::of(adv);
        let severity = match kind {
            Kind::Vulnerability => {
                shown.vulnerabilities += 1;
                let severity = severity_of(adv);
                *shown
                    .by_severity
                    .entry((hit.pkg.ecosystem, severity))
                    .or_default() += 1;
                severity
            }
            Kind::Informational(k) if deny.contains(&k) => {
                shown.warnings += 1;
                report.fail_on
            }
            _ => {
                shown.warnings += 1;
                Severity::Info
            }
        };
        let (finding, row) = hit_finding(cx, hit, adv, kind, severity);
        shown.table.row(row);
        report.push(finding);
    }
    for (n, ig) in cfg.ignore.iter().enumerate() {
        if !used[n] {
            report.push(Finding::new(
                codes::IGNORE_UNUSED,
                Severity::Low,
                format!(
                    "the ignore of {} matched nothing: remove it from maintenance.toml",
                    ig.id
                ),
            ));
        }
    }
    shown
}

/// A vulnerability's severity: from its CVSS score, else the database's label, else high.
fn severity_of(adv: &model::Advisory) -> Severity {
    adv.cvss_score
        .map(matching::severity_of_score)
        .or_else(|| {
            adv.severity_label
                .as_deref()
                .and_then(matching::severity_of_label)
        })
        .unwrap_or(Severity::High)
}

/// How to get rid of a hit.
fn fix_of(hit: &Hit) -> String {
    if hit.fixes.is_empty() {
        "no fixed version".to_string()
    } else if hit
        .fixes
        .iter()
        .all(|f| Ver::parse(hit.pkg.ecosystem, f).is_some())
    {
        format!("upgrade to >= {}", hit.fixes.iter().next().unwrap())
    } else {
        format!(
            "upgrade to {}",
            hit.fixes.iter().cloned().collect::<Vec<_>>().join(" or ")
        )
    }
}

/// Does the advisory say how severe it is (a CVSS score, or a label we understand)?
fn scored(adv: &model::Advisory) -> bool {
    adv.cvss_score.is_some()
        || adv
            .severity_label
            .as_deref()
            .and_then(matching::severity_of_label)
            .is_some()
}

/// The id as shown: with its CVE alias beside it, when it has one and is not one.
fn shown_id(adv: &model::Advisory) -> String {
    match adv.aliases.iter().find(|a| a.starts_with("CVE-")) {
        Some(cve) if !adv.id.starts_with("CVE-") => format!("{} ({cve})", adv.id),
        _ => adv.id.clone(),
    }
}

/// Longest summary a finding line shows.
const SUMMARY_CHARS: usize = 120;

/// Summaries read from `details` are stored cut at this many characters (see
/// `advisories::osv`): one that long may end mid-word.
const STORED_SUMMARY_CHARS: usize = 160;

/// What a finding line says of an advisory: its first sentence, without the description of
/// the package many PyPI advisories start with ("aiohttp is an asynchronous HTTP
/// client/server framework…"), cut at a word with `…` when it is long or was cut.
fn short_summary(package: &str, summary: &str) -> String {
    let text = summary.split_whitespace().collect::<Vec<_>>().join(" ");
    let possibly_cut = summary.chars().count() >= STORED_SUMMARY_CHARS;
    let mut sentences = sentences(&text);
    let describes_package = |s: &str| {
        let lower = s.to_lowercase();
        let pkg = package.to_lowercase();
        lower.starts_with(&format!("{pkg} is ")) || lower.starts_with(&format!("{pkg} (the "))
    };
    if sentences.len() > 1 && describes_package(sentences[0].0) {
        sentences.remove(0);
    }
    let Some(&(first, complete)) = sentences.first() else {
        return String::new();
    };
    let cut = !complete && possibly_cut;
    if first.chars().count() <= SUMMARY_CHARS && !cut {
        return first.to_string();
    }
    let limit = first
        .char_indices()
        .nth(SUMMARY_CHARS)
        .map_or(first.len(), |(i, _)| i);
    // The last whole word within the limit (the stored text may end in half a word).
    let head = match first[..limit].rfind(' ') {
        Some(i) if limit < first.len() || cut => &first[..i],
        _ => &first[..limit],
    };
    format!("{}…", head.trim_end_matches([',', ';', ':', ' ', '.']))
}

/// The sentences of `text`, each with whether it ends (a sentence ends at `.`, `!` or `?`
/// followed by a space and a capital letter, or at the end of the text).
fn sentences(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        let ends = matches!(b, b'.' | b'!' | b'?')
            && bytes.get(i + 1) == Some(&b' ')
            && bytes.get(i + 2).is_some_and(u8::is_ascii_uppercase);
        if ends {
            out.push((text[start..=i].trim(), true));
            start = i + 2;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push((rest, rest.ends_with(['.', '!', '?'])));
    }
    out
}

/// One hit's finding and table row.
fn hit_finding(
    cx: &Context,
    hit: &Hit,
    adv: &model::Advisory,
    kind: Kind<'_>,
    severity: Severity,
) -> (Finding, Vec<String>) {
    let fix = fix_of(hit);
    let id = shown_id(adv);
    let unscored = kind == Kind::Vulnerability && !scored(adv);
    let unknown = if unscored {
        "; severity unknown: counted as high"
    } else {
        ""
    };
    let summary = short_summary(&hit.pkg.name, &adv.summary);
    let mut f = Finding::new(
        kind.code(),
        severity,
        format!(
            "{} {}: {id}: {summary} ({fix}{unknown})",
            hit.pkg.name, hit.pkg.version
        ),
    )
    .at_line(cx.rel(&hit.pkg.file), hit.pkg.line);
    let paths: Vec<String> = hit.paths.iter().cloned().collect();
    let extra = json!({
        "kind": kind.as_str(),
        "ecosystem": hit.pkg.ecosystem.as_str(),
        "package": hit.pkg.name,
        "version": hit.pkg.version,
        "id": adv.id,
        "aliases": adv.aliases,
        "summary": adv.summary,
        "cvss": adv.cvss,
        "cvss_score": adv.cvss_score,
        "fixed": hit.fixes.iter().collect::<Vec<_>>(),
        "source": adv.source,
        "paths": paths,
        "markers": hit.pkg.markers,
    });
    if let Value::Object(m) = extra {
        f.extra = m;
    }
    f.rule = Some(crate::report::SarifRule {
        id: adv.id.clone(),
        description: adv.summary.clone(),
    });
    let shown_severity = if unscored {
        format!("{} (unknown)", severity.as_str())
    } else {
        severity.as_str().to_string()
    };
    let row = vec![
        hit.pkg.name.clone(),
        hit.pkg.version.clone(),
        id,
        kind.as_str().to_string(),
        shown_severity,
        fix,
        paths.join(", "),
    ];
    (f, row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_show_the_point_cut_at_a_word() {
        // A PyPI advisory's details, cut at 160 characters when parsed.
        let stored = "aiohttp is an asynchronous HTTP client/server framework for asyncio and Python. The HTTP parser in AIOHTTP has numerous problems with header parsing, which coul";
        assert_eq!(stored.chars().count(), STORED_SUMMARY_CHARS);
        assert_eq!(
            short_summary("aiohttp", stored),
            "The HTTP parser in AIOHTTP has numerous problems with header parsing, which…"
        );
        // A whole first sentence is shown as it is, the next ones are not.
        assert_eq!(
            short_summary(
                "aiohttp",
                "In aiohttp before version 3.7.4 there is an open redirect vulnerability. A maliciously crafted link"
            ),
            "In aiohttp before version 3.7.4 there is an open redirect vulnerability."
        );
        // An OSV summary: unchanged; the package's description alone is kept.
        assert_eq!(
            short_summary(
                "rsa",
                "Marvin Attack: potential key recovery through timing sidechannels"
            ),
            "Marvin Attack: potential key recovery through timing sidechannels"
        );
        assert_eq!(short_summary("x", "x is a library."), "x is a library.");
        // Too long: the last whole word within the limit, no trailing comma.
        let long = format!("{} end, and more", "word ".repeat(30));
        let shown = short_summary("p", &long);
        assert!(
            shown.ends_with("word…") && shown.chars().count() <= SUMMARY_CHARS + 1,
            "{shown}"
        );
        // "e.g. lowercase" and versions do not end a sentence.
        assert_eq!(
            sentences("Use e.g. requests 2.3.1. Then stop"),
            [("Use e.g. requests 2.3.1.", true), ("Then stop", false)]
        );
        assert_eq!(short_summary("p", ""), "");
    }
}
