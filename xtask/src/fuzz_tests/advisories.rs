//! OSV JSON and YAML, RustSec Markdown: an advisory that cannot be read is an error that
//! never quotes the file; one that can is matched against versions without a panic; the same
//! OSV document reads the same as JSON and as YAML (JSON is YAML).

use std::path::Path;

use proptest::prelude::*;
use serde_json::json;

use super::{SECRET, bytes, check, guard, mutate, mutate_text, mutations, soup};
use crate::audit::advisories::osv::{from_json, from_yaml};
use crate::audit::advisories::rustsec::from_md;
use crate::audit::matching::{Ver, affected};
use crate::audit::model::Advisory;
use crate::deps::Ecosystem;

/// Mutated samples, per format (JSON, YAML, RustSec).
const MUTATED_CASES: u32 = 2000;
/// Generated OSV documents read as JSON and as YAML.
const GENERATED_CASES: u32 = 1000;
/// Arbitrary bytes and token soup, per format.
const ARBITRARY_CASES: u32 = 2000;

pub(super) const OSV_JSON: &str = r#"{
  "schema_version": "1.4.0",
  "id": "RUSTSEC-2021-0001",
  "modified": "2021-01-04T12:00:00Z",
  "published": "2021-01-04T12:00:00Z",
  "aliases": ["CVE-2021-1234", "GHSA-xxxx-yyyy-zzzz"],
  "summary": "Memory corruption in foo",
  "details": "The flaw hunter2-fuzz-secret lets a remote peer write past a buffer.",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
  "affected": [{
    "package": {"ecosystem": "crates.io", "name": "foo", "purl": "pkg:cargo/foo"},
    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0.0.0-0"}, {"fixed": "1.2.3"}, {"introduced": "2.0.0"}, {"last_affected": "2.0.4"}]}],
    "versions": ["0.1.0", 7],
    "database_specific": {"informational": "unsound", "categories": ["memory-corruption"]},
    "ecosystem_specific": {"affects": {"functions": ["foo::bar"]}}
  }, {
    "package": {"ecosystem": "PyPI", "name": "Zope.Interface"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.0.post1"}]}]
  }],
  "database_specific": {"severity": "HIGH"}
}
"#;

pub(super) const OSV_YAML: &str = "id: PYSEC-2021-1
modified: 2021-06-01T00:00:00Z
aliases:
- CVE-2021-1
- GHSA-aaaa-bbbb-cccc
details: |
  The package has a flaw (hunter2-fuzz-secret).
  A second line.
affected:
- package:
    name: Django
    ecosystem: PyPI
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: '0'
    - fixed: 3.1.2
    - introduced: '3.2'
    - fixed: 3.2.1
  versions:
  - '3.0'
  - 3.1.1
  - 3
references:
- type: WEB
  url: https://example.com/advisory
database_specific:
  severity: MODERATE
";

