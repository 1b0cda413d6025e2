//! Docker: base images of Dockerfiles (`FROM`) and compose `image:` lines — tag, digest pin,
//! `latest`, end of life.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

use super::eol::EolTable;
pub use super::image::{ImageUse, parse_image};
use super::{Ecosystem, Kind, Outdated, Pkg, Scope, Tree, yaml_scalar};
use crate::report::{Finding, Severity, codes};

/// Base images of a Dockerfile: `FROM` lines, as written and with `ARG` defaults
/// substituted (`None`: an argument without a default, set at build time); stages that name
/// an earlier stage and `scratch` are skipped. (line, as written, resolved)
pub fn dockerfile_images(text: &str) -> Vec<(usize, String, Option<String>)> {
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
                // `ARG NAME` has no default: its value comes at build time.
                if let Some((k, v)) = words.next().and_then(|a| a.split_once('=')) {
                    args.entry(k.to_string())
                        .or_insert_with(|| v.trim_matches('"').to_string());
                }
            }
            "FROM" => {
                let rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
                let Some(&written) = rest.first() else {
                    continue;
                };
                let resolved = expand(written, &args);
                let img = resolved.as_deref().unwrap_or(written);
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
                out.push((start, written.to_string(), resolved));
            }
            _ => {}
        }
    }
    out
}

/// `s` with `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME-default}` replaced by the
/// value in `vars` (an empty one counts as unset) or else the default; `None` when a
/// variable has neither (or is another form, e.g. `${{ matrix.image }}`).
pub fn expand(s: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, default, len) = match after.strip_prefix('{') {
            Some(body) => {
                let end = body.find('}')?;
                let inner = &body[..end];
                let split = inner.find(|c: char| !is_name(c)).unwrap_or(inner.len());
                let (name, op) = inner.split_at(split);
                let default = match op {
                    "" => None,
                    _ => Some(op.strip_prefix(":-").or_else(|| op.strip_prefix('-'))?),
                };
                (name, default, end + 2)
            }
            None => {
                let end = after.find(|c: char| !is_name(c)).unwrap_or(after.len());
                (&after[..end], None, end)
            }
        };
        if name.is_empty() {
            return None;
        }
        let value = vars.get(name).filter(|v| !v.is_empty());
        out.push_str(value.map(String::as_str).or(default)?);
        rest = &after[len..];
    }
    out.push_str(rest);
    Some(out)
}

/// Images a workflow or action runs: `uses: docker://…`, job `container:`, and `image:`
/// (of a container, a service container, a Docker action). (line, image as written)
pub fn workflow_images(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start().trim_start_matches("- ").trim_start();
        let value = match t.strip_prefix("uses:") {
            Some(v) => yaml_scalar(v).strip_prefix("docker://"),
            None => t
                .strip_prefix("container:")
                .or_else(|| t.strip_prefix("image:"))
                .map(|v| yaml_scalar(v).trim_start_matches("docker://")),
        };
        // A block (`container:` then `image:` below), a flow mapping, or an image built
        // from a Dockerfile of the repository.
        let Some(v) = value.filter(|v| {
            !v.is_empty() && !v.starts_with(['{', '[', '.', '/']) && !v.ends_with("Dockerfile")
        }) else {
            continue;
        };
        out.push((i + 1, v.to_string()));
    }
    out
}

