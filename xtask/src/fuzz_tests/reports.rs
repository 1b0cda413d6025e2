//! Test and coverage reports: JUnit XML, Cobertura XML, lcov and coverage.py JSON. A report
//! cut short is an error, never a shorter report; one that parses gives numbers the
//! analysis and the totals take without a panic, and percentages between 0 and 100.

use proptest::prelude::*;
use serde_json::json;

use super::{check, mutate_text, mutations, soup};
use crate::coverage::model::{FileCov, Numbers, Threshold, Totals, display_covered};
use crate::coverage::{cobertura, json as cov_json, lcov};
use crate::test_report::history::{Run, analyse};
use crate::test_report::junit;

/// Mutated samples, per format.
const MUTATED_CASES: u32 = 2000;
/// Samples cut at a random point, per format.
const CUT_CASES: u32 = 500;
/// Generated coverage.py JSON reports with counts anywhere in u64.
const COUNTS_CASES: u32 = 1000;
/// XML-token soup.
const SOUP_CASES: u32 = 1000;

const JUNIT: &[&str] = &[
    include_str!("../../tests/fixtures/junit/pytest-failures.xml"),
    include_str!("../../tests/fixtures/junit/flaky/run-1.xml"),
    include_str!("../../tests/fixtures/junit/flaky/run-2.xml"),
    include_str!("../../tests/fixtures/junit/flaky/run-3.xml"),
];
const COBERTURA: &str = include_str!("../../tests/fixtures/coverage/coverage.xml");
const LCOV: &str = include_str!("../../tests/fixtures/coverage/lcov.info");
const COVERAGE_JSON: &str = include_str!("../../tests/fixtures/coverage/coverage.json");

/// What `tests report` does with a parsed report: runs and their analysis.
fn junit_sound(text: &str) -> Result<(), TestCaseError> {
    let Ok(p) = junit::parse(text) else {
        return Ok(());
    };
    let time = p
        .time
        .unwrap_or_else(|| p.cases.iter().map(|c| c.time).sum());
    let run = |i: usize| Run {
        file: format!("run-{i}.xml"),
        when: p.timestamp.unwrap_or_default(),
        commit: p.commit.clone(),
        time,
        cases: p.cases.clone(),
    };
    let runs = [run(0), run(1)];
    let a = analyse(&runs, 5, 10);
    prop_assert_eq!(a.totals.tests, 2 * p.cases.len() as u64);
    Ok(())
}

/// What `coverage check` does with the files of a report: per-file and total numbers.
fn coverage_sound(files: &[FileCov]) -> Result<(), TestCaseError> {
    let mut total = Numbers::default();
    for f in files {
        prop_assert!(
            f.missing.is_subset(&f.statements),
            "{}: missing lines that are not statements",
            f.path
        );
        prop_assert!(
            f.missing_branches <= f.branches,
            "{}: more missing branches than branches",
            f.path
        );
        let n = f.numbers();
        let pc = n.percent();
        prop_assert!((0.0..=100.0).contains(&pc), "{}: {pc}%", f.path);
        let _ = f.missing_text();
        let _ = display_covered(pc, 2);
        total = total + n;
    }
    let t = Totals::new(&total, 3);
    prop_assert!(
        (0.0..=100.0).contains(&t.percent_covered),
        "total {}%",
        t.percent_covered
    );
    let th = Threshold {
        min: 80.0,
        precision: 2,
    };
    let _ = (
        th.shown(t.percent_covered),
        th.shown_min(),
        th.fails(t.percent_covered),
    );
    Ok(())
}

#[test]
fn mutated_reports_never_panic() {
    check(
        "mutated JUnit",
        MUTATED_CASES,
        (prop::sample::select(JUNIT), mutations(6)),
        |(s, ms)| junit_sound(&mutate_text(s, &ms)),
    );
    check(
        "mutated Cobertura",
        MUTATED_CASES,
        mutations(6),
        |ms| match cobertura::parse(&mutate_text(COBERTURA, &ms)) {
            Ok(p) => coverage_sound(&p.files),
            Err(_) => Ok(()),
        },
    );
    check(
        "mutated lcov",
        MUTATED_CASES,
        mutations(6),
        |ms| match lcov::parse(&mutate_text(LCOV, &ms)) {
            Ok(files) => coverage_sound(&files),
            Err(_) => Ok(()),
        },
    );
    check(
        "mutated coverage JSON",
        MUTATED_CASES,
        mutations(6),
        |ms| match cov_json::parse(&mutate_text(COVERAGE_JSON, &ms)) {
            Ok(files) => coverage_sound(&files),
            Err(_) => Ok(()),
        },
    );
}

/// Where `text` is complete: the end of the root element's closing tag (XML), of the last
/// `end_of_record` (lcov), of the closing brace (JSON).
fn complete_at(text: &str, end: &str) -> usize {
    text.rfind(end).expect("the sample's end") + end.len()
}

