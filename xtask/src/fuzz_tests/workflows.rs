//! Workflow YAML: the positioned tree and every lint rule over it. A file either does not
//! parse (an error with its line) or parses to nodes and findings whose positions are real
//! places in the file; nothing panics or hangs (aliases are bounded).

use proptest::prelude::*;

use super::{check, guard, mutate_text, mutations, soup};
use crate::config::WorkflowsConfig;
use crate::outdated::EolTable;
use crate::workflows::rules::{self, FileKind, Wf};
use crate::workflows::yaml::{self, Lines, Node, Pos, Value};

/// Mutated fixtures (every rule's fixture and the project's CI workflow).
const MUTATED_CASES: u32 = 2000;
/// Workflow-token soup.
const SOUP_CASES: u32 = 1000;

const SAMPLES: &[&str] = &[
    include_str!("../../tests/fixtures/workflows/artipacked.yml"),
    include_str!("../../tests/fixtures/workflows/clean.yml"),
    include_str!("../../tests/fixtures/workflows/commands.yml"),
    include_str!("../../tests/fixtures/workflows/dangerous-triggers.yml"),
    include_str!("../../tests/fixtures/workflows/eol-runtime.yml"),
    include_str!("../../tests/fixtures/workflows/excessive-permissions.yml"),
    include_str!("../../tests/fixtures/workflows/hardcoded-credentials.yml"),
    include_str!("../../tests/fixtures/workflows/missing-timeout.yml"),
    include_str!("../../tests/fixtures/workflows/retired-runner.yml"),
    include_str!("../../tests/fixtures/workflows/secrets-inherit.yml"),
    include_str!("../../tests/fixtures/workflows/template-injection.yml"),
    include_str!("../../tests/fixtures/workflows/unpinned-images.yml"),
    include_str!("../../tests/fixtures/workflows/unpinned-uses.yml"),
    include_str!("../../../.github/workflows/ci.yml"),
];

fn valid_pos(text: &str, p: Pos, what: &str) -> Result<(), TestCaseError> {
    let lines = text.split('\n').count();
    prop_assert!(
        p.offset <= text.len(),
        "{what}: offset {} past the end",
        p.offset
    );
    prop_assert!(
        text.is_char_boundary(p.offset),
        "{what}: offset {} inside a character",
        p.offset
    );
    prop_assert!(
        (1..=lines).contains(&p.line),
        "{what}: line {} of {lines}",
        p.line
    );
    prop_assert!(p.col >= 1, "{what}: column 0");
    Ok(())
}

fn walk(text: &str, n: &Node) -> Result<(), TestCaseError> {
    valid_pos(text, n.pos, "node")?;
    match &n.value {
        Value::Scalar(_) => Ok(()),
        Value::Seq(items) => items.iter().try_for_each(|i| walk(text, i)),
        Value::Map(entries) => entries.iter().try_for_each(|(k, v)| {
            walk(text, k)?;
            walk(text, v)
        }),
    }
}

/// Parse and lint `text` as a workflow and as an action; check every position.
fn lint(text: String) -> Result<(), TestCaseError> {
    let result = guard("workflow lint", move || {
        let lines = Lines::new(&text);
        let root = match yaml::parse(&text, &lines) {
            Ok(r) => r,
            Err(e) => return Err(e),
        };
        let cfg = WorkflowsConfig::default();
        let eol = EolTable::shipped();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date");
        let mut hits = Vec::new();
        for kind in [FileKind::Workflow, FileKind::Action] {
            let wf = Wf::new(&text, &lines, &root, kind, &cfg, today, &eol);
            hits.extend(rules::check(&wf).into_iter().map(|h| h.pos));
        }
        Ok((text, root, hits))
    });
    match result {
        Err(e) => {
            prop_assert!(e.line >= 1 && e.col >= 1, "error position {e}");
            Ok(())
        }
        Ok((text, root, hits)) => {
            walk(&text, &root)?;
            for h in hits {
                valid_pos(&text, h, "finding")?;
            }
            Ok(())
        }
    }
}

#[test]
fn fixtures_lint() {
    for s in SAMPLES {
        lint(s.to_string()).unwrap();
    }
}

#[test]
fn mutated_workflows_never_panic_and_point_into_the_file() {
    check(
        "mutated workflow",
        MUTATED_CASES,
        (prop::sample::select(SAMPLES), mutations(6)),
        |(sample, ms)| lint(mutate_text(sample, &ms)),
    );
}

#[test]
fn workflow_token_soup_never_panics() {
    const TOKENS: &[&str] = &[
        "on: push\n",
        "on: [pull_request_target, workflow_run]\n",
        "jobs:\n",
        "  build:\n",
        "    runs-on: ubuntu-18.04\n",
        "    steps:\n",
        "      - uses: actions/checkout@v4\n",
        "      - run: echo ${{ github.event.issue.title }}\n",
        "        with:\n",
        "          persist-credentials: false\n",
        "permissions: write-all\n",
        "    secrets: inherit\n",
        "    container: node:latest\n",
        "    timeout-minutes: 5\n",
        "env:\n",
        "  TOKEN: ghp_x\n",
        "&a ",
        "*a",
        "<<: *a\n",
        "|\n",
        "- ",
        "  ",
        ": ",
        "\"",
        "'",
        "{",
        "}",
        "[",
        "]",
        "#",
        "\t",
    ];
    check("workflow soup", SOUP_CASES, soup(TOKENS, 64), lint);
}