/// The images of the tree's Dockerfiles, compose files and workflows, in that order.
pub(super) fn images(tree: &Tree) -> Vec<ImageUse> {
    let mut images = Vec::new();
    let none = BTreeMap::new();
    let mut add = |file: &PathBuf, line, written: String, resolved| {
        images.push(ImageUse {
            file: file.clone(),
            line,
            written,
            resolved,
        })
    };
    for f in &tree.dockerfiles {
        if let Ok(text) = fs::read_to_string(f) {
            for (line, written, resolved) in dockerfile_images(&text) {
                add(f, line, written, resolved);
            }
        }
    }
    for f in &tree.composes {
        if let Ok(text) = fs::read_to_string(f) {
            for (i, line) in text.lines().enumerate() {
                if let Some(v) = line.trim().strip_prefix("image:") {
                    let written = yaml_scalar(v).to_string();
                    let resolved = expand(&written, &none);
                    add(f, i + 1, written, resolved);
                }
            }
        }
    }
    for (f, text) in &tree.workflows {
        for (line, written) in workflow_images(text) {
            let resolved = expand(&written, &none);
            add(f, line, written, resolved);
        }
    }
    images
}

/// The Docker phase: each image's pinning, `latest` and end of life.
pub(super) fn check(scope: &Scope, images: Vec<ImageUse>, eols: &EolTable, out: &mut Outdated) {
    let today = chrono::Utc::now().date_naive();
    for ImageUse {
        file,
        line,
        written,
        resolved,
    } in images
    {
        let at = scope.cx.rel(&file);
        let Some(image) = resolved else {
            // Set at build or deploy time (e.g. ${APP_TAG}): listed, not checked.
            let r = parse_image(&written);
            if !scope.ignored(&r.image) {
                out.packages.push(Pkg {
                    ecosystem: Ecosystem::Docker,
                    name: r.image,
                    current: None,
                    compatible: None,
                    latest: None,
                    kind: Kind::Tag,
                    direct: true,
                    source: at,
                    line: Some(line),
                    notes: vec![format!("`{written}`: set at build or deploy time")],
                });
            }
            continue;
        };
        let r = parse_image(&image);
        let base = r.image.rsplit('/').next().unwrap_or(&r.image).to_string();
        if scope.ignored(&base) || scope.ignored(&r.image) {
            continue;
        }
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
            line: Some(line),
            notes,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outdated::image::ImageRef;

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
                (
                    2,
                    "python:${PY}-slim".to_string(),
                    Some("python:3.9-slim".to_string())
                ),
                (7, "node:18".to_string(), Some("node:18".to_string()))
            ]
        );
        // An ARG without a default (or an empty one) is set at build time.
        let imgs = dockerfile_images("ARG NOVAL\nARG EMPTY=\nFROM node:${NOVAL}\nFROM x:$EMPTY\n");
        assert_eq!(imgs[0].2, None);
        assert_eq!(imgs[1].2, None);
    }

    #[test]
    fn variables_and_defaults() {
        let vars = BTreeMap::from([
            ("A".to_string(), "1".to_string()),
            ("AB".to_string(), "2".to_string()),
        ]);
        let e = |s: &str| expand(s, &vars);
        assert_eq!(e("x:$A-$AB").as_deref(), Some("x:1-2"));
        assert_eq!(e("postgres:${PG:-12}").as_deref(), Some("postgres:12"));
        assert_eq!(
            e("postgres:${PG-12}-alpine").as_deref(),
            Some("postgres:12-alpine")
        );
        assert_eq!(e("x:${A:-9}").as_deref(), Some("x:1"));
        assert_eq!(e("hub:${APP_TAG}"), None);
        assert_eq!(e("${{ matrix.image }}"), None);
        assert_eq!(e("x:${A:?required}"), None);
        assert_eq!(e("x:$"), None);
    }

    #[test]
    fn images_of_workflows() {
        let wf = "jobs:\n  t:\n    container: node:16 # old\n    services:\n      db:\n        image: \"postgres:12\"\n    steps:\n      - uses: docker://alpine:3.16\n      - uses: actions/checkout@v4\n  u:\n    container:\n      image: python:3.7\nruns:\n  using: docker\n  image: Dockerfile\n";
        assert_eq!(
            workflow_images(wf),
            vec![
                (3, "node:16".to_string()),
                (6, "postgres:12".to_string()),
                (8, "alpine:3.16".to_string()),
                (12, "python:3.7".to_string()),
            ]
        );
    }
}