#[test]
fn reports_cut_short_are_errors() {
    for s in JUNIT {
        let end = if s.contains("</testsuites>") {
            "</testsuites>"
        } else {
            "</testsuite>"
        };
        let whole = complete_at(s, end);
        check(
            "cut JUnit",
            CUT_CASES / 4,
            any::<prop::sample::Index>(),
            |cut| {
                let at = cut.index(whole);
                prop_assert!(
                    junit::parse(&s[..at]).is_err(),
                    "JUnit cut at {at} of {whole} parses"
                );
                Ok(())
            },
        );
    }
    let whole = complete_at(COBERTURA, "</coverage>");
    check(
        "cut Cobertura",
        CUT_CASES,
        any::<prop::sample::Index>(),
        |cut| {
            let at = cut.index(whole);
            prop_assert!(
                cobertura::parse(&COBERTURA[..at]).is_err(),
                "Cobertura cut at {at} parses"
            );
            Ok(())
        },
    );
    let whole = complete_at(COVERAGE_JSON, "}");
    check(
        "cut coverage JSON",
        CUT_CASES,
        any::<prop::sample::Index>(),
        |cut| {
            let at = cut.index(whole);
            prop_assert!(
                cov_json::parse(&COVERAGE_JSON[..at]).is_err(),
                "JSON cut at {at} parses"
            );
            Ok(())
        },
    );
    // lcov has no end of its own: a cut between records is a shorter tracefile. Any other
    // cut is an error.
    check("cut lcov", CUT_CASES, any::<prop::sample::Index>(), |cut| {
        let at = cut.index(LCOV.len());
        let head = &LCOV[..at];
        if !head.trim_end().ends_with("end_of_record") {
            prop_assert!(
                lcov::parse(head).is_err(),
                "lcov cut inside a record at {at} parses"
            );
        }
        Ok(())
    });
}

#[test]
fn coverage_counts_anywhere_in_u64_never_overflow() {
    let count = prop_oneof![0u64..100, any::<u64>(), Just(u64::MAX)];
    let file = (
        count.clone(),
        count.clone(),
        count,
        prop::collection::vec(1u32..50, 0..6),
    );
    check(
        "coverage counts",
        COUNTS_CASES,
        prop::collection::vec(file, 1..4),
        |files| {
            let mut doc = json!({"meta": {"format": 3}, "files": {}});
            for (i, (branches, missing, partial, lines)) in files.iter().enumerate() {
                doc["files"][format!("f{i}.py")] = json!({
                    "executed_lines": lines,
                    "missing_lines": [],
                    "summary": {"num_branches": branches, "missing_branches": missing.min(branches), "num_partial_branches": partial},
                });
            }
            let text = doc.to_string();
            if let Ok(files) = cov_json::parse(&text) {
                coverage_sound(&files)?;
            }
            let mut lcov = String::new();
            for (i, (brf, brh, _, lines)) in files.iter().enumerate() {
                lcov.push_str(&format!("SF:f{i}.py\n"));
                for l in lines {
                    lcov.push_str(&format!("DA:{l},1\n"));
                }
                lcov.push_str(&format!("BRF:{brf}\nBRH:{}\nend_of_record\n", brh.min(brf)));
            }
            if let Ok(files) = lcov::parse(&lcov) {
                coverage_sound(&files)?;
            }
            Ok(())
        },
    );
}

#[test]
fn xml_token_soup_never_panics() {
    const TOKENS: &[&str] = &[
        "<testsuites>",
        "</testsuites>",
        "<testsuite name=\"pytest\" time=\"NaN\">",
        "</testsuite>",
        "<testcase classname=\"c\" name=\"t\" time=\"inf\" line=\"4294967296\">",
        "</testcase>",
        "<failure message=\"m\"/>",
        "<error>",
        "</error>",
        "<skipped/>",
        "<flakyFailure/>",
        "<properties><property name=\"commit\" value=\"abc\"/></properties>",
        "<coverage>",
        "</coverage>",
        "<class filename=\"f.py\">",
        "</class>",
        "<lines>",
        "</lines>",
        "<line number=\"1\" hits=\"1e400\" branch=\"true\" condition-coverage=\"50% (1/2)\"/>",
        "<line number=\"-1\" hits=\"0\"/>",
        "<sources><source>/x</source></sources>",
        "<?xml version=\"1.0\"?>",
        "<!DOCTYPE x [<!ENTITY a \"b\">]>",
        "&a;",
        "&#0;",
        "&#x1F600;",
        "<![CDATA[x]]>",
        "<!-- c -->",
        "\n",
    ];
    check("XML soup", SOUP_CASES, soup(TOKENS, 40), |text| {
        junit_sound(&text)?;
        if let Ok(p) = cobertura::parse(&text) {
            coverage_sound(&p.files)?;
        }
        Ok(())
    });
}