pub(super) const RUSTSEC_MD: &str = "```toml
[advisory]
id = \"RUSTSEC-2021-0002\"
package = \"bar\"
date = \"2021-02-01\"
url = \"https://example.com\"
categories = [\"denial-of-service\"]
aliases = [\"CVE-2021-2\"]
cvss = \"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H\"
informational = \"unmaintained\"

[versions]
patched = [\">= 1.2.0\", \"^0.9.3\"]
unaffected = [\"< 0.1.0\"]
```

# Bar loops for ever on hunter2-fuzz-secret input

Details.
";

/// Versions to match every advisory read against.
const VERSIONS: &[(Ecosystem, &str)] = &[
    (Ecosystem::Crates, "0.1.0"),
    (Ecosystem::Crates, "1.2.2"),
    (Ecosystem::Crates, "2.0.4"),
    (Ecosystem::Crates, "2.0.0-rc.1"),
    (Ecosystem::PyPI, "3.1.1"),
    (Ecosystem::PyPI, "5.0"),
    (Ecosystem::PyPI, "1!0.1.dev3+local"),
];

/// What any advisory file must give: an error that names no content, or an advisory that
/// matching can use.
fn sound(
    result: Result<Advisory, crate::audit::advisories::Unreadable>,
) -> Result<(), TestCaseError> {
    match result {
        Err(e) => {
            prop_assert!(
                !e.message.contains(SECRET),
                "an error quotes the file: {}",
                e.message
            );
            prop_assert!(!e.message.contains('\n'), "one line: {:?}", e.message);
        }
        Ok(a) => {
            for af in &a.affected {
                for (eco, v) in VERSIONS.iter().filter(|(e, _)| *e == af.ecosystem) {
                    let ver = Ver::parse(*eco, v).expect("a valid version");
                    let _ = affected(af, &ver, v);
                }
            }
        }
    }
    Ok(())
}

fn yaml(text: String) -> Result<Advisory, crate::audit::advisories::Unreadable> {
    guard("OSV YAML", move || from_yaml(&text, Path::new("db")))
}

#[test]
fn samples_read() {
    for (name, r) in [
        ("json", from_json(OSV_JSON.as_bytes(), Path::new("db"))),
        ("yaml", from_yaml(OSV_YAML, Path::new("db"))),
        ("md", from_md(RUSTSEC_MD, Path::new("db"))),
    ] {
        let a = r.unwrap_or_else(|e| panic!("{name}: {}", e.message));
        assert!(!a.affected.is_empty(), "{name}");
    }
}

#[test]
fn mutated_osv_json_never_quotes_or_panics() {
    check("mutated OSV JSON", MUTATED_CASES, mutations(6), |ms| {
        sound(from_json(
            &mutate(OSV_JSON.as_bytes(), &ms),
            Path::new("db"),
        ))
    });
}

#[test]
fn mutated_osv_yaml_never_quotes_panics_or_hangs() {
    check("mutated OSV YAML", MUTATED_CASES, mutations(6), |ms| {
        sound(yaml(mutate_text(OSV_YAML, &ms)))
    });
}

#[test]
fn mutated_rustsec_never_quotes_or_panics() {
    check("mutated RustSec", MUTATED_CASES, mutations(6), |ms| {
        sound(from_md(&mutate_text(RUSTSEC_MD, &ms), Path::new("db")))
    });
}

#[test]
fn arbitrary_advisory_input_never_panics() {
    const YAML_TOKENS: &[&str] = &[
        "id: X\n",
        "affected:\n",
        "- ",
        "  ",
        "package:\n",
        "name: a\n",
        "ecosystem: PyPI\n",
        "ranges:\n",
        "events:\n",
        "introduced: '0'\n",
        "fixed: 1.0\n",
        "&a ",
        "*a",
        "!!str ",
        "? ",
        ": ",
        "|\n",
        ">-\n",
        "---\n",
        "...\n",
        "{",
        "}",
        "[",
        "]",
        "\"",
        "'",
        "%YAML 1.2\n",
    ];
    check("arbitrary OSV JSON", ARBITRARY_CASES, bytes(512), |b| {
        sound(from_json(&b, Path::new("db")))
    });
    check(
        "OSV YAML soup",
        ARBITRARY_CASES,
        soup(YAML_TOKENS, 64),
        |t| sound(yaml(t)),
    );
    const MD_TOKENS: &[&str] = &[
        "```toml\n",
        "```\n",
        "[advisory]\n",
        "[versions]\n",
        "id = \"X\"\n",
        "package = \"p\"\n",
        "patched = [\">= 1\"]\n",
        "unaffected = [\"*\"]\n",
        "date = 5\n",
        "# Title\n",
        "\n",
    ];
    check("RustSec soup", ARBITRARY_CASES, soup(MD_TOKENS, 48), |t| {
        sound(from_md(&t, Path::new("db")))
    });
}

/// An OSV document from generated parts, as JSON text.
fn osv_doc() -> impl Strategy<Value = String> {
    let text = "[ -~]{0,12}|[a-zé中 ]{0,6}";
    let version = prop_oneof![
        "(0|[1-9])\\.[0-9]\\.[0-9]",
        "[0-9]\\.[0-9](rc1|\\.post1|\\.dev2)?",
        Just("0".to_string()),
        "[ -~]{0,6}",
    ];
    let event = (0..3usize, version.clone()).prop_map(|(k, v)| {
        let key = ["introduced", "fixed", "last_affected"][k];
        json!({ key: v })
    });
    let range = (
        prop::sample::select(&["SEMVER", "ECOSYSTEM", "GIT"][..]),
        prop::collection::vec(event, 0..5),
    )
        .prop_map(|(kind, events)| json!({"type": kind, "events": events}));
    let affected = (
        prop::sample::select(&["crates.io", "PyPI", "npm"][..]),
        "[A-Za-z][A-Za-z0-9._-]{0,8}",
        prop::collection::vec(range, 0..3),
        prop::collection::vec(version, 0..3),
    )
        .prop_map(|(eco, name, ranges, versions)| {
            json!({"package": {"ecosystem": eco, "name": name}, "ranges": ranges, "versions": versions})
        });
    (
        "[A-Z]{2,6}-[0-9]{1,4}",
        prop::collection::vec(text, 0..3),
        proptest::option::of(text),
        prop::collection::vec(affected, 0..4),
        any::<bool>(),
    )
        .prop_map(|(id, aliases, summary, affected, withdrawn)| {
            let mut doc = json!({"id": id, "aliases": aliases, "affected": affected});
            if let Some(s) = summary {
                doc["summary"] = json!(s);
            }
            if withdrawn {
                doc["withdrawn"] = json!("2024-01-01T00:00:00Z");
            }
            serde_json::to_string_pretty(&doc).expect("JSON")
        })
}

#[test]
fn generated_osv_reads_the_same_as_json_and_as_yaml() {
    check("generated OSV", GENERATED_CASES, osv_doc(), |text| {
        let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let a = from_json(text.as_bytes(), Path::new("db"))
            .map_err(|e| TestCaseError::fail(e.message))?;
        prop_assert_eq!(doc["id"].as_str(), Some(a.id.as_str()));
        let known = doc["affected"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|af| {
                matches!(
                    af["package"]["ecosystem"].as_str(),
                    Some("crates.io" | "PyPI")
                )
            })
            .count();
        prop_assert_eq!(
            a.affected.len(),
            known,
            "every affected package of a known ecosystem"
        );
        prop_assert_eq!(a.withdrawn, doc.get("withdrawn").is_some());
        let y = yaml(text.clone()).map_err(|e| TestCaseError::fail(e.message))?;
        prop_assert_eq!(
            serde_json::to_value(&a).expect("JSON"),
            serde_json::to_value(&y).expect("JSON"),
            "JSON and YAML readings differ"
        );
        sound(Ok(a))
    });
}
