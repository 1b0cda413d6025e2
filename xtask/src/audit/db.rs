//! Advisory databases: OSV JSON and YAML directories, OSV `all.zip` exports and the RustSec
//! native layout, loaded into one index keyed by (ecosystem, package). Only advisories for
//! packages being audited are parsed where the layout allows (`crates/<name>/`,
//! `vulns/<name>/`). A malformed advisory is a warning naming its file, never a failed load.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::index::{Sig, Stamp};
pub use crate::deps::Wanted;
use crate::deps::{Ecosystem, pep503};
use crate::util::files;
use rustc_hash::FxHashMap as FxMap;

/// One advisory as matched: everything the report needs (and what the index stores).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub summary: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withdrawn: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub informational: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss: Option<String>,
    /// The vector's base score, computed once when the source is parsed (v4 scoring is
    /// costly) and kept in the index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_score: Option<f64>,
    /// A textual severity given by the database (GHSA's `database_specific.severity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_label: Option<String>,
    pub affected: Vec<Affected>,
    /// Used while parsing a source (its newest date); not kept in the index.
    #[serde(skip)]
    pub modified: Option<DateTime<Utc>>,
    /// Set from the source being read; not kept in the index.
    #[serde(skip)]
    pub source: String,
}

impl Advisory {
    /// An advisory with only what matching needs; the rest is filled in for the ones that
    /// match (see [`Db::complete`]).
    pub fn for_matching(
        id: String,
        withdrawn: bool,
        affected: Vec<Affected>,
        source: String,
    ) -> Self {
        Advisory {
            id,
            aliases: Vec::new(),
            summary: String::new(),
            withdrawn,
            informational: None,
            cvss: None,
            cvss_score: None,
            severity_label: None,
            affected,
            modified: None,
            source,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Affected {
    pub ecosystem: Ecosystem,
    pub key: String,
    pub rule: Rule,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Rule {
    /// OSV: explicit versions and ranges of events.
    Osv {
        versions: Vec<String>,
        ranges: Vec<Range>,
    },
    /// RustSec native: vulnerable unless `patched` or `unaffected` matches.
    RustSec {
        patched: Vec<String>,
        unaffected: Vec<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
}

/// Where advisories came from, and how fresh they are.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceInfo {
    pub path: String,
    pub kind: String,
    /// Advisories loaded for the audited packages.
    pub advisories: usize,
    /// Advisories in the whole source, where it was indexed.
    pub total: Option<usize>,
    /// Best knowledge of when the data was last updated (fetch or commit time, else the
    /// newest `modified` among advisories read).
    pub updated: Option<DateTime<Utc>>,
    pub updated_from: String,
    /// What happened to the source's pre-parsed index: reused, built, rebuilt, not saved.
    pub index: String,
}

#[derive(Default)]
pub struct Db {
    /// Advisory numbers by package name as compared, one map per ecosystem.
    index: [FxMap<String, Vec<usize>>; 2],
    /// Per advisory, read from an index with only what matching needs: (which index in
    /// `indexes`, which advisory in it), until [`Db::complete`] reads the rest.
    partial: Vec<Option<(usize, usize)>>,
    indexes: Vec<(super::index::Index, PathBuf)>,
    /// Per source (as in `sources`): its path, and its index in `indexes` if it has one.
    loaded: Vec<(PathBuf, Option<usize>)>,
    pub advisories: Vec<Advisory>,
    pub sources: Vec<SourceInfo>,
    /// (file, message) of advisories that could not be read.
    pub malformed: Vec<(PathBuf, String)>,
}

// --- OSV as serde sees it (unknown fields tolerated) -------------------------------------

#[derive(Deserialize)]
struct OsvDoc {
    id: String,
    #[serde(default)]
    modified: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
    #[serde(default)]
    affected: Vec<OsvAffected>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct OsvAffected {
    package: Option<OsvPackage>,
    #[serde(default)]
    ranges: Vec<Range>,
    #[serde(default)]
    versions: Vec<serde_json::Value>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
}

#[derive(Deserialize)]
struct OsvPackage {
    ecosystem: String,
    name: String,
}

fn ecosystem(name: &str) -> Option<Ecosystem> {
    match name {
        "crates.io" => Some(Ecosystem::Crates),
        "PyPI" => Some(Ecosystem::PyPI),
        _ => None,
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap().and_utc())
        })
}

impl Db {
    /// Index one advisory under the affected packages that are wanted (all when `wanted` is
    /// None); an advisory affecting none of them is dropped.
    fn add(&mut self, adv: Advisory, wanted: Option<&Wanted>) -> bool {
        let mut keys: Vec<(Ecosystem, String)> = adv
            .affected
            .iter()
            .filter(|a| wanted.is_none_or(|w| w.contains(a.ecosystem, &a.key)))
            .map(|a| (a.ecosystem, a.key.clone()))
            .collect();
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            return false;
        }
        let i = self.advisories.len();
        self.advisories.push(adv);
        self.partial.push(None);
        for (eco, key) in keys {
            self.index[eco as usize].entry(key).or_default().push(i);
        }
        true
    }

    /// Make sure advisory `i` is read in full (the report needs all of it).
    pub fn complete(&mut self, i: usize) -> Result<()> {
        if let Some((k, n)) = self.partial.get_mut(i).and_then(Option::take) {
            self.indexes[k].0.complete(n, &mut self.advisories[i])?;
        }
        Ok(())
    }

    /// Advisories loaded for one package.
    pub fn advisories_of(&self, eco: Ecosystem, key: &str) -> &[usize] {
        self.index[eco as usize].get(key).map_or(&[], Vec::as_slice)
    }

    /// Load the advisories of one source (a directory of any supported layout, or an OSV
    /// zip export) that affect `wanted` packages.
    ///
    /// The source is answered from its pre-parsed index (opened beforehand, see
    /// [`super::index`]) when the index is still valid for these packages; otherwise the
    /// whole source is parsed once and the index (re)written.
    pub fn load_source(
        &mut self,
        path: &Path,
        wanted: &Wanted,
        index: super::index::Opened,
    ) -> Result<()> {
        if !path.is_file() && !path.is_dir() {
            bail!(
                "no advisory database at {}: run `cargo xtask advisories update` or pass --db PATH",
                path.display()
            );
        }
        let before = self.advisories.len();
        let super::index::Opened {
            fingerprint,
            file,
            index,
        } = index;
        let (ix, found, state) = match index.and_then(|ix| Ok((ix.lookup(path, wanted)?, ix))) {
            Ok((Some(found), ix)) => (ix, found, "reused".to_string()),
            stale => {
                let why = match stale {
                    Ok(_) => "rebuilt: the source changed".to_string(),
                    Err(e) => format!("built: {e:#}"),
                };
                let parsed = parse_source(path, None, true)?;
                let (updated, updated_from) = match freshness(path) {
                    Some((t, how)) => (Some(t), how),
                    None => (parsed.newest, "newest advisory".to_string()),
                };
                let built =
                    super::index::build(path, &fingerprint, &parsed, updated, &updated_from)
                        .and_then(|bytes| {
                            let saved = fs::create_dir_all(file.parent().unwrap_or(path))
                                .map_err(anyhow::Error::from)
                                .and_then(|()| files::write_atomic(&file, &bytes, 0o644));
                            let ix = super::index::Index::parse(bytes, &fingerprint)?;
                            let found = ix.lookup(path, wanted)?.context("index just built")?;
                            Ok((ix, found, saved))
                        });
                match built {
                    Ok((ix, found, saved)) => {
                        let state = match saved {
                            Ok(()) => why,
                            Err(e) => {
                                format!("not saved ({e:#}): the next run parses the source again")
                            }
                        };
                        (ix, found, state)
                    }
                    Err(e) => {
                        // No index for this source: answer from the parse itself.
                        let age = (updated, updated_from);
                        self.take_parsed(path, parsed, wanted, age, format!("not built: {e:#}"));
                        return Ok(());
                    }
                }
            }
        };
        let k = self.indexes.len();
        for (n, a) in found {
            if self.add(a, Some(wanted)) {
                *self.partial.last_mut().expect("just added") = Some((k, n));
            }
        }
        self.malformed.extend(ix.malformed(path));
        self.sources.push(SourceInfo {
            path: path.display().to_string(),
            kind: ix.kind().to_string(),
            advisories: self.advisories.len() - before,
            total: Some(ix.total()),
            updated: ix.updated(),
            updated_from: ix.updated_from().to_string(),
            index: state,
        });
        self.loaded
            .push((path.to_path_buf(), Some(self.indexes.len())));
        self.indexes.push((ix, path.to_path_buf()));
        Ok(())
    }

    /// Answer for a source from its parse (no index): its wanted advisories, its malformed
    /// files, its description.
    fn take_parsed(
        &mut self,
        path: &Path,
        parsed: Parsed,
        wanted: &Wanted,
        (updated, updated_from): (Option<DateTime<Utc>>, String),
        index: String,
    ) {
        let before = self.advisories.len();
        for (a, _) in parsed.advisories {
            self.add(a, Some(wanted));
        }
        self.malformed.extend(parsed.malformed);
        self.sources.push(SourceInfo {
            path: path.display().to_string(),
            kind: parsed.kind,
            advisories: self.advisories.len() - before,
            total: None,
            updated,
            updated_from,
            index,
        });
        self.loaded.push((path.to_path_buf(), None));
    }

    /// Load the advisories of more packages from the sources already loaded (when the
    /// packages to audit turn out to be more than those first asked for).
    pub fn extend(&mut self, more: &Wanted) -> Result<()> {
        for s in 0..self.loaded.len() {
            let before = self.advisories.len();
            let (path, ix) = self.loaded[s].clone();
            match ix {
                Some(k) => {
                    let found = self.indexes[k].0.lookup(&path, more)?.with_context(|| {
                        format!(
                            "advisory source {} changed during the audit: run it again",
                            path.display()
                        )
                    })?;
                    for (n, a) in found {
                        if self.add(a, Some(more)) {
                            *self.partial.last_mut().expect("just added") = Some((k, n));
                        }
                    }
                }
                None => {
                    let parsed = parse_source(&path, Some(more), false)?;
                    for (a, _) in parsed.advisories {
                        self.add(a, Some(more));
                    }
                }
            }
            self.sources[s].advisories += self.advisories.len() - before;
        }
        Ok(())
    }
}

/// Everything one pass over a source found.
pub struct Parsed {
    pub kind: String,
    /// Each advisory with the index in `stamps` of the file it came from.
    pub advisories: Vec<(Advisory, Option<usize>)>,
    pub malformed: Vec<(PathBuf, String)>,
    pub newest: Option<DateTime<Utc>>,
    pub stamps: Vec<Stamp>,
}

/// Parse a source: every advisory file (`wanted` None), or only the per-package folders of
/// wanted packages. With `stamps`, every folder and advisory file visited is stamped first
/// (before it is read, so a file changed meanwhile shows up as a changed stamp).
pub fn parse_source(path: &Path, wanted: Option<&Wanted>, stamps: bool) -> Result<Parsed> {
    let mut walk = Walk {
        root: path,
        wanted,
        files: Vec::new(),
        zips: Vec::new(),
        errors: Vec::new(),
        stamps: stamps.then(Vec::new),
    };
    let mut advisories = Vec::new();
    let mut malformed = Vec::new();
    let mut kinds = BTreeSet::new();
    if path.is_file() {
        if !path.to_string_lossy().ends_with(".zip") {
            bail!(
                "advisory source {} is a file but not a .zip OSV export",
                path.display()
            );
        }
        walk.stamp(path, Vec::new());
        walk.zips.push((path.to_path_buf(), walk.last_stamp()));
    } else {
        walk.stamp(path, Vec::new());
        walk.dir(path, &[]);
    }
    for (_, k, _) in &walk.files {
        kinds.insert(*k);
    }
    if !walk.zips.is_empty() {
        kinds.insert("osv-zip");
    }
    // Threads pay off only for many files (a whole database); a lockfile's few dozen
    // advisories parse faster than a thread starts.
    let files = &walk.files;
    let threads = if files.len() < 128 {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8)
    };
    let chunk = files.len().div_ceil(threads).max(1);
    let parsed: Vec<Result<Vec<Advisory>>> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|(p, k, _)| parse_file(p, k, path))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("parser thread panicked"))
            .collect()
    });
    for ((p, _, stamp), result) in walk.files.iter().zip(parsed) {
        match result {
            Ok(list) => advisories.extend(list.into_iter().map(|a| (a, *stamp))),
            Err(err) => malformed.push((p.clone(), format!("{err:#}"))),
        }
    }
    for (z, stamp) in &walk.zips {
        match load_zip(z) {
            Ok((list, bad)) => {
                advisories.extend(list.into_iter().map(|a| (a, *stamp)));
                malformed.extend(bad);
            }
            Err(err) => malformed.push((z.clone(), format!("{err:#}"))),
        }
    }
    malformed.extend(walk.errors);
    let newest = advisories.iter().filter_map(|(a, _)| a.modified).max();
    let kind = if kinds.is_empty() {
        "empty".to_string()
    } else {
        kinds.into_iter().collect::<Vec<_>>().join("+")
    };
    let mut stamps = walk.stamps.unwrap_or_default();
    // A file is also checked whenever a package its advisories affect is audited.
    for (a, stamp) in &advisories {
        if let Some(s) = stamp.and_then(|i| stamps.get_mut(i)) {
            if s.scopes.is_empty() {
                continue; // global already: checked on every run
            }
            for af in &a.affected {
                let scope = scope_of(af.ecosystem, &af.key);
                if !s.scopes.contains(&scope) {
                    s.scopes.push(scope);
                }
            }
        }
    }
    Ok(Parsed {
        kind,
        advisories,
        malformed,
        newest,
        stamps,
    })
}

