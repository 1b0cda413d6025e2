//! `workflows lint` on the fixture workflows of `xtask/tests/fixtures/workflows/`: every
//! check at its exact line, a clean workflow with nothing, SARIF against the 2.1.0 schema,
//! ignores, and zizmor's findings on the same files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workflows")
}

fn fixture_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    v.sort();
    v
}

/// A temp project whose `.github/workflows/` holds the given fixture files.
fn tree_with(files: &[&str]) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    for f in files {
        let text = std::fs::read_to_string(fixtures().join(f)).unwrap();
        write(t.path(), &format!(".github/workflows/{f}"), &text);
    }
    t
}

/// A temp project holding every fixture (their names returned, in order).
fn tree_with_every_fixture() -> (tempfile::TempDir, Vec<String>) {
    let names: Vec<String> = fixture_files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let t = tree_with(&names.iter().map(String::as_str).collect::<Vec<_>>());
    (t, names)
}

/// The `# expect: CODE[, CODE]` markers of a fixture: (line, code).
fn expected(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some((_, codes)) = line.split_once("expect: ") {
            out.extend(codes.split(',').map(|c| (i + 1, c.trim().to_string())));
        }
    }
    out.sort();
    out
}

fn found(v: &Value) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = findings(v)
        .iter()
        .map(|f| {
            (
                f["line"].as_u64().unwrap() as usize,
                f["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn lint(root: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--format", "json", "workflows", "lint"];
    all.extend(args);
    xtask(root, &all)
}

/// One fixture per check: exactly the marked findings, each at its marked line.
#[test]
fn every_check_is_reported_at_its_exact_line() {
    let (t, names) = tree_with_every_fixture();
    let mut codes_seen = BTreeSet::new();
    for name in &names {
        let rel = format!(".github/workflows/{name}");
        let text = std::fs::read_to_string(t.path().join(&rel)).unwrap();
        let run = lint(t.path(), &["--fail-on", "info", &rel]);
        let v = run.json();
        assert_eq!(found(&v), expected(&text), "{name}: {:#}", v["findings"]);
        for f in findings(&v) {
            assert_eq!(f["path"], rel.as_str());
            assert!(f["column"].as_u64().unwrap() >= 1, "{f}");
            assert!(
                !f["fix"].as_str().unwrap().is_empty(),
                "every finding says how to fix it: {f}"
            );
            codes_seen.insert(f["code"].as_str().unwrap().to_string());
        }
        let want = if expected(&text).is_empty() { 0 } else { 1 };
        assert_eq!(run.code, want, "{name}: {}", run.stderr);
    }
    for code in [
        "unpinned-uses",
        "excessive-permissions",
        "template-injection",
        "dangerous-triggers",
        "hardcoded-credentials",
        "secrets-inherit",
        "insecure-commands",
        "deprecated-commands",
        "missing-timeout",
        "artipacked",
        "retired-runner",
        "eol-runtime",
        "unpinned-images",
    ] {
        assert!(codes_seen.contains(code), "no fixture exercises {code}");
    }
}

#[test]
fn severities_follow_the_kind_of_problem() {
    let t = tree_with(&[
        "unpinned-uses.yml",
        "dangerous-triggers.yml",
        "artipacked.yml",
        "unpinned-images.yml",
    ]);
    let v = lint(t.path(), &["--fail-on", "info"]).json();
    let sev = |file: &str, line: u64| -> String {
        findings(&v)
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(file) && f["line"] == line)
            .unwrap_or_else(|| panic!("{file}:{line} in {v:#}"))["severity"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(sev("unpinned-uses.yml", 10), "medium", "a tag");
    assert_eq!(
        sev("unpinned-uses.yml", 13),
        "high",
        "a branch is worse than a tag"
    );
    assert_eq!(
        sev("dangerous-triggers.yml", 3),
        "high",
        "the job checks out the PR head"
    );
    assert_eq!(
        sev("artipacked.yml", 10),
        "medium",
        "the workflow uploads artifacts"
    );
    assert_eq!(sev("unpinned-images.yml", 9), "high", "latest");
    assert_eq!(sev("unpinned-images.yml", 12), "medium", "a tag");
}

/// SHA-pinned, least privilege, timeouts, no persisted token: nothing at all, exit 0.
#[test]
fn a_clean_workflow_gives_no_finding_and_exit_0() {
    let t = tree_with(&["clean.yml"]);
    let run = lint(t.path(), &["--fail-on", "info"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.json()["findings"], serde_json::json!([]));
    let table = xtask(t.path(), &["workflows", "lint"]);
    assert!(
        table
            .stdout
            .contains(".github/workflows/clean.yml  workflow  1     0"),
        "{}",
        table.stdout
    );
}

#[test]
fn an_artipacked_checkout_alone_is_low_and_does_not_fail_the_default_threshold() {
    let t = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixtures().join("clean.yml"))
        .unwrap()
        .replace("        with:\n          persist-credentials: false\n", "");
    write(t.path(), ".github/workflows/ci.yml", &text);
    let run = lint(t.path(), &[]);
    assert_eq!(run.code, 0, "low is under the default threshold (medium)");
    let f = finding_with_code(&run.json(), "artipacked").clone();
    assert_eq!(
        (
            f["severity"].as_str(),
            f["line"].as_u64(),
            f["column"].as_u64()
        ),
        (Some("low"), Some(21), Some(9))
    );
    assert_eq!(lint(t.path(), &["--fail-on", "low"]).code, 1);
}

#[test]
fn ignores_need_a_reason_and_expire_into_findings() {
    let t = tree_with(&["missing-timeout.yml", "secrets-inherit.yml"]);
    write(
        t.path(),
        "maintenance.toml",
        "[workflows]\nignore = [\n  { code = \"missing-timeout\", path = \".github/workflows/*.yml\", reason = \"short job\" },\n  { code = \"secrets-inherit\", reason = \"same org\", until = \"2020-01-01\" },\n]\n",
    );
    let run = lint(t.path(), &["--fail-on", "info"]);
    let v = run.json();
    let codes = strings_of(&v["findings"], "code");
    assert!(!codes.contains(&"missing-timeout"), "accepted: {v:#}");
    assert!(
        codes.contains(&"secrets-inherit"),
        "an expired ignore hides nothing: {v:#}"
    );
    let expired = finding_with_code(&v, "exception-expired");
    assert_eq!(place_of(expired), (Some("maintenance.toml"), Some(4)));
    assert_eq!(v["ignored"], 1);

    write(
        t.path(),
        "maintenance.toml",
        "[workflows]\nignore = [{ code = \"missing-timeout\", reason = \" \" }]\n",
    );
    let run = xtask(t.path(), &["workflows", "lint"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("reason"), "{}", run.stderr);
}

#[test]
fn broken_yaml_is_an_input_error_with_its_line() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        ".github/workflows/bad.yml",
        "on: push\njobs:\n  a: [1, 2\n  b: 3\n",
    );
    write(
        t.path(),
        ".github/actions/setup/action.yml",
        "runs:\n  using: composite\n  steps:\n    - uses: actions/cache@v4\n",
    );
    // GitHub reads only the top of .github/workflows: a nested YAML file is not a workflow.
    write(
        t.path(),
        ".github/workflows/templates/partial.yml",
        "a: [\n",
    );
    let run = lint(t.path(), &[]);
    assert_eq!(run.code, 2, "part of the input could not be read");
    let v = run.json();
    assert_eq!(v["files"].as_array().unwrap().len(), 2, "{v:#}");
    let e = finding_with_code(&v, "input-error");
    assert_eq!(e["path"], ".github/workflows/bad.yml");
    assert!(e["line"].as_u64().unwrap() >= 3, "{e}");
    let action = finding_with_code(&v, "unpinned-uses");
    assert_eq!(
        place_of(action),
        (Some(".github/actions/setup/action.yml"), Some(4))
    );
    let missing = xtask(t.path(), &["workflows", "lint", "nope.yml"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("nope.yml"), "{}", missing.stderr);
}

/// A credential's value never reaches the report.
#[test]
fn hardcoded_values_are_not_printed() {
    let t = tree_with(&["hardcoded-credentials.yml"]);
    for format in ["json", "table", "markdown", "sarif"] {
        let run = xtask(t.path(), &["--format", format, "workflows", "lint"]);
        assert!(
            !run.stdout.contains("hunter2") && !run.stdout.contains("tok-1234567890"),
            "{format}: {}",
            run.stdout
        );
    }
}

/// Our SARIF, validated against the SARIF 2.1.0 JSON schema (checked in from the OASIS
/// specification) by the small draft-07 validator below.
#[test]
fn sarif_validates_against_the_2_1_0_schema() {
    let (t, _) = tree_with_every_fixture();
    let run = xtask(t.path(), &["--format", "sarif", "workflows", "lint"]);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sarif-schema-2.1.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut errors = Vec::new();
    validate(&schema, &schema, &doc, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert!(results.len() > 20);
    for r in results {
        let region = &r["locations"][0]["physicalLocation"]["region"];
        assert!(
            region["startLine"].as_u64().unwrap() >= 1
                && region["startColumn"].as_u64().unwrap() >= 1,
            "{r}"
        );
    }
    // The validator itself rejects what the schema forbids.
    let mut bad = doc.clone();
    bad["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        Value::from(0);
    bad["version"] = Value::from("2.0");
    let mut errors = Vec::new();
    validate(&schema, &schema, &bad, "$", &mut errors);
    assert_eq!(errors.len(), 2, "{errors:#?}");
}

/// A JSON-schema (draft-07) validator for the keywords the SARIF schema uses: `$ref`,
/// `type`, `enum`, `properties`, `additionalProperties`, `required`, `items`, `minItems`,
/// `uniqueItems`, `minimum`, `anyOf`; `format` is an annotation; `pattern` is refused
/// (no field we write has one).
fn validate(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.strip_prefix("#/definitions/").expect("local $ref");
        return validate(root, &root["definitions"][name], v, at, errors);
    }
    let mut err = |m: String| errors.push(format!("{at}: {m}"));
    if let Some(t) = schema["type"].as_str() {
        let ok = match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            other => panic!("type {other}"),
        };
        if !ok {
            return err(format!("not a {t}: {v}"));
        }
    }
    if let Some(e) = schema["enum"].as_array()
        && !e.contains(v)
    {
        err(format!("{v} not in {e:?}"));
    }
    if let Some(min) = schema["minimum"].as_f64()
        && v.as_f64().is_some_and(|x| x < min)
    {
        err(format!("{v} < {min}"));
    }
    assert!(
        schema.get("pattern").is_none() || !v.is_string(),
        "{at}: pattern unsupported"
    );
    if let Some(any) = schema["anyOf"].as_array() {
        let ok = any.iter().any(|s| {
            let mut e = Vec::new();
            validate(root, s, v, at, &mut e);
            e.is_empty()
        });
        if !ok {
            errors.push(format!("{at}: matches no anyOf branch"));
        }
    }
    if let Some(obj) = v.as_object() {
        for r in schema["required"].as_array().into_iter().flatten() {
            if !obj.contains_key(r.as_str().unwrap()) {
                errors.push(format!("{at}: missing {r}"));
            }
        }
        for (k, val) in obj {
            match schema["properties"].get(k) {
                Some(s) => validate(root, s, val, &format!("{at}.{k}"), errors),
                None => match &schema["additionalProperties"] {
                    Value::Bool(false) => errors.push(format!("{at}: unexpected {k}")),
                    s @ Value::Object(_) => validate(root, s, val, &format!("{at}.{k}"), errors),
                    _ => {}
                },
            }
        }
    }
    if let Some(items) = v.as_array() {
        if schema["minItems"]
            .as_u64()
            .is_some_and(|m| (items.len() as u64) < m)
        {
            errors.push(format!("{at}: fewer than minItems"));
        }
        if schema["uniqueItems"] == true {
            let set: BTreeSet<String> = items.iter().map(|i| i.to_string()).collect();
            if set.len() != items.len() {
                errors.push(format!("{at}: items not unique"));
            }
        }
        if schema["items"].is_object() {
            for (i, item) in items.iter().enumerate() {
                validate(root, &schema["items"], item, &format!("{at}[{i}]"), errors);
            }
        }
    }
}

/// zizmor's audits that a check of ours covers, by zizmor ident → our code.
const ZIZMOR_AUDITS: &[(&str, &str)] = &[
    ("unpinned-uses", "unpinned-uses"),
    ("excessive-permissions", "excessive-permissions"),
    ("template-injection", "template-injection"),
    ("dangerous-triggers", "dangerous-triggers"),
    ("hardcoded-container-credentials", "hardcoded-credentials"),
    ("secrets-inherit", "secrets-inherit"),
    ("insecure-commands", "insecure-commands"),
    ("artipacked", "artipacked"),
    ("unpinned-images", "unpinned-images"),
];

/// zizmor (from PyPI; `.ci/run` installs it) on the same fixtures: every finding of an audit
/// we cover is ours too, in the same file, at a line inside zizmor's primary location (or
/// at one of its related locations: ours points at the key to fix, e.g. `secrets:
/// inherit`, where zizmor's primary is the `uses:` of the call).
#[test]
fn every_zizmor_finding_of_a_covered_audit_is_ours_at_the_same_line() {
    if !has_program("zizmor") {
        if std::env::var("XTASK_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
            panic!("zizmor is required (XTASK_REQUIRE_SERVICES=1): pip install zizmor");
        }
        eprintln!("skipped: zizmor not installed (pip install zizmor)");
        return;
    }
    let files = fixture_files();
    let out = std::process::Command::new("zizmor")
        .args([
            "--offline",
            "--no-config",
            "--persona",
            "regular",
            "--format",
            "json",
            "--no-progress",
        ])
        .args(&files)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let theirs: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "zizmor JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let t = tree_with(&[]);
    let mut args = vec![
        "--format".to_string(),
        "json".into(),
        "workflows".into(),
        "lint".into(),
        "--fail-on".into(),
        "info".into(),
    ];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let ours = xtask(
        t.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .json();
    let mut compared = 0;
    for z in theirs.as_array().unwrap() {
        let ident = z["ident"].as_str().unwrap();
        let Some((_, code)) = ZIZMOR_AUDITS.iter().find(|(i, _)| *i == ident) else {
            continue;
        };
        let locs = z["locations"].as_array().unwrap();
        let primary = locs
            .iter()
            .find(|l| l["symbolic"]["kind"] == "Primary")
            .unwrap();
        let file = primary["symbolic"]["key"]["Local"]["verbatim_path"]
            .as_str()
            .unwrap();
        let span = &primary["concrete"]["location"];
        let (from, to) = (
            span["start_point"]["row"].as_u64().unwrap() + 1,
            span["end_point"]["row"].as_u64().unwrap() + 1,
        );
        let related: Vec<u64> = locs
            .iter()
            .filter(|l| l["symbolic"]["kind"] == "Related")
            .map(|l| {
                l["concrete"]["location"]["start_point"]["row"]
                    .as_u64()
                    .unwrap()
                    + 1
            })
            .collect();
        let hit = findings(&ours).iter().any(|f| {
            let line = f["line"].as_u64().unwrap_or(0);
            f["code"] == *code
                && f["path"]
                    .as_str()
                    .is_some_and(|p| Path::new(p).file_name() == Path::new(file).file_name())
                && ((from..=to).contains(&line) || related.contains(&line))
        });
        assert!(
            hit,
            "zizmor {ident} at {file}:{from} is not ours ({code}): {:#}",
            ours["findings"]
        );
        compared += 1;
    }
    assert!(
        compared >= 12,
        "zizmor found only {compared} comparable findings: {theirs:#}"
    );
}
