//! The smaller parsers of untrusted text: what `outdated` reads from Dockerfiles, workflows
//! and registry answers (sparse index lines, the end-of-life API), and backup file names.
//! None may panic; every line number they give is a line of the input.

use proptest::prelude::*;

use super::{check, mutate, mutate_text, mutations, soup};
use crate::backup::Kind;
use crate::backup::store::parse_name;
use crate::outdated::EolTable;
use crate::outdated::actions::{python_versions, workflow_uses};
use crate::outdated::crates::parse_index;
use crate::outdated::docker::{dockerfile_images, expand, parse_image, workflow_images};

/// Mutated samples, per parser.
const MUTATED_CASES: u32 = 1000;
/// Token soup and arbitrary strings, per parser.
const ARBITRARY_CASES: u32 = 1000;

const DOCKERFILE: &str = "# syntax=docker/dockerfile:1
ARG PY=3.11
ARG BASE
FROM --platform=$BUILDPLATFORM python:${PY}-slim AS builder
RUN pip install -r requirements.txt \\
  && rm -rf /root/.cache
FROM builder AS test
FROM ${BASE:-debian}:bookworm
FROM scratch
FROM registry.example.com:5000/team/app@sha256:00ff as final
";

const WORKFLOW: &str = include_str!("../../tests/fixtures/workflows/unpinned-images.yml");
const ACTIONS: &str = include_str!("../../tests/fixtures/workflows/eol-runtime.yml");

const INDEX_LINES: &str = r#"{"name":"serde","vers":"1.0.0","deps":[],"cksum":"00","features":{},"yanked":false}
{"name":"serde","vers":"1.0.1-rc.1","deps":[],"cksum":"00","features":{},"yanked":true,"rust_version":"1.31"}
{"name":"serde","vers":"not a version","deps":[],"cksum":"00","features":{},"yanked":false}
"#;

const EOL_JSON: &str = r#"[{"cycle":"3.13","releaseDate":"2024-10-07","eol":"2029-10-31","latest":"3.13.1"},
{"cycle":3.8,"eol":"2024-10-07","codename":"Old"},{"cycle":"2","eol":false}]"#;

fn lines_ok(text: &str, lines: impl IntoIterator<Item = usize>) -> Result<(), TestCaseError> {
    let n = text.lines().count();
    for l in lines {
        prop_assert!((1..=n).contains(&l), "line {l} of {n}");
    }
    Ok(())
}

#[test]
fn outdated_text_parsers_never_panic() {
    check("mutated Dockerfile", MUTATED_CASES, mutations(6), |ms| {
        let text = mutate_text(DOCKERFILE, &ms);
        let images = dockerfile_images(&text);
        for (_, written, _) in &images {
            let _ = parse_image(written);
        }
        lines_ok(&text, images.iter().map(|i| i.0))
    });
    check(
        "mutated workflow for outdated",
        MUTATED_CASES,
        (prop::sample::select(&[WORKFLOW, ACTIONS][..]), mutations(6)),
        |(sample, ms)| {
            let text = mutate_text(sample, &ms);
            lines_ok(&text, workflow_images(&text).into_iter().map(|i| i.0))?;
            lines_ok(&text, workflow_uses(&text).into_iter().map(|u| u.0))?;
            lines_ok(&text, python_versions(&text).into_iter().map(|p| p.0))
        },
    );
    const TOKENS: &[&str] = &[
        "$", "{", "}", "${", ":-", "-", ":", "@", "/", "PY", "BASE", "x",
    ];
    check("image references", ARBITRARY_CASES, soup(TOKENS, 16), |s| {
        let vars = [
            ("PY".to_string(), "3.11".to_string()),
            ("BASE".to_string(), String::new()),
        ]
        .into_iter()
        .collect();
        let _ = expand(&s, &vars);
        let r = parse_image(&s);
        prop_assert!(
            s.starts_with(&r.image),
            "the image is the start of the reference"
        );
        Ok(())
    });
}

#[test]
fn registry_answers_never_panic() {
    check("mutated sparse index", MUTATED_CASES, mutations(6), |ms| {
        let body = mutate(INDEX_LINES.as_bytes(), &ms);
        for v in parse_index(&body) {
            let text = String::from_utf8_lossy(&body);
            prop_assert!(
                text.contains(&v.version.to_string())
                    || !v.version.build.is_empty()
                    || !v.version.pre.is_empty(),
                "{} is not in the answer",
                v.version
            );
        }
        Ok(())
    });
    check(
        "mutated end-of-life answer",
        MUTATED_CASES,
        mutations(6),
        |ms| {
            let mut t = EolTable::shipped();
            let _ = t.refresh("python", &mutate(EOL_JSON.as_bytes(), &ms));
            let _ = t.lookup("python", "3.8");
            Ok(())
        },
    );
}

#[test]
fn backup_file_names_never_panic() {
    let name = prop_oneof![
        any::<String>(),
        soup(
            &[
                "pipeline-backup-",
                "db_backup_",
                "20260101T000000Z",
                "-",
                "1",
                ".tar.gz",
                ".sqlite.gz",
                ".dump",
                "é"
            ],
            6
        ),
    ];
    check("backup names", ARBITRARY_CASES, name, |n| {
        for k in Kind::ALL {
            let _ = parse_name(k, &n);
        }
        Ok(())
    });
}