/// The index's name for a package: `c:<crate>` or `p:<PEP 503 name>`.
pub fn scope_of(eco: Ecosystem, key: &str) -> String {
    match eco {
        Ecosystem::Crates => format!("c:{key}"),
        Ecosystem::PyPI => format!("p:{key}"),
    }
}

/// A directory walk collecting advisory files. Per-package folders (`crates/<name>`,
/// `vulns/<name>`) of packages not wanted are never opened: deciding from the directory
/// entry alone keeps a lockfile of 500 crates from opening the 900 folders of the RustSec
/// database.
struct Walk<'a> {
    root: &'a Path,
    wanted: Option<&'a Wanted>,
    files: Vec<(PathBuf, &'static str, Option<usize>)>,
    zips: Vec<(PathBuf, Option<usize>)>,
    errors: Vec<(PathBuf, String)>,
    stamps: Option<Vec<Stamp>>,
}

impl Walk<'_> {
    fn stamp(&mut self, p: &Path, scopes: Vec<String>) {
        let Some(stamps) = &mut self.stamps else {
            return;
        };
        let rel = p
            .strip_prefix(self.root)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned();
        match fs::metadata(p) {
            Ok(m) => stamps.push(Stamp {
                rel,
                scopes,
                sig: Sig::of(&m),
            }),
            Err(e) => self.errors.push((p.to_path_buf(), e.to_string())),
        }
    }

    fn last_stamp(&self) -> Option<usize> {
        self.stamps.as_ref().and_then(|s| s.len().checked_sub(1))
    }

    /// Visit `dir` (already stamped); `scopes` is its package scope, empty outside one.
    fn dir(&mut self, dir: &Path, scopes: &[String]) {
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => {
                self.errors.push((dir.to_path_buf(), e.to_string()));
                return;
            }
        };
        let parent = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for de in rd.flatten() {
            let name = de.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let Ok(mut ft) = de.file_type() else { continue };
            if ft.is_symlink() {
                match fs::metadata(de.path()) {
                    Ok(m) => ft = m.file_type(),
                    Err(_) => continue,
                }
            }
            if ft.is_dir() {
                let package = match parent.as_str() {
                    "crates" => Some((Ecosystem::Crates, name.clone())),
                    "vulns" => Some((Ecosystem::PyPI, pep503(&name))),
                    _ => None,
                };
                if let (Some((eco, key)), Some(w)) = (&package, self.wanted)
                    && !w.contains(*eco, key)
                {
                    continue;
                }
                let scopes = match &package {
                    Some((eco, key)) if scopes.is_empty() => vec![scope_of(*eco, key)],
                    _ => scopes.to_vec(),
                };
                let path = de.path();
                self.stamp(&path, scopes.clone());
                self.dir(&path, &scopes);
                continue;
            }
            let kind = match Path::new(&name)
                .extension()
                .and_then(|x| x.to_str())
                .unwrap_or_default()
            {
                "zip" => "osv-zip",
                "json" => "osv-json",
                "yaml" | "yml" => "osv-yaml",
                "md" if name.starts_with("RUSTSEC-") => "rustsec",
                _ => continue,
            };
            let path = de.path();
            // A zip holds any package: it is checked on every run.
            let file_scopes = if kind == "osv-zip" {
                Vec::new()
            } else {
                scopes.to_vec()
            };
            self.stamp(&path, file_scopes);
            let stamp = self.last_stamp();
            if kind == "osv-zip" {
                self.zips.push((path, stamp));
            } else {
                self.files.push((path, kind, stamp));
            }
        }
    }
}

