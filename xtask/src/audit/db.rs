//! Advisory databases: OSV JSON and YAML directories, OSV `all.zip` exports and the RustSec
//! native layout, loaded into one index keyed by (ecosystem, package). Only advisories for
//! packages being audited are parsed where the layout allows (`crates/<name>/`,
//! `vulns/<name>/`). A malformed advisory is a warning naming its file, never a failed load.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::inputs::{Ecosystem, pep503};

/// One advisory as matched: everything the report needs.
#[derive(Debug, Clone)]
pub struct Advisory {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: String,
    pub withdrawn: bool,
    pub informational: Option<String>,
    pub cvss: Option<String>,
    /// A textual severity given by the database (GHSA's `database_specific.severity`).
    pub severity_label: Option<String>,
    pub affected: Vec<Affected>,
    pub modified: Option<DateTime<Utc>>,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Affected {
    pub ecosystem: Ecosystem,
    pub key: String,
    pub rule: Rule,
}

#[derive(Debug, Clone)]
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

#[derive(Debug, Clone, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Event {
    pub introduced: Option<String>,
    pub fixed: Option<String>,
    pub last_affected: Option<String>,
}

/// Where advisories came from, and how fresh they are.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceInfo {
    pub path: String,
    pub kind: String,
    pub advisories: usize,
    /// Best knowledge of when the data was last updated (fetch or commit time, else the
    /// newest `modified` among advisories read).
    pub updated: Option<DateTime<Utc>>,
    pub updated_from: String,
}

#[derive(Default)]
pub struct Db {
    pub index: HashMap<(Ecosystem, String), Vec<usize>>,
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
    fn add(&mut self, adv: Advisory, wanted: &HashSet<(Ecosystem, String)>) -> bool {
        let keys: Vec<(Ecosystem, String)> = adv
            .affected
            .iter()
            .map(|a| (a.ecosystem, a.key.clone()))
            .filter(|k| wanted.contains(k))
            .collect();
        if keys.is_empty() {
            return false;
        }
        let i = self.advisories.len();
        self.advisories.push(adv);
        let mut seen = HashSet::new();
        for k in keys {
            if seen.insert(k.clone()) {
                self.index.entry(k).or_default().push(i);
            }
        }
        true
    }

