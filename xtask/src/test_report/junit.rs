//! JUnit XML as pytest (`--junitxml`), Maven Surefire, Gradle, Jest and others write it:
//! `<testsuites>` or `<testsuite>` at the root (suites may nest), `<testcase>` elements with
//! a `<failure>`, `<error>` or `<skipped>` child, and Surefire's `<flakyFailure>` /
//! `<rerunFailure>` for failed attempts of a test that was run again.

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, NaiveDateTime, Utc};
use quick_xml::events::{BytesStart, Event};
use serde::Serialize;

use crate::util::xml::{self, Step, attr, tag};

/// What became of one `<testcase>` element. Ordered by how bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Skipped,
    Failed,
    Error,
}

#[derive(Debug, Clone)]
pub struct Case {
    /// `classname::name` (or `name` without a class name).
    pub id: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub time: f64,
    pub outcome: Outcome,
    /// First line of the failure's, error's or skip's message.
    pub message: Option<String>,
    /// Failed attempts before a rerun (Surefire's flakyFailure / rerunFailure).
    pub failed_attempts: u32,
}

#[derive(Debug, Default)]
pub struct Parsed {
    pub timestamp: Option<DateTime<Utc>>,
    /// A commit recorded as a suite property (commit, git_commit, sha, GITHUB_SHA, ...).
    pub commit: Option<String>,
    /// The suite's own duration (root `<testsuites time>`, else its top-level suites').
    pub time: Option<f64>,
    pub cases: Vec<Case>,
    /// pytest writes `line` counted from 0.
    pytest: bool,
}

const COMMIT_PROPERTIES: &[&str] = &[
    "commit",
    "git_commit",
    "git_sha",
    "sha",
    "revision",
    "github_sha",
    "ci_commit_sha",
];

/// The root element's name, if the text is XML at all.
pub fn root_element(text: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) => return Some(tag(&e)),
            Event::Eof => return None,
            _ => {}
        }
    }
}

pub fn is_junit_root(name: &str) -> bool {
    matches!(name, "testsuites" | "testsuite")
}

fn number(e: &BytesStart, name: &str) -> Result<Option<f64>> {
    match attr(e, name)? {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => v
            .trim()
            .parse::<f64>()
            .map(Some)
            .with_context(|| format!("<{} {name}=\"{v}\">: {name} is not a number", tag(e))),
    }
}

