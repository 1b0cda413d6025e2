//! Pins of a compiled requirements file, what changed between two of them, and the
//! offline check of a `.txt` against the ranges of its `.in` (PEP 440, `pep440_rs`).
//! Files are read by the audit's requirements parser (`crate::deps::load`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Result, bail};
use pep440_rs::{Version, VersionSpecifiers};
use serde::Serialize;

use crate::deps::{self, pep503};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The name as the file writes it.
    pub name: String,
    /// The pinned version, or a direct reference (`@ https://…`).
    pub version: String,
    pub markers: Option<String>,
    pub line: usize,
}

/// Pins by PEP 503 name (and markers, when the file pins a package per environment).
pub type Pins = BTreeMap<String, Pin>;

/// A requirement split into name, version specifiers and markers.
#[derive(Debug, Clone)]
pub struct Req {
    pub name: String,
    pub spec: String,
    pub markers: Option<String>,
}

/// `name[extras] spec ; markers` → its parts; `None` for a path or URL without a name.
pub fn split_requirement(text: &str) -> Option<Req> {
    let (req, markers) = match text.split_once(';') {
        Some((r, m)) => (r.trim(), Some(m.trim().to_string())),
        None => (text.trim(), None),
    };
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    let name = &req[..end];
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return None;
    }
    let mut rest = req[end..].trim_start();
    if rest.starts_with('[') {
        rest = rest.split_once(']').map_or("", |(_, r)| r.trim_start());
    }
    Some(Req {
        name: name.to_string(),
        spec: rest.trim().to_string(),
        markers,
    })
}

fn key(name: &str, markers: Option<&str>) -> String {
    match markers {
        Some(m) => format!("{} ; {m}", pep503(name)),
        None => pep503(name),
    }
}

/// The requirements of a file: exact pins and ranges (includes followed, constraints not).
fn requirements(path: &Path) -> Result<Vec<(PathBuf, usize, Req)>> {
    let inputs = deps::load(&[path.to_path_buf()]);
    if let Some((_, err)) = inputs.failed.first() {
        bail!("{err}");
    }
    let mut out = Vec::new();
    for p in &inputs.packages {
        let req = Req {
            name: p.name.clone(),
            spec: format!("=={}", p.version),
            markers: p.markers.clone(),
        };
        out.push((p.file.to_path_buf(), p.line, req));
    }
    for u in &inputs.unpinned {
        if let Some(req) = split_requirement(&u.requirement) {
            out.push((u.file.clone(), u.line, req));
        }
    }
    out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    Ok(out)
}

