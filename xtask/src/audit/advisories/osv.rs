//! OSV advisories, as JSON (RustSec's osv branch, osv.dev exports) or YAML (PyPA).

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::{Unreadable, parse_time};
use crate::audit::matching::cvss_score;
use crate::audit::model::{Advisory, Affected, PackageKey, Range, Rule};
use crate::deps::Ecosystem;

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
    database_specific: Option<Value>,
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
    versions: Vec<Value>,
    #[serde(default)]
    database_specific: Option<Value>,
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

pub fn from_json(bytes: &[u8], source: &Path) -> Result<Advisory, Unreadable> {
    match serde_json::from_slice::<OsvDoc>(bytes) {
        Ok(doc) => Ok(to_advisory(doc, source)),
        Err(e) => Err(Unreadable {
            message: json_error(&e, "JSON"),
            packages: serde_json::from_slice::<Value>(bytes)
                .map(|v| packages_named(&v))
                .unwrap_or_default(),
        }),
    }
}

pub fn from_yaml(text: &str, source: &Path) -> Result<Advisory, Unreadable> {
    if let Some((line, column)) = crate::util::yaml::alias_bomb(text) {
        return Err(Unreadable::new(format!(
            "aliases expand it past {} nodes at line {line}, column {column} (a YAML bomb): not read",
            crate::util::yaml::MAX_NODES
        )));
    }
    let docs = yaml_rust2::YamlLoader::load_from_str(text).map_err(|e| {
        let m = e.marker();
        Unreadable::new(format!(
            "not valid YAML at line {}, column {}",
            m.line(),
            m.col() + 1
        ))
    })?;
    let doc = docs
        .into_iter()
        .next()
        .ok_or_else(|| Unreadable::new("an empty YAML document"))?;
    let value = yaml_to_json(doc);
    match serde_json::from_value::<OsvDoc>(value.clone()) {
        Ok(doc) => Ok(to_advisory(doc, source)),
        Err(e) => Err(Unreadable {
            message: json_error(&e, "YAML"),
            packages: packages_named(&value),
        }),
    }
}

/// What went wrong, without the content serde quotes ("invalid type: string \"...\"").
/// Field names come from the schema above, so a missing one is named.
fn json_error(e: &serde_json::Error, format: &str) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "unreadable".to_string(),
        Category::Syntax => format!("not valid {format}"),
        Category::Eof => format!("{format} cut short"),
        Category::Data => match missing_field(&e.to_string()) {
            Some(f) => format!("not an OSV advisory (missing field `{f}`)"),
            None => "not an OSV advisory (a field has the wrong type or value)".to_string(),
        },
    };
    // A value converted from YAML has no position.
    if e.line() == 0 {
        what
    } else {
        format!("{what} at line {}, column {}", e.line(), e.column())
    }
}

/// The field named by serde's "missing field `x`" message.
pub(super) fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split_once('`').map(|(f, _)| f)
}

/// The packages a document that is not a valid advisory still names.
fn packages_named(v: &Value) -> Vec<PackageKey> {
    let mut out: Vec<PackageKey> = v["affected"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let eco = ecosystem(a["package"]["ecosystem"].as_str()?)?;
            let name = a["package"]["name"].as_str()?;
            Some(PackageKey::new(eco, eco.key(name)))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn yaml_to_json(y: yaml_rust2::Yaml) -> Value {
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
    // Prefer v3, then v4.
    list.iter()
        .find(|s| s.kind == "CVSS_V3")
        .or_else(|| list.iter().find(|s| s.kind == "CVSS_V4"))
        .map(|s| s.score.clone())
}

fn to_advisory(doc: OsvDoc, source: &Path) -> Advisory {
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
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
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
    Advisory {
        id: doc.id,
        aliases: doc.aliases,
        summary: summary(doc.summary, doc.details),
        withdrawn: doc.withdrawn.is_some(),
        informational,
        cvss_score: cvss.as_deref().and_then(cvss_score),
        cvss,
        severity_label,
        affected,
        modified: doc.modified.as_deref().and_then(parse_time),
        source: source.display().to_string(),
    }
}

/// The summary, else the first line of the details (at most 160 characters).
fn summary(summary: Option<String>, details: Option<String>) -> String {
    summary
        .filter(|s| !s.is_empty())
        .or_else(|| {
            details.map(|d| {
                d.lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(160)
                    .collect()
            })
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "hunter2-do-not-print";

    #[test]
    fn errors_name_the_place_never_the_content() {
        let src = Path::new("db");
        for (bytes, expect) in [
            (
                format!("\"{SECRET}\""),
                "not an OSV advisory (a field has the wrong type or value) at line 1, column 22",
            ),
            (
                format!("{{\"id\": 1, \"x\": \"{SECRET}\"}}"),
                "not an OSV advisory (a field has the wrong type or value) at line 1, column 8",
            ),
            (
                format!("{{\"summary\": \"{SECRET}\"}}"),
                "not an OSV advisory (missing field `id`) at line 1, column 35",
            ),
            (
                format!("{{\"id\": \"{SECRET}\"\n,,"),
                "not valid JSON at line 2, column 2",
            ),
            (
                format!("{{\"id\": \"{SECRET}"),
                "JSON cut short at line 1, column 28",
            ),
        ] {
            let e = from_json(bytes.as_bytes(), src).unwrap_err();
            assert_eq!(e.message, expect, "{bytes}");
        }
        for (text, expect) in [
            (
                SECRET.to_string(),
                "not an OSV advisory (a field has the wrong type or value)",
            ),
            (
                format!("id: [{SECRET}\n"),
                "not valid YAML at line 2, column 1",
            ),
            (
                format!("summary: {SECRET}\n"),
                "not an OSV advisory (missing field `id`)",
            ),
        ] {
            let e = from_yaml(&text, src).unwrap_err();
            assert_eq!(e.message, expect, "{text}");
        }
    }

    /// Found by `fuzz_tests::advisories`: 400 bytes of aliases of aliases took seconds to
    /// minutes and gigabytes to expand (billion laughs).
    #[test]
    fn a_yaml_bomb_is_refused_before_it_is_expanded() {
        let text = format!("id: X\n{}", crate::util::yaml::laughs(9));
        let e = crate::fuzz_tests::guard("YAML bomb", move || {
            from_yaml(&text, Path::new("db")).unwrap_err()
        });
        assert!(
            e.message.starts_with("aliases expand it past"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_broken_advisory_still_names_its_packages() {
        let e = from_json(
            br#"{"id": "X", "affected": [{"package": {"ecosystem": "PyPI", "name": "Zope.Interface"}, "ranges": 5}]}"#,
            Path::new("db"),
        )
        .unwrap_err();
        assert_eq!(
            e.packages,
            vec![PackageKey::new(Ecosystem::PyPI, "zope-interface")]
        );
        assert!(
            from_json(b"{ not json", Path::new("db"))
                .unwrap_err()
                .packages
                .is_empty()
        );
    }
}