fn timestamp(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    // Older pytest and Surefire: local time without an offset, taken as UTC.
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

pub fn first_line(s: &str) -> Option<String> {
    let l = s.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(l.chars().take(300).collect())
}

/// The `<testcase>` being read, and the text of its outcome element when that has no
/// `message` attribute.
struct Open {
    case: Case,
    text: Option<String>,
}

pub fn parse(text: &str) -> Result<Parsed> {
    // Text is not trimmed: a message's text arrives in pieces around entity references.
    let mut out = Parsed::default();
    let mut open: Option<Open> = None;
    let (mut root_time, mut suites_time) = (None, None::<f64>);
    let mut seen_root = false;
    xml::read(text, false, |stack, step| {
        let (e, name, empty) = match step {
            Step::Open { e, name, empty } => (e, name, empty),
            Step::Close(name) => {
                if name == "testcase" {
                    finish(&mut open, &mut out);
                }
                return Ok(());
            }
            Step::Text(t) | Step::CData(t) | Step::Ref(t) => {
                collect(&mut open, t);
                return Ok(());
            }
        };
        if stack.is_empty() && !is_junit_root(name) {
            bail!(
                "the root element is <{name}>, not <testsuites> or <testsuite>: not a JUnit report"
            );
        }
        seen_root = true;
        element(e, name, stack, &mut open, &mut out)?;
        match name {
            "testsuites" if stack.is_empty() => root_time = number(e, "time")?,
            // The top-level suites: the root one, or the children of <testsuites>.
            "testsuite" if stack.is_empty() || stack == ["testsuites"] => {
                if let Some(t) = number(e, "time")? {
                    suites_time = Some(suites_time.unwrap_or(0.0) + t);
                }
            }
            _ => {}
        }
        if empty && name == "testcase" {
            finish(&mut open, &mut out);
        }
        Ok(())
    })?;
    if !seen_root {
        bail!("no <testsuites> or <testsuite> element: not a JUnit report");
    }
    out.time = root_time.or(suites_time);
    if out.pytest {
        for c in &mut out.cases {
            c.line = c.line.map(|l| l + 1);
        }
    }
    Ok(out)
}

/// One start (or empty) element below the root.
fn element(
    e: &BytesStart,
    name: &str,
    stack: &[String],
    open: &mut Option<Open>,
    out: &mut Parsed,
) -> Result<()> {
    match name {
        "testsuites" | "testsuite" => {
            let suite = attr(e, "name")?.unwrap_or_default();
            out.pytest |= suite == "pytest" || suite == "pytest tests";
            if let Some(t) = attr(e, "timestamp")?.as_deref().and_then(timestamp) {
                out.timestamp = Some(out.timestamp.map_or(t, |o| o.min(t)));
            }
        }
        "property" if stack.last().is_some_and(|s| s == "properties") => {
            let key = attr(e, "name")?.unwrap_or_default().to_ascii_lowercase();
            if COMMIT_PROPERTIES.contains(&key.as_str())
                && let Some(v) = attr(e, "value")?.filter(|v| !v.trim().is_empty())
            {
                out.commit.get_or_insert(v.trim().to_string());
            }
        }
        "testcase" => {
            let name = attr(e, "name")?.unwrap_or_default();
            let class = attr(e, "classname")?.unwrap_or_default();
            let id = if class.is_empty() {
                name
            } else {
                format!("{class}::{name}")
            };
            *open = Some(Open {
                case: Case {
                    id,
                    file: attr(e, "file")?,
                    line: attr(e, "line")?.and_then(|l| l.parse().ok()),
                    time: number(e, "time")?.unwrap_or(0.0),
                    outcome: Outcome::Passed,
                    message: None,
                    failed_attempts: 0,
                },
                text: None,
            });
        }
        "failure" | "error" | "skipped" if stack.last().is_some_and(|s| s == "testcase") => {
            let Some(o) = open.as_mut() else {
                return Ok(());
            };
            let outcome = match name {
                "failure" => Outcome::Failed,
                "error" => Outcome::Error,
                _ => Outcome::Skipped,
            };
            if outcome > o.case.outcome {
                o.case.outcome = outcome;
                o.case.message = attr(e, "message")?.as_deref().and_then(first_line);
                o.text = o.case.message.is_none().then(String::new);
            }
        }
        "flakyFailure" | "flakyError" | "rerunFailure" | "rerunError" => {
            if let Some(o) = open.as_mut() {
                o.case.failed_attempts += 1;
            }
        }
        _ => {}
    }
    Ok(())
}

fn collect(open: &mut Option<Open>, s: &str) {
    if let Some(t) = open.as_mut().and_then(|o| o.text.as_mut())
        && t.len() < 4096
    {
        t.push_str(s);
    }
}

fn finish(open: &mut Option<Open>, out: &mut Parsed) {
    if let Some(mut o) = open.take() {
        if o.case.message.is_none() {
            o.case.message = o.text.as_deref().and_then(first_line);
        }
        out.cases.push(o.case);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_suites_reruns_and_messages() {
        let xml = r#"<?xml version="1.0"?>
<testsuites time="3.5"><testsuite name="a" timestamp="2026-01-02T03:04:05">
  <properties><property name="GITHUB_SHA" value="abc123"/></properties>
  <testsuite name="inner" time="1.0">
    <testcase classname="A" name="ok" time="0.5"/>
    <testcase classname="A" name="bad" time="1.5"><failure>Expected &lt;1&gt;
at A.java:3</failure></testcase>
  </testsuite>
  <testcase name="retried" time="0.1"><flakyFailure message="first try"><stackTrace>x</stackTrace></flakyFailure></testcase>
  <testcase classname="B" name="skip"><skipped/></testcase>
  <testcase classname="B" name="err"><error message="boom&#10;second"/></testcase>
</testsuite></testsuites>"#;
        let p = parse(xml).unwrap();
        assert_eq!(p.time, Some(3.5));
        assert_eq!(p.commit.as_deref(), Some("abc123"));
        assert_eq!(
            p.timestamp.unwrap().to_rfc3339(),
            "2026-01-02T03:04:05+00:00"
        );
        let ids: Vec<&str> = p.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["A::ok", "A::bad", "retried", "B::skip", "B::err"]);
        assert_eq!(p.cases[1].outcome, Outcome::Failed);
        assert_eq!(p.cases[1].message.as_deref(), Some("Expected <1>"));
        assert_eq!(
            (p.cases[2].outcome, p.cases[2].failed_attempts),
            (Outcome::Passed, 1)
        );
        assert_eq!(p.cases[3].outcome, Outcome::Skipped);
        assert_eq!(p.cases[4].message.as_deref(), Some("boom"));
    }

    #[test]
    fn not_junit_or_truncated_is_an_error() {
        let err = parse("<coverage/>").unwrap_err().to_string();
        assert!(err.contains("not a JUnit report"), "{err}");
        let err = parse("<testsuite><testcase name='a'>")
            .unwrap_err()
            .to_string();
        assert!(err.contains("truncated"), "{err}");
        let err = format!(
            "{:#}",
            parse("<testsuite><testcase name='a' time='x'/></testsuite>").unwrap_err()
        );
        assert!(err.contains("time is not a number"), "{err}");
        assert_eq!(
            root_element("<?xml version='1.0'?><testsuite/>").as_deref(),
            Some("testsuite")
        );
    }
}