/// The pins of a compiled requirements file.
pub fn read(path: &Path) -> Result<Pins> {
    let mut pins = Pins::new();
    for (_, line, r) in requirements(path)? {
        let version = r.spec.strip_prefix("==").unwrap_or(&r.spec).to_string();
        let pin = Pin {
            name: r.name,
            version,
            markers: r.markers,
            line,
        };
        pins.insert(key(&pin.name, pin.markers.as_deref()), pin);
    }
    Ok(pins)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Upgraded,
    Downgraded,
    /// Not comparable as PEP 440 versions (a direct reference changed).
    Changed,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Upgraded => "upgraded",
            Change::Downgraded => "downgraded",
            Change::Changed => "changed",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PinChange {
    pub package: String,
    pub change: Change,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Line of the old pin, when there was one.
    #[serde(skip)]
    pub line: Option<usize>,
}

/// Pin by pin, from `old` to `new`.
pub fn diff(old: &Pins, new: &Pins) -> Vec<PinChange> {
    let mut out = Vec::new();
    for (k, o) in old {
        let change = match new.get(k) {
            None => Change::Removed,
            Some(n) if n.version == o.version => continue,
            Some(n) => match (Version::from_str(&o.version), Version::from_str(&n.version)) {
                (Ok(a), Ok(b)) if b > a => Change::Upgraded,
                (Ok(a), Ok(b)) if b < a => Change::Downgraded,
                _ => Change::Changed,
            },
        };
        out.push(PinChange {
            package: label(o),
            change,
            from: Some(o.version.clone()),
            to: new.get(k).map(|n| n.version.clone()),
            line: Some(o.line),
        });
    }
    for (_, n) in new.iter().filter(|(k, _)| !old.contains_key(*k)) {
        out.push(PinChange {
            package: label(n),
            change: Change::Added,
            from: None,
            to: Some(n.version.clone()),
            line: None,
        });
    }
    out.sort_by(|a, b| a.package.cmp(&b.package));
    out
}

fn label(p: &Pin) -> String {
    match &p.markers {
        Some(m) => format!("{} ; {m}", p.name),
        None => p.name.clone(),
    }
}

/// What the offline check found for one `.in`.
#[derive(Debug, Default)]
pub struct Offline {
    /// (requirement file, line, requirement, its pin) for pins outside their range.
    pub outside: Vec<(PathBuf, usize, Req, Pin)>,
    /// (requirement file, line, requirement) without a pin.
    pub missing: Vec<(PathBuf, usize, Req)>,
    /// Requirements with environment markers and no pin (the compiler evaluated the
    /// markers for its platform; that cannot be decided offline).
    pub skipped_markers: usize,
}

/// Does every requirement of `input` have a pin in `pins` inside its range?
pub fn offline_check(input: &Path, pins: &Pins) -> Result<Offline> {
    let mut out = Offline::default();
    for (file, line, req) in requirements(input)? {
        if req.spec.starts_with('@') {
            continue; // a direct reference is pinned by its URL
        }
        let name = pep503(&req.name);
        let found: Vec<&Pin> = pins.values().filter(|p| pep503(&p.name) == name).collect();
        if found.is_empty() {
            if req.markers.is_some() {
                out.skipped_markers += 1;
            } else {
                out.missing.push((file, line, req));
            }
            continue;
        }
        if req.spec.is_empty() {
            continue;
        }
        let spec = VersionSpecifiers::from_str(&req.spec).map_err(|e| {
            anyhow::anyhow!(
                "{}:{line}: `{}` is not a PEP 440 version range: {e}",
                file.display(),
                req.spec
            )
        })?;
        for pin in found {
            let Ok(v) = Version::from_str(&pin.version) else {
                continue; // a direct reference in the .txt
            };
            if !spec.contains(&v) {
                out.outside
                    .push((file.clone(), line, req.clone(), pin.clone()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins(list: &[(&str, &str)]) -> Pins {
        list.iter()
            .enumerate()
            .map(|(i, (n, v))| {
                let p = Pin {
                    name: n.to_string(),
                    version: v.to_string(),
                    markers: None,
                    line: i + 1,
                };
                (pep503(n), p)
            })
            .collect()
    }

    #[test]
    fn changes_pin_by_pin() {
        let old = pins(&[("requests", "2.31.0"), ("six", "1.16.0"), ("idna", "3.7")]);
        let new = pins(&[
            ("requests", "2.32.3"),
            ("idna", "3.6"),
            ("certifi", "2024.2.2"),
        ]);
        let d: Vec<(String, Change)> = diff(&old, &new)
            .into_iter()
            .map(|c| (c.package, c.change))
            .collect();
        assert_eq!(
            d,
            [
                ("certifi".into(), Change::Added),
                ("idna".into(), Change::Downgraded),
                ("requests".into(), Change::Upgraded),
                ("six".into(), Change::Removed),
            ]
        );
        assert!(diff(&old, &old).is_empty());
    }

    #[test]
    fn requirement_parts() {
        let r = split_requirement("Flask[async] >=2.0, <3 ; python_version < \"3.12\"").unwrap();
        assert_eq!((r.name.as_str(), r.spec.as_str()), ("Flask", ">=2.0, <3"));
        assert_eq!(r.markers.as_deref(), Some("python_version < \"3.12\""));
        assert!(split_requirement("./local/pkg").is_none());
        assert_eq!(
            split_requirement("pkg @ https://x/p.whl").unwrap().spec,
            "@ https://x/p.whl"
        );
    }
}
