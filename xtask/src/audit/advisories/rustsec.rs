//! RustSec's native advisory format: a ```toml front-matter block, then Markdown whose first
//! heading is the title.

use std::path::Path;

use serde::Deserialize;

use super::osv::missing_field;
use super::{Unreadable, line_column, parse_time};
use crate::audit::matching::cvss_score;
use crate::audit::model::{Advisory, Affected, PackageKey, Rule};
use crate::deps::Ecosystem;

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

pub fn from_md(text: &str, source: &Path) -> Result<Advisory, Unreadable> {
    let trimmed = text.trim_start();
    let body = trimmed
        .strip_prefix("```toml")
        .ok_or_else(|| Unreadable::new("no ```toml front matter at line 1, column 1"))?;
    let end = body
        .find("\n```")
        .ok_or_else(|| Unreadable::new("front matter is not closed with ``` (from line 1)"))?;
    let front = &body[..end];
    let doc: RustSecDoc = toml::from_str(front).map_err(|e| {
        let at = text.len() - body.len() + e.span().map_or(0, |s| s.start);
        let (line, column) = line_column(text.as_bytes(), at);
        let what = match missing_field(e.message()) {
            Some(f) => format!("not a RustSec advisory (missing field `{f}`)"),
            None => "front matter is not a valid RustSec advisory".to_string(),
        };
        Unreadable {
            message: format!("{what} at line {line}, column {column}"),
            packages: package_named(front).into_iter().collect(),
        }
    })?;
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
        cvss_score: a.cvss.as_deref().and_then(cvss_score),
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

/// The crate a front matter that is not a valid advisory still names.
fn package_named(front: &str) -> Option<PackageKey> {
    let t: toml::Table = toml::from_str(front).ok()?;
    let name = t.get("advisory")?.get("package")?.as_str()?;
    Some(PackageKey::new(Ecosystem::Crates, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_place_never_the_content() {
        let secret = "hunter2-do-not-print";
        for (text, expect) in [
            (
                format!("```toml\n[advisory]\nid = {secret}\n```\n"),
                "front matter is not a valid RustSec advisory at line 3, column 6",
            ),
            (
                format!("```toml\n[advisory]\nid = \"{secret}\"\n```\n"),
                "not a RustSec advisory (missing field `package`) at line 2, column 1",
            ),
            (
                secret.to_string(),
                "no ```toml front matter at line 1, column 1",
            ),
        ] {
            let e = from_md(&text, Path::new("db")).unwrap_err();
            assert_eq!(e.message, expect, "{text}");
        }
        let e = from_md(
            "```toml\n[advisory]\nid = \"X\"\npackage = \"foo\"\ndate = 5\n```\n",
            Path::new("db"),
        )
        .unwrap_err();
        assert_eq!(e.packages, vec![PackageKey::new(Ecosystem::Crates, "foo")]);
    }
}