/// Parse one advisory file.
fn parse_file(p: &Path, kind: &str, source: &Path) -> Result<Vec<Advisory>> {
    match kind {
        "osv-json" => Ok(vec![osv_from_json(&fs::read(p)?, source)?]),
        "osv-yaml" => Ok(vec![osv_from_yaml(&fs::read_to_string(p)?, source)?]),
        _ => Ok(vec![rustsec_from_md(&fs::read_to_string(p)?, source)?]),
    }
}

/// Every `.json` member of an OSV zip export, and the members that could not be read.
#[allow(clippy::type_complexity)]
fn load_zip(path: &Path) -> Result<(Vec<Advisory>, Vec<(PathBuf, String)>)> {
    let mut list = Vec::new();
    let mut bad = Vec::new();
    for (name, bytes) in super::zip::entries(path)? {
        if !name.ends_with(".json") {
            continue;
        }
        match osv_from_json(&bytes, path) {
            Ok(a) => list.push(a),
            Err(e) => bad.push((
                PathBuf::from(format!("{}!{name}", path.display())),
                format!("{e:#}"),
            )),
        }
    }
    Ok((list, bad))
}

/// Fetch metadata written by `advisories update`, or the git commit time of a checkout.
fn freshness(path: &Path) -> Option<(DateTime<Utc>, String)> {
    let meta = path.join(super::FETCH_META);
    let updated = fs::read_to_string(&meta)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v["updated"].as_str().and_then(parse_time));
    if let Some(t) = updated {
        return Some((t, "last update".into()));
    }
    if path.join(".git").exists() {
        let sh = crate::util::sh::shell(path).ok()?;
        let out = xshell::cmd!(sh, "git log -1 --format=%cI")
            .quiet()
            .ignore_stderr()
            .read()
            .ok()?;
        return parse_time(out.trim()).map(|t| (t, "git commit".into()));
    }
    None
}