    /// Load one source: a directory of any supported layout, or an OSV zip export.
    pub fn load_source(
        &mut self,
        path: &Path,
        wanted: &HashSet<(Ecosystem, String)>,
    ) -> Result<()> {
        let before = self.advisories.len();
        let mut newest: Option<DateTime<Utc>> = None;
        let mut note = |m: Option<DateTime<Utc>>| {
            if let Some(m) = m {
                newest = Some(newest.map_or(m, |n: DateTime<Utc>| n.max(m)));
            }
        };
        let kind;
        if path.is_file() {
            if !path.to_string_lossy().ends_with(".zip") {
                bail!(
                    "advisory source {} is a file but not a .zip OSV export",
                    path.display()
                );
            }
            kind = "osv-zip";
            for m in self.load_zip(path, wanted)? {
                note(Some(m));
            }
        } else if path.is_dir() {
            let mut kinds = HashSet::new();
            // Walk first (cheap), then parse on every core: the parse is the cost.
            let mut files: Vec<(PathBuf, &'static str)> = Vec::new();
            let mut zips: Vec<PathBuf> = Vec::new();
            collect(path, wanted, &mut files, &mut zips, &mut self.malformed);
            for (_, k) in &files {
                kinds.insert(*k);
            }
            if !zips.is_empty() {
                kinds.insert("osv-zip");
            }
            // Threads pay off only for many files (a whole database); a lockfile's few dozen
            // advisories parse faster than a thread starts.
            let threads = if files.len() < 128 {
                1
            } else {
                std::thread::available_parallelism()
                    .map_or(1, |n| n.get())
                    .clamp(1, 8)
            };
            let chunk = files.len().div_ceil(threads).max(1);
            let parsed: Vec<(PathBuf, Result<Vec<Advisory>>)> = std::thread::scope(|s| {
                let handles: Vec<_> = files
                    .chunks(chunk)
                    .map(|c| {
                        s.spawn(move || {
                            c.iter()
                                .map(|(p, k)| (p.clone(), parse_file(p, k, path)))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().expect("parser thread panicked"))
                    .collect()
            });
            for (p, result) in parsed {
                match result {
                    Ok(advisories) => {
                        for a in advisories {
                            note(a.modified);
                            self.add(a, wanted);
                        }
                    }
                    Err(err) => self.malformed.push((p, format!("{err:#}"))),
                }
            }
            for z in zips {
                match self.load_zip(&z, wanted) {
                    Ok(times) => times.into_iter().for_each(|t| note(Some(t))),
                    Err(err) => self.malformed.push((z, format!("{err:#}"))),
                }
            }
            let mut k: Vec<&str> = kinds.into_iter().collect();
            k.sort();
            kind = if k.is_empty() {
                "empty"
            } else {
                Box::leak(k.join("+").into_boxed_str())
            };
        } else {
            bail!(
                "no advisory database at {}: run `cargo xtask advisories update` or pass --db PATH",
                path.display()
            );
        }
        let (updated, updated_from) = match freshness(path) {
            Some((t, how)) => (Some(t), how),
            None => (newest, "newest advisory read".to_string()),
        };
        self.sources.push(SourceInfo {
            path: path.display().to_string(),
            kind: kind.to_string(),
            advisories: self.advisories.len() - before,
            updated,
            updated_from,
        });
        Ok(())
    }
}

/// Advisory files under `dir`. Per-package folders (`crates/<name>`, `vulns/<name>`) of
/// packages not being audited are never opened: deciding from the directory entry alone
/// keeps a lockfile of 500 crates from opening the 900 folders of the RustSec database.
fn collect(
    dir: &Path,
    wanted: &HashSet<(Ecosystem, String)>,
    files: &mut Vec<(PathBuf, &'static str)>,
    zips: &mut Vec<PathBuf>,
    errors: &mut Vec<(PathBuf, String)>,
) {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errors.push((dir.to_path_buf(), e.to_string()));
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
            let keep = match parent.as_str() {
                "crates" => wanted.contains(&(Ecosystem::Crates, name.clone())),
                "vulns" => wanted.contains(&(Ecosystem::PyPI, pep503(&name))),
                _ => true,
            };
            if keep {
                collect(&de.path(), wanted, files, zips, errors);
            }
            continue;
        }
        let kind = match Path::new(&name)
            .extension()
            .and_then(|x| x.to_str())
            .unwrap_or_default()
        {
            "zip" => {
                zips.push(de.path());
                continue;
            }
            "json" => "osv-json",
            "yaml" | "yml" => "osv-yaml",
            "md" if name.starts_with("RUSTSEC-") => "rustsec",
            _ => continue,
        };
        files.push((de.path(), kind));
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

impl Db {
    /// Every `.json` member of an OSV zip export; returns their `modified` times.
    fn load_zip(
        &mut self,
        path: &Path,
        wanted: &HashSet<(Ecosystem, String)>,
    ) -> Result<Vec<DateTime<Utc>>> {
        let mut times = Vec::new();
        for (name, bytes) in super::zip::entries(path)? {
            if !name.ends_with(".json") {
                continue;
            }
            match osv_from_json(&bytes, path) {
                Ok(a) => {
                    times.extend(a.modified);
                    self.add(a, wanted);
                }
                Err(e) => self.malformed.push((
                    PathBuf::from(format!("{}!{name}", path.display())),
                    format!("{e:#}"),
                )),
            }
        }
        Ok(times)
    }
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
        let sh = crate::sh::shell(path).ok()?;
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
