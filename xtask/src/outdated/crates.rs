//! Crates: the workspace's dependencies (`cargo metadata --no-deps`, locked versions from
//! Cargo.lock) and the Cargo.lock files named as PATHs, against the sparse registry index.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use xshell::cmd;

use super::{Ecosystem, Kind, Missing, Outdated, Pkg, Scope, Update, segment};
use crate::context::Context;
use crate::deps::{self as inputs, Ecosystem as InputEcosystem};
use crate::report::{Finding, Severity, codes};
use crate::util::sh;

/// The registry's name in messages.
const REGISTRY: &str = "crates.io";

/// The sparse index to use: XTASK_CRATES_INDEX, cargo's `source.crates-io.replace-with`
/// pointing at a `sparse+` registry (root or CARGO_HOME config), or index.crates.io.
pub fn crates_index(root: &Path) -> String {
    if let Ok(u) = std::env::var("XTASK_CRATES_INDEX") {
        return u.trim_end_matches('/').to_string() + "/";
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let mut configs = vec![root.join(".cargo/config.toml"), root.join(".cargo/config")];
    if let Some(h) = cargo_home {
        configs.push(h.join("config.toml"));
        configs.push(h.join("config"));
    }
    configs
        .iter()
        .find_map(|c| replacement_index(c))
        .unwrap_or_else(|| "https://index.crates.io/".to_string())
}

/// The `sparse+` index that a cargo config's `source.crates-io.replace-with` names, if any.
fn replacement_index(config: &Path) -> Option<String> {
    let text = fs::read_to_string(config).ok()?;
    let t = toml::from_str::<toml::Table>(&text).ok()?;
    let src = t.get("source");
    let name = src
        .and_then(|s| s.get("crates-io"))
        .and_then(|c| c.get("replace-with"))
        .and_then(|v| v.as_str())?;
    // `replace-with` names a [source.NAME] with `registry = …` or a [registries.NAME]
    // whose index may also come from CARGO_REGISTRIES_<NAME>_INDEX.
    let env_key = format!(
        "CARGO_REGISTRIES_{}_INDEX",
        name.to_ascii_uppercase().replace('-', "_")
    );
    let reg = std::env::var(&env_key).ok().or_else(|| {
        src.and_then(|s| s.get(name))
            .and_then(|r| r.get("registry"))
            .or_else(|| {
                t.get("registries")
                    .and_then(|r| r.get(name))
                    .and_then(|r| r.get("index"))
            })
            .and_then(|v| v.as_str())
            .map(str::to_string)
    });
    let url = reg.as_deref()?.strip_prefix("sparse+")?;
    Some(url.trim_end_matches('/').to_string() + "/")
}

/// The sparse index path of a crate: 1/a, 2/ab, 3/a/abc, ab/cd/abcd…, each segment
/// percent-encoded (prefixes are whole characters: a name read from a lockfile may not be
/// ASCII).
pub fn index_path(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    let chars: Vec<char> = n.chars().collect();
    let part = |r: std::ops::Range<usize>| segment(&chars[r].iter().collect::<String>());
    let dirs = match chars.len() {
        0 | 1 => "1".to_string(),
        2 => "2".to_string(),
        3 => format!("3/{}", part(0..1)),
        _ => format!("{}/{}", part(0..2), part(2..4)),
    };
    format!("{dirs}/{}", segment(&n))
}

#[derive(Debug, Clone)]
pub struct CrateVersion {
    pub version: semver::Version,
    pub yanked: bool,
    pub rust_version: Option<String>,
}

pub fn parse_index(body: &[u8]) -> Vec<CrateVersion> {
    #[derive(serde::Deserialize)]
    struct Line {
        vers: String,
        #[serde(default)]
        yanked: bool,
        #[serde(default)]
        rust_version: Option<String>,
    }
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .filter_map(|l| {
            Some(CrateVersion {
                version: semver::Version::parse(&l.vers).ok()?,
                yanked: l.yanked,
                rust_version: l.rust_version,
            })
        })
        .collect()
}

struct RustDep {
    name: String,
    req: Option<semver::VersionReq>,
    current: Option<semver::Version>,
    kind: Kind,
    direct: bool,
    members: BTreeSet<String>,
}

/// The crates phase: every dependency to check, its versions from the index, compared.
pub(super) fn check(
    scope: &Scope,
    all: bool,
    named_locks: Option<&[PathBuf]>,
    out: &mut Outdated,
) -> Result<()> {
    let cx = scope.cx;
    let (mut deps, msrv) = rust_deps(cx, all, out);
    if let Some(locks) = named_locks {
        deps.extend(locked_deps(cx, locks, out));
    }
    deps.retain(|d| !scope.ignored(&d.name));
    if deps.is_empty() {
        return Ok(());
    }
    out.index = crates_index(&cx.root);
    let versions = lookup(scope, &deps, out)?;
    for d in &deps {
        compare(d, &versions[d.name.as_str()], msrv.as_ref(), out);
    }
    Ok(())
}

/// `cargo metadata --no-deps` of the workspace, run through `util::sh`.
fn metadata(cx: &Context, manifest: &Path) -> Result<cargo_metadata::Metadata> {
    let sh = sh::shell(&cx.root)?;
    let cargo = sh::cargo();
    let stdout = sh::stdout(cmd!(
        sh,
        "{cargo} metadata --format-version 1 --no-deps --manifest-path {manifest}"
    ))?;
    let json = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .context("cargo metadata printed no JSON")?;
    cargo_metadata::MetadataCommand::parse(json).context("reading the output of cargo metadata")
}

/// The workspace members' registry dependencies (and with `all`, every locked crate), and
/// the workspace's lowest `rust-version`.
fn rust_deps(
    cx: &Context,
    all: bool,
    out: &mut Outdated,
) -> (Vec<RustDep>, Option<semver::Version>) {
    let manifest = cx.root.join("Cargo.toml");
    if !manifest.exists() {
        return (Vec::new(), None);
    }
    // `--no-deps`: members and their requirements only, no resolution and no downloads; the
    // locked versions come from Cargo.lock, read by the audit's fast reader.
    let meta = match metadata(cx, &manifest) {
        Ok(m) => m,
        Err(e) => {
            out.push(
                Finding::new(codes::INPUT_ERROR, Severity::High, format!("{e:#}")).at("Cargo.toml"),
            );
            out.input_failed = true;
            return (Vec::new(), None);
        }
    };
    let members: Vec<&cargo_metadata::Package> = meta.workspace_packages();
    let msrv = members.iter().filter_map(|p| p.rust_version.clone()).min();
    let locked = workspace_lock(&meta.workspace_root.as_std_path().join("Cargo.lock"), out);
    let mut deps = member_deps(&members, &locked);
    if all {
        for (name, version) in &locked {
            let known = deps
                .values()
                .any(|d| d.name == *name && d.current.as_ref() == Some(version));
            if !known {
                deps.insert(
                    (name.clone(), version.to_string()),
                    RustDep {
                        name: name.clone(),
                        req: None,
                        current: Some(version.clone()),
                        kind: Kind::Transitive,
                        direct: false,
                        members: BTreeSet::new(),
                    },
                );
            }
        }
    }
    (deps.into_values().collect(), msrv)
}

/// The locked registry crates of the workspace's Cargo.lock (none, with a note, without one).
fn workspace_lock(lock: &Path, out: &mut Outdated) -> Vec<(String, semver::Version)> {
    let lock_inputs = inputs::load(std::slice::from_ref(&lock.to_path_buf()));
    if !lock.exists() {
        out.push(Finding::new(
            codes::INPUT_NOTE,
            Severity::Info,
            "no Cargo.lock: current versions unknown (run `cargo generate-lockfile`)",
        ));
    }
    for (f, err) in &lock_inputs.failed {
        if lock.exists() {
            out.input_failed = true;
            out.push(
                Finding::new(codes::INPUT_ERROR, Severity::High, err.clone())
                    .at(f.display().to_string()),
            );
        }
    }
    lock_inputs
        .packages
        .iter()
        .filter_map(|p| Some((p.name.clone(), semver::Version::parse(&p.version).ok()?)))
        .collect()
}

/// The members' dependencies from crates.io, by (name, requirement), with the highest locked
/// version each requirement matches.
fn member_deps(
    members: &[&cargo_metadata::Package],
    locked: &[(String, semver::Version)],
) -> BTreeMap<(String, String), RustDep> {
    let mut out: BTreeMap<(String, String), RustDep> = BTreeMap::new();
    for m in members {
        for d in &m.dependencies {
            if d.path.is_some()
                || !(d.source.is_none()
                    || d.source
                        .as_ref()
                        .is_some_and(|s| s.repr.contains("crates.io-index")))
            {
                continue;
            }
            let kind = match d.kind {
                cargo_metadata::DependencyKind::Development => Kind::Dev,
                cargo_metadata::DependencyKind::Build => Kind::Build,
                _ => Kind::Normal,
            };
            let current = locked
                .iter()
                .filter(|(n, v)| *n == d.name && d.req.matches(v))
                .map(|(_, v)| v.clone())
                .max();
            let e = out
                .entry((d.name.clone(), d.req.to_string()))
                .or_insert(RustDep {
                    name: d.name.clone(),
                    req: Some(d.req.clone()),
                    current,
                    kind,
                    direct: true,
                    members: BTreeSet::new(),
                });
            e.members.insert(m.name.to_string());
        }
    }
    out
}

/// The crates of Cargo.lock files named as PATHs (kind `locked`).
fn locked_deps(cx: &Context, locks: &[PathBuf], out: &mut Outdated) -> Vec<RustDep> {
    let locked = inputs::load_read(&cx.root, locks, Vec::new());
    for (f, err) in &locked.failed {
        out.input_failed = true;
        out.push(Finding::new(codes::INPUT_ERROR, Severity::High, err.clone()).at(cx.rel(f)));
    }
    locked
        .packages
        .iter()
        .filter(|p| p.ecosystem == InputEcosystem::Crates)
        .map(|p| RustDep {
            name: p.name.clone(),
            req: None,
            current: semver::Version::parse(&p.version).ok(),
            kind: Kind::Locked,
            direct: false,
            members: BTreeSet::from([cx.rel(&p.file)]),
        })
        .collect()
}

/// Every crate's versions from the index, by name; a lookup that gave none is a finding.
fn lookup<'a>(
    scope: &Scope,
    deps: &'a [RustDep],
    out: &mut Outdated,
) -> Result<BTreeMap<&'a str, Versions>> {
    let names: BTreeSet<&str> = deps.iter().map(|d| d.name.as_str()).collect();
    let urls: Vec<String> = names
        .iter()
        .map(|n| format!("{}{}", out.index, index_path(n)))
        .collect();
    let client = scope.client();
    let answers = client.fetch_all(&urls)?;
    out.http.add(&answers);
    let mut versions = BTreeMap::new();
    for ((n, a), url) in names.into_iter().zip(&answers).zip(&urls) {
        let vs = match &a.body {
            Some(b) => Some(parse_index(b))
                .filter(|vs| !vs.is_empty())
                .ok_or_else(|| {
                    client.forget(url);
                    Missing::Failed("no versions in the index's answer".into())
                }),
            None => Err(Missing::of(a)),
        };
        if let Err(why) = &vs {
            out.push(why.finding(n, REGISTRY));
        }
        versions.insert(n, vs);
    }
    Ok(versions)
}