fn osv_from_json(bytes: &[u8], source: &Path) -> Result<Advisory> {
    let doc: OsvDoc =
        serde_json::from_slice(bytes).map_err(|e| anyhow::anyhow!("line {}: {e}", e.line()))?;
    Ok(osv_to_advisory(doc, source))
}

fn osv_from_yaml(text: &str, source: &Path) -> Result<Advisory> {
    let docs = yaml_rust2::YamlLoader::load_from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let doc = docs.into_iter().next().context("empty YAML document")?;
    let value = yaml_to_json(doc);
    let doc: OsvDoc = serde_json::from_value(value)?;
    Ok(osv_to_advisory(doc, source))
}

fn yaml_to_json(y: yaml_rust2::Yaml) -> serde_json::Value {
    use serde_json::Value;
    use yaml_rust2::Yaml;
    match y {
        Yaml::String(s) | Yaml::Real(s) => Value::String(s),
        Yaml::Integer(i) => Value::String(i.to_string()),
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Array(a) => Value::Array(a.into_iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.into_iter()
                .filter_map(|(k, v)| {
                    let k = match k {
                        Yaml::String(s) | Yaml::Real(s) => s,
                        Yaml::Integer(i) => i.to_string(),
                        _ => return None,
                    };
                    Some((k, yaml_to_json(v)))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

fn cvss_of(list: &[OsvSeverity]) -> Option<String> {
    // Prefer v3 (we compute its base score), then v4.
    list.iter()
        .find(|s| s.kind == "CVSS_V3")
        .or_else(|| list.iter().find(|s| s.kind == "CVSS_V4"))
        .map(|s| s.score.clone())
}

fn osv_to_advisory(doc: OsvDoc, source: &Path) -> Advisory {
    let mut affected = Vec::new();
    let mut informational = None;
    let mut cvss = cvss_of(&doc.severity);
    for a in &doc.affected {
        let Some(pkg) = &a.package else { continue };
        let Some(eco) = ecosystem(&pkg.ecosystem) else {
            continue;
        };
        if let Some(ds) = &a.database_specific {
            if let Some(i) = ds.get("informational").and_then(|v| v.as_str()) {
                informational = Some(i.to_string());
            }
            if cvss.is_none() {
                cvss = ds.get("cvss").and_then(|v| v.as_str()).map(str::to_string);
            }
        }
        if cvss.is_none() {
            cvss = cvss_of(&a.severity);
        }
        let versions = a
            .versions
            .iter()
            .filter_map(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect();
        affected.push(Affected {
            ecosystem: eco,
            key: eco.key(&pkg.name),
            rule: Rule::Osv {
                versions,
                ranges: a.ranges.clone(),
            },
        });
    }
    let severity_label = doc
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity"))
        .and_then(|s| s.as_str())
        .map(str::to_string);
    let summary = doc
        .summary
        .filter(|s| !s.is_empty())
        .or_else(|| {
            doc.details.map(|d| {
                d.lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(160)
                    .collect()
            })
        })
        .unwrap_or_default();
    Advisory {
        id: doc.id,
        aliases: doc.aliases,
        summary,
        withdrawn: doc.withdrawn.is_some(),
        informational,
        cvss_score: cvss.as_deref().and_then(super::matching::cvss_score),
        cvss,
        severity_label,
        affected,
        modified: doc.modified.as_deref().and_then(parse_time),
        source: source.display().to_string(),
    }
}

#[derive(Deserialize)]
struct RustSecDoc {
    advisory: RustSecAdvisory,
    #[serde(default)]
    versions: RustSecVersions,
}

#[derive(Deserialize)]
struct RustSecAdvisory {
    id: String,
    package: String,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    cvss: Option<String>,
    #[serde(default)]
    informational: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Deserialize, Default)]
struct RustSecVersions {
    #[serde(default)]
    patched: Vec<String>,
    #[serde(default)]
    unaffected: Vec<String>,
}

/// RustSec's native format: a ```toml front-matter block, then Markdown whose first heading
/// is the title.
fn rustsec_from_md(text: &str, source: &Path) -> Result<Advisory> {
    let body = text
        .trim_start()
        .strip_prefix("```toml")
        .context("no ```toml front matter")?;
    let end = body
        .find("\n```")
        .context("front matter is not closed with ```")?;
    let doc: RustSecDoc = toml::from_str(&body[..end]).map_err(|e| anyhow::anyhow!("{e}"))?;
    let title = doc.advisory.title.clone().or_else(|| {
        body[end + 4..]
            .lines()
            .find_map(|l| l.strip_prefix("# ").map(|t| t.trim().to_string()))
    });
    let a = doc.advisory;
    Ok(Advisory {
        id: a.id,
        aliases: a.aliases,
        summary: title.unwrap_or_default(),
        withdrawn: a.withdrawn.is_some(),
        informational: a.informational,
        cvss_score: a.cvss.as_deref().and_then(super::matching::cvss_score),
        cvss: a.cvss,
        severity_label: None,
        affected: vec![Affected {
            ecosystem: Ecosystem::Crates,
            key: a.package,
            rule: Rule::RustSec {
                patched: doc.versions.patched,
                unaffected: doc.versions.unaffected,
            },
        }],
        modified: a.date.as_deref().and_then(parse_time),
        source: source.display().to_string(),
    })
}
