//! `maintenance.toml`: any text parses to a config that holds every rule `validate` states,
//! or is an error; nothing panics.

use proptest::prelude::*;

use super::{check, mutate_text, mutations, soup};
use crate::config::{Config, EXAMPLE};

/// Mutated copies of the commented example `config init` writes.
const MUTATED_CASES: u32 = 1500;
/// Config-token soup.
const SOUP_CASES: u32 = 1000;

fn relative(p: &str) -> bool {
    !p.is_empty() && !p.starts_with('/') && !p.split('/').any(|c| c == "..")
}

/// The rules of `Config::validate`, restated: a config that parsed holds them all.
fn sound(text: &str) -> Result<(), TestCaseError> {
    let Ok(c) = Config::parse(text) else {
        return Ok(());
    };
    prop_assert!(!c.pipeline.paths.is_empty());
    for p in c.pipeline.paths.iter().chain(&c.pipeline.include_secrets) {
        prop_assert!(relative(p), "pipeline path {p:?}");
    }
    prop_assert!(
        relative(&c.database.path),
        "database.path {:?}",
        c.database.path
    );
    prop_assert!((1..=9).contains(&c.database.compression_level));
    prop_assert!(c.database.step_pages >= 1);
    prop_assert!(c.outdated.timeout_secs >= 1);
    prop_assert!((0.0..=1.0).contains(&c.audit.min_update_fraction));
    prop_assert!(c.audit.stale_after_days <= c.audit.max_age_days);
    prop_assert!(
        (0.0..=100.0).contains(&c.coverage.min),
        "coverage.min {}",
        c.coverage.min
    );
    prop_assert!(c.coverage.precision <= 10);
    prop_assert!(c.tests.flaky_runs >= 2);
    prop_assert!(c.audit.ignore.iter().all(|i| !i.reason.trim().is_empty()));
    prop_assert!(
        c.workflows
            .ignore
            .iter()
            .all(|i| !i.reason.trim().is_empty())
    );
    prop_assert!(!c.backup.dir.as_os_str().is_empty());
    Ok(())
}

#[test]
fn the_example_is_sound() {
    sound(EXAMPLE).unwrap();
    assert!(Config::parse(EXAMPLE).is_ok());
}

#[test]
fn mutated_configs_hold_every_rule_or_are_refused() {
    check(
        "mutated maintenance.toml",
        MUTATED_CASES,
        mutations(6),
        |ms| sound(&mutate_text(EXAMPLE, &ms)),
    );
}

#[test]
fn config_token_soup_never_panics() {
    const TOKENS: &[&str] = &[
        "[backup]\n",
        "[backup.retention]\n",
        "[pipeline]\n",
        "[database]\n",
        "[audit]\n",
        "[coverage]\n",
        "[tests]\n",
        "[secrets.inventory]\n",
        "[deploy.environments.x]\n",
        "keep_days = 0\n",
        "keep_last = 0\n",
        "paths = []\n",
        "paths = [\"../x\"]\n",
        "path = \"/etc/x\"\n",
        "compression_level = 10\n",
        "min = nan\n",
        "min = -0.0\n",
        "min_update_fraction = inf\n",
        "precision = 4294967296\n",
        "flaky_runs = 1\n",
        "url = \"postgres://u:p@h/db\"\n",
        "ignore = [{ id = \"X\", reason = \" \" }]\n",
        "dir = \"\"\n",
        "timeout_secs = 0\n",
        "= ",
        "\"",
        "[",
        "]",
        "{",
        "}",
        "\n",
        "#",
    ];
    check("config soup", SOUP_CASES, soup(TOKENS, 32), |t| sound(&t));
}
