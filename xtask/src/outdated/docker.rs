//! Docker: base images of Dockerfiles (`FROM`) and compose `image:` lines — tag, digest pin,
//! `latest`, end of life.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

use super::eol::EolTable;
use super::{Ecosystem, Kind, Outdated, Pkg, Scope, Tree};
use crate::report::{Finding, Severity, codes};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub image: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

pub fn parse_image(s: &str) -> ImageRef {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (s, None),
    };
    // A tag follows the last ':' after the last '/' (a ':' before it is a registry port).
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(i) => ImageRef {
            image: rest[..slash + i].to_string(),
            tag: Some(rest[slash + i + 1..].to_string()),
            digest,
        },
        None => ImageRef {
            image: rest.to_string(),
            tag: None,
            digest,
        },
    }
}

/// Base images of a Dockerfile: `FROM` lines with `ARG` defaults substituted; stages that
/// name an earlier stage and `scratch` are skipped. (line, image reference)
pub fn dockerfile_images(text: &str) -> Vec<(usize, String)> {
    let mut args: BTreeMap<String, String> = BTreeMap::new();
    let mut stages: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start = i + 1;
        }
        let l = raw.trim_end();
        if let Some(stripped) = l.strip_suffix('\\') {
            logical.push_str(stripped);
            logical.push(' ');
            continue;
        }
        logical.push_str(l);
        let line = std::mem::take(&mut logical);
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        let mut words = t.split_whitespace();
        let Some(instr) = words.next() else { continue };
        match instr.to_ascii_uppercase().as_str() {
            "ARG" => {
                if let Some(a) = words.next() {
                    let (k, v) = a.split_once('=').unwrap_or((a, ""));
                    args.entry(k.to_string())
                        .or_insert_with(|| v.trim_matches('"').to_string());
                }
            }
            "FROM" => {
                let rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
                let Some(img) = rest.first() else { continue };
                let mut img = img.to_string();
                for (k, v) in &args {
                    img = img
                        .replace(&format!("${{{k}}}"), v)
                        .replace(&format!("${k}"), v);
                }
                if rest.len() >= 3 && rest[1].eq_ignore_ascii_case("as") {
                    stages.insert(rest[2].to_ascii_lowercase());
                }
                if img == "scratch"
                    || stages.contains(&img.to_ascii_lowercase())
                        && rest.get(2).map(|s| s.to_ascii_lowercase())
                            != Some(img.to_ascii_lowercase())
                {
                    continue;
                }
                out.push((start, img));
            }
            _ => {}
        }
    }
    out
}

/// An image reference and where it is written.
#[derive(Debug, Clone)]
pub struct ImageUse {
    pub file: PathBuf,
    pub line: usize,
    pub image: String,
}

/// The images of the tree's Dockerfiles, then of its compose files.
pub(super) fn images(tree: &Tree) -> Vec<ImageUse> {
    let mut images = Vec::new();
    for f in &tree.dockerfiles {
        if let Ok(text) = fs::read_to_string(f) {
            images.extend(
                dockerfile_images(&text)
                    .into_iter()
                    .map(|(line, image)| ImageUse {
                        file: f.clone(),
                        line,
                        image,
                    }),
            );
        }
    }
    for f in &tree.composes {
        if let Ok(text) = fs::read_to_string(f) {
            for (i, line) in text.lines().enumerate() {
                if let Some(v) = line.trim().strip_prefix("image:") {
                    images.push(ImageUse {
                        file: f.clone(),
                        line: i + 1,
                        image: v.trim().trim_matches(['"', '\'']).to_string(),
                    });
                }
            }
        }
    }
    images
}

/// The Docker phase: each image's pinning, `latest` and end of life.
pub(super) fn check(scope: &Scope, images: Vec<ImageUse>, eols: &EolTable, out: &mut Outdated) {
    let today = chrono::Utc::now().date_naive();
    for ImageUse { file, line, image } in images {
        if image.contains('$') {
            continue; // set at deploy time (e.g. ${APP_TAG})
        }
        let r = parse_image(&image);
        let base = r.image.rsplit('/').next().unwrap_or(&r.image).to_string();
        if scope.ignored(&base) || scope.ignored(&r.image) {
            continue;
        }
        let at = scope.cx.rel(&file);
        let mk = |code, sev, msg: String| Finding::new(code, sev, msg).at_line(at.clone(), line);
        // A digest pins the image whatever its tag says.
        if r.digest.is_none() && r.tag.as_deref().is_none_or(|t| t == "latest") {
            out.push(mk(
                codes::LATEST_TAG,
                Severity::Medium,
                format!("{image} uses `latest`: builds are not reproducible"),
            ));
        }
        if r.digest.is_none() {
            out.push(mk(
                codes::UNPINNED_IMAGE,
                Severity::Low,
                format!("{image} is not pinned by digest (@sha256:…)"),
            ));
        }
        let mut notes = Vec::new();
        if let Some((cycle, date)) = r.tag.as_deref().and_then(|t| eols.lookup(&base, t)) {
            if date < today {
                out.push(mk(
                    codes::EOL_RUNTIME,
                    Severity::Medium,
                    format!("{base} {cycle} reached end of life on {date}"),
                ));
            }
            notes.push(format!("{base} {cycle}: end of life {date}"));
        }
        out.packages.push(Pkg {
            ecosystem: Ecosystem::Docker,
            name: r.image.clone(),
            current: r.tag.clone(),
            compatible: None,
            latest: None,
            kind: if r.digest.is_some() {
                Kind::Digest
            } else {
                Kind::Tag
            },
            direct: true,
            source: at,
            notes,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        assert_eq!(
            parse_image("python:3.11-slim"),
            ImageRef {
                image: "python".into(),
                tag: Some("3.11-slim".into()),
                digest: None
            }
        );
        assert_eq!(parse_image("localhost:5000/app").tag, None);
        assert_eq!(
            parse_image("postgres@sha256:ab").digest.as_deref(),
            Some("sha256:ab")
        );
    }

    #[test]
    fn dockerfile_from_lines() {
        let df = "ARG PY=3.9\nFROM --platform=$BUILDPLATFORM python:${PY}-slim AS builder\nRUN x \\\n  y\nFROM builder AS test\nFROM scratch\nFROM node:18 as web\n";
        let imgs = dockerfile_images(df);
        assert_eq!(
            imgs,
            vec![
                (2, "python:3.9-slim".to_string()),
                (7, "node:18".to_string())
            ]
        );
    }
}