/// A crate's versions in the index, or why there are none.
type Versions = std::result::Result<Vec<CrateVersion>, Missing>;

/// One dependency against its versions: the package row, and findings when it is behind
/// or yanked.
fn compare(d: &RustDep, vs: &Versions, msrv: Option<&semver::Version>, out: &mut Outdated) {
    let found = vs.as_ref().ok();
    let cur = d.current.clone();
    let allow_pre = cur.as_ref().is_some_and(|c| !c.pre.is_empty());
    let good = |v: &&CrateVersion| !v.yanked && (allow_pre || v.version.pre.is_empty());
    let latest = found.and_then(|vs| {
        vs.iter()
            .filter(good)
            .max_by(|a, b| a.version.cmp(&b.version))
    });
    let compatible = found.and_then(|vs| {
        vs.iter()
            .filter(|v| !v.yanked && d.req.as_ref().is_none_or(|r| r.matches(&v.version)))
            .max_by(|a, b| a.version.cmp(&b.version))
    });
    let mut notes = Vec::new();
    if let Err(why) = vs {
        notes.push(out.missing(why, REGISTRY));
    }
    if let (Some(l), Some(m)) = (latest, msrv)
        && let Some(rv) = &l.rust_version
        && semver::Version::parse(&pad(rv)).is_ok_and(|r| &r > m)
    {
        notes.push(format!(
            "{} needs Rust {rv} (workspace declares {m})",
            l.version
        ));
    }
    let at = "Cargo.toml".to_string();
    if let Some(c) = &cur
        && found.is_some_and(|vs| vs.iter().any(|v| &v.version == c && v.yanked))
    {
        out.push(
            Finding::new(
                codes::YANKED_VERSION,
                Severity::Medium,
                format!("{} {c} is yanked", d.name),
            )
            .at(at.clone()),
        );
    }
    if let (Some(c), Some(l)) = (&cur, latest)
        && l.version > *c
    {
        let update = if compatible.is_some_and(|cv| cv.version > *c) {
            Update::Compatible
        } else {
            Update::Major
        };
        out.count_behind(Ecosystem::Crates, update);
        if let Some(req) = d.req.as_ref().filter(|r| !r.matches(&l.version))
            && d.direct
        {
            out.push(
                Finding::new(
                    codes::OUTDATED_MAJOR,
                    Severity::Low,
                    format!(
                        "{} {c} → {} is outside the requirement `{req}`",
                        d.name, l.version
                    ),
                )
                .at(at.clone()),
            );
        } else if let Some(cv) = compatible.filter(|cv| cv.version > *c) {
            out.push(
                Finding::new(
                    codes::OUTDATED_COMPATIBLE,
                    Severity::Info,
                    format!(
                        "{} {c} → {}: `cargo update -p {}`",
                        d.name, cv.version, d.name
                    ),
                )
                .at(at.clone()),
            );
        }
    }
    out.packages.push(Pkg {
        ecosystem: Ecosystem::Crates,
        name: d.name.clone(),
        current: cur.map(|c| c.to_string()),
        compatible: compatible.map(|v| v.version.to_string()),
        latest: latest.map(|v| v.version.to_string()),
        kind: d.kind,
        direct: d.direct,
        source: if d.members.is_empty() {
            "Cargo.lock".into()
        } else {
            d.members.iter().cloned().collect::<Vec<_>>().join(", ")
        },
        line: None,
        notes,
    });
}

/// A `rust-version` as a full semver version ("1.70" → "1.70.0").
fn pad(v: &str) -> String {
    match v.split('.').count() {
        1 => format!("{v}.0.0"),
        2 => format!("{v}.0"),
        _ => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_index_paths() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("abc"), "3/a/abc");
        assert_eq!(index_path("Serde"), "se/rd/serde");
        // Not ASCII (no crates.io name is, but a lockfile may say anything): no panic.
        assert_eq!(index_path("aña"), "3/a/a%C3%B1a");
        assert_eq!(index_path("añab"), "a%C3%B1/ab/a%C3%B1ab");
        assert_eq!(index_path("a/../x?"), "a%2F/%2E%2E/a%2F..%2Fx%3F");
    }
}
