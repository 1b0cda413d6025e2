//! Deployment ledger lines: every line is an entry or a reported bad line (never dropped,
//! never stopping the read), operations are merged by id, and `current`/`previous_good`
//! answer from the entries read.

use std::collections::HashMap;

use proptest::prelude::*;

use super::{bytes, check, mutate, mutations};
use crate::deploy::ledger::{Action, Check, Entry, Ledger, Outcome};

/// Mutated generated ledgers.
const MUTATED_CASES: u32 = 1500;
/// Arbitrary bytes.
const ARBITRARY_CASES: u32 = 1000;

fn entry() -> impl Strategy<Value = Entry> {
    let outcome = prop::sample::select(
        &[
            Outcome::Succeeded,
            Outcome::Failed,
            Outcome::RolledBack,
            Outcome::Aborted,
            Outcome::Started,
            Outcome::Interrupted,
        ][..],
    );
    let version = "v[0-9]{1,2}";
    (
        (
            proptest::option::of("op-[0-3]"),
            prop::bool::ANY.prop_map(|r| if r { Action::Rollback } else { Action::Deploy }),
            version,
            proptest::option::of(version),
            outcome,
        ),
        (
            proptest::option::of(version),
            proptest::option::of(version),
            prop::collection::vec(("[a-z]{1,5}", any::<bool>(), "[ -~é]{0,8}"), 0..2),
        ),
    )
        .prop_map(
            |((id, action, version, previous, outcome), (rolled_back_to, brought_up, checks))| {
                Entry {
                    id,
                    time: "2026-01-01T00:00:00Z".into(),
                    actor: "ci".into(),
                    environment: "prod".into(),
                    action,
                    version,
                    previous,
                    commit: None,
                    outcome,
                    rolled_back_to,
                    checks: checks
                        .into_iter()
                        .map(|(name, ok, detail)| Check { name, ok, detail })
                        .collect(),
                    db_backup: None,
                    finished: None,
                    brought_up,
                }
            },
        )
}

fn ledger() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(entry(), 0..8).prop_map(|es| {
        es.iter()
            .map(|e| serde_json::to_string(e).expect("JSON") + "\n")
            .collect::<String>()
            .into_bytes()
    })
}

/// Every line accounted for, as reading each line on its own says.
fn sound(bytes: &[u8]) -> Result<(), TestCaseError> {
    let l = Ledger::from_bytes(bytes);
    let unterminated = bytes.last().is_some_and(|b| *b != b'\n');
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let count = lines.len() - 1 + usize::from(unterminated);
    let bad: HashMap<usize, bool> = l.bad.iter().map(|b| (b.line, b.torn)).collect();
    prop_assert_eq!(bad.len(), l.bad.len(), "a line reported twice");
    let mut last_of_id: HashMap<String, String> = HashMap::new();
    let mut operations = 0;
    for (i, raw) in lines.iter().take(count).enumerate() {
        let n = i + 1;
        let parsed = std::str::from_utf8(raw)
            .map(|t| (t.trim().is_empty(), serde_json::from_str::<Entry>(t)));
        match parsed {
            Ok((true, _)) => prop_assert!(!bad.contains_key(&n), "blank line {n} reported"),
            Ok((false, Ok(e))) => {
                prop_assert!(!bad.contains_key(&n), "valid line {n} reported bad");
                let json = serde_json::to_string(&e).expect("JSON");
                match e.id {
                    Some(id) => {
                        if last_of_id.insert(id, json).is_none() {
                            operations += 1;
                        }
                    }
                    None => operations += 1,
                }
            }
            Ok((false, Err(_))) | Err(_) => {
                prop_assert!(bad.contains_key(&n), "bad line {n} not reported");
                if n == count && unterminated {
                    prop_assert!(bad[&n], "the unterminated last line {n} is torn");
                }
            }
        }
    }
    prop_assert_eq!(l.entries.len(), operations, "one entry per operation");
    prop_assert_eq!(l.lines.len(), l.entries.len());
    prop_assert!(l.lines.windows(2).all(|w| w[0] < w[1]), "starts in order");
    for e in &l.entries {
        if let Some(id) = &e.id {
            prop_assert_eq!(
                &serde_json::to_string(e).expect("JSON"),
                &last_of_id[id],
                "the last line of an operation wins"
            );
        }
    }
    let current = l.current();
    if let Some(prev) = l.previous_good(current) {
        prop_assert!(
            Some(prev) != current,
            "a rollback target is not the current version"
        );
        prop_assert!(
            l.entries
                .iter()
                .any(|e| e.outcome == Outcome::Succeeded && e.version == prev),
            "{prev} never deployed successfully"
        );
    }
    prop_assert!(l.unfinished().all(|(_, e)| e.outcome == Outcome::Started));
    Ok(())
}

#[test]
fn mutated_ledgers_account_for_every_line() {
    check(
        "mutated ledger",
        MUTATED_CASES,
        (ledger(), mutations(6)),
        |(l, ms)| {
            sound(&l)?;
            sound(&mutate(&l, &ms))
        },
    );
}

#[test]
fn arbitrary_ledger_bytes_never_panic() {
    check("arbitrary ledger", ARBITRARY_CASES, bytes(512), |b| {
        sound(&b)
    });
}
