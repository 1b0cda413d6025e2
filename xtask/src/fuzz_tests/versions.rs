//! Version strings (SemVer for crates, PEP 440 for PyPI) and matching: any string parses or
//! is refused without a panic; versions are totally ordered; OSV ranges match exactly the
//! versions inside their intervals; RustSec requirements and CVSS vectors of any shape are
//! read without a panic.

use proptest::prelude::*;

use super::{check, soup};
use crate::audit::matching::{Ver, affected, cvss_score};
use crate::audit::model::{Affected, Event, Range, Rule};
use crate::deps::Ecosystem;

/// Arbitrary and version-like strings, each parsed in both ecosystems.
const PARSE_CASES: u32 = 3000;
/// Triples of versions checked for a total order.
const ORDER_CASES: u32 = 2000;
/// Generated interval sets checked against a model.
const RANGE_CASES: u32 = 2000;
/// Arbitrary events, requirements and CVSS vectors.
const ARBITRARY_CASES: u32 = 2000;

fn semver() -> impl Strategy<Value = String> {
    (
        0u8..3,
        0u8..3,
        0u8..3,
        prop::sample::select(&["", "-alpha", "-rc.1", "-0", "+build"][..]),
    )
        .prop_map(|(a, b, c, pre)| format!("{a}.{b}.{c}{pre}"))
}

fn pep440() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&["", "1!"][..]),
        0u8..3,
        0u8..3,
        proptest::option::of(0u8..3),
        prop::sample::select(&["", "a1", "b2", "rc1", ".post1", ".dev1", "+local.7"][..]),
    )
        .prop_map(|(epoch, a, b, c, suffix)| {
            let c = c.map(|c| format!(".{c}")).unwrap_or_default();
            format!("{epoch}{a}.{b}{c}{suffix}")
        })
}

fn version_of(eco: Ecosystem) -> BoxedStrategy<String> {
    match eco {
        Ecosystem::Crates => semver().boxed(),
        Ecosystem::PyPI => pep440().boxed(),
    }
}

fn eco() -> impl Strategy<Value = Ecosystem> {
    prop::sample::select(&[Ecosystem::Crates, Ecosystem::PyPI][..])
}

const VERSION_TOKENS: &[&str] = &[
    "1",
    "0",
    ".",
    "-",
    "+",
    "!",
    "rc",
    "a",
    "b",
    "post",
    "dev",
    "alpha",
    "*",
    "v",
    "==",
    ",",
    " ",
    "18446744073709551616",
    "99999999999999999999999",
    "_",
    "local",
];

#[test]
fn any_string_parses_or_is_refused() {
    let input = prop_oneof![
        any::<String>(),
        soup(VERSION_TOKENS, 12),
        semver(),
        pep440()
    ];
    check("version parse", PARSE_CASES, input, |s| {
        for eco in [Ecosystem::Crates, Ecosystem::PyPI] {
            if let Some(v) = Ver::parse(eco, &s) {
                prop_assert_eq!(Ver::parse(eco, &s), Some(v), "parsing is stable");
            }
        }
        Ok(())
    });
}

/// The ordering `in_range` sorts by, as `affected` exposes it: `a <= b` iff an interval
/// `[a, ∞)` holds `b`.
fn at_least(eco: Ecosystem, a: &str, b: &Ver, raw: &str) -> bool {
    let intro = Event {
        introduced: Some(a.to_string()),
        ..Event::default()
    };
    osv(eco, vec![intro], b, raw).is_some()
}

fn osv(eco: Ecosystem, events: Vec<Event>, v: &Ver, raw: &str) -> Option<Vec<String>> {
    let a = Affected {
        ecosystem: eco,
        key: "p".into(),
        rule: Rule::Osv {
            versions: Vec::new(),
            ranges: vec![Range {
                kind: if eco == Ecosystem::Crates {
                    "SEMVER"
                } else {
                    "ECOSYSTEM"
                }
                .into(),
                events,
            }],
        },
    };
    affected(&a, v, raw)
}

#[test]
fn versions_are_totally_ordered() {
    let triple = eco().prop_flat_map(|e| (Just(e), version_of(e), version_of(e), version_of(e)));
    check("version order", ORDER_CASES, triple, |(eco, a, b, c)| {
        let p = |s: &str| Ver::parse(eco, s).expect("generated versions parse");
        let (va, vb, vc) = (p(&a), p(&b), p(&c));
        let le = |x: &str, y: &Ver, ys: &str| at_least(eco, x, y, ys);
        prop_assert!(le(&a, &va, &a), "reflexive");
        prop_assert!(le(&a, &vb, &b) || le(&b, &va, &a), "total");
        if le(&a, &vb, &b) && le(&b, &vc, &c) {
            prop_assert!(le(&a, &vc, &c), "transitive");
        }
        Ok(())
    });
}

#[test]
fn osv_ranges_match_exactly_their_intervals() {
    let case = eco().prop_flat_map(|e| {
        (
            Just(e),
            prop::collection::vec(version_of(e), 1..8),
            version_of(e),
            any::<bool>(),
            any::<prop::sample::Index>(),
        )
    });
    check(
        "OSV ranges",
        RANGE_CASES,
        case,
        |(eco, bounds, probe, last_affected, shuffle)| {
            let p = |s: &str| Ver::parse(eco, s).expect("generated versions parse");
            let cmp = |a: &String, b: &String| {
                if at_least(eco, a, &p(b), b) {
                    if at_least(eco, b, &p(a), a) {
                        std::cmp::Ordering::Equal
                    } else {
                        std::cmp::Ordering::Less
                    }
                } else {
                    std::cmp::Ordering::Greater
                }
            };
            let mut bounds = bounds;
            bounds.sort_by(cmp);
            bounds.dedup_by(|a, b| cmp(a, b) == std::cmp::Ordering::Equal);
            // Intervals [b0, b1), [b2, b3), ... ; the last one open when the count is odd.
            let mut events = Vec::new();
            let mut model: Vec<(String, Option<String>)> = Vec::new();
            for pair in bounds.chunks(2) {
                events.push(Event {
                    introduced: Some(pair[0].clone()),
                    ..Event::default()
                });
                match pair.get(1) {
                    Some(end) if last_affected => {
                        events.push(Event {
                            last_affected: Some(end.clone()),
                            ..Event::default()
                        });
                        model.push((pair[0].clone(), Some(end.clone())));
                    }
                    Some(end) => {
                        events.push(Event {
                            fixed: Some(end.clone()),
                            ..Event::default()
                        });
                        model.push((pair[0].clone(), Some(end.clone())));
                    }
                    None => model.push((pair[0].clone(), None)),
                }
            }
            // Events in any order: OSV does not promise them sorted.
            let k = shuffle.index(events.len().max(1)).min(events.len());
            events.rotate_left(k);
            let v = p(&probe);
            let le = |a: &str, b: &str| at_least(eco, a, &p(b), b);
            let inside = model.iter().find(|(lo, hi)| {
                le(lo, &probe)
                    && match hi {
                        None => true,
                        Some(hi) if last_affected => le(&probe, hi),
                        Some(hi) => !le(hi, &probe),
                    }
            });
            let got = osv(eco, events, &v, &probe);
            prop_assert_eq!(got.is_some(), inside.is_some(), "{} in {:?}", probe, model);
            if let (Some(fixes), Some((_, hi))) = (got, inside) {
                let want: Vec<String> = match hi {
                    Some(hi) if !last_affected => vec![hi.clone()],
                    _ => Vec::new(),
                };
                prop_assert_eq!(fixes, want, "the fix of the interval");
            }
            Ok(())
        },
    );
}

#[test]
fn arbitrary_events_requirements_and_vectors_never_panic() {
    let text = prop_oneof![any::<String>(), soup(VERSION_TOKENS, 8), semver(), pep440()];
    let event = (
        proptest::option::of(text.clone()),
        proptest::option::of(text.clone()),
        proptest::option::of(text.clone()),
    )
        .prop_map(|(introduced, fixed, last_affected)| Event {
            introduced,
            fixed,
            last_affected,
        });
    const REQ_TOKENS: &[&str] = &[
        ">=", "<", "^", "~", "=", "*", ",", " ", "1", "0", ".", "-rc", "||",
    ];
    const CVSS_TOKENS: &[&str] = &[
        "CVSS:3.1/",
        "CVSS:3.0/",
        "CVSS:4.0/",
        "AV:N",
        "AC:L",
        "PR:N",
        "UI:N",
        "S:U",
        "S:C",
        "C:H",
        "I:H",
        "A:H",
        "AT:N",
        "VC:H",
        "VI:H",
        "VA:H",
        "SC:N",
        "SI:N",
        "SA:N",
        "E:X",
        "/",
        ":",
        "X",
    ];
    let case = (
        eco(),
        prop::collection::vec(event, 0..6),
        prop::collection::vec(text.clone(), 0..3),
        prop::collection::vec(soup(REQ_TOKENS, 10), 0..3),
        soup(CVSS_TOKENS, 16),
        text,
    );
    check(
        "arbitrary matching input",
        ARBITRARY_CASES,
        case,
        |(eco, events, versions, reqs, cvss, raw)| {
            let probe = match eco {
                Ecosystem::Crates => "1.2.3",
                Ecosystem::PyPI => "1.2.3",
            };
            let v = Ver::parse(eco, probe).expect("a version");
            let a = Affected {
                ecosystem: eco,
                key: "p".into(),
                rule: Rule::Osv {
                    versions: versions.clone(),
                    ranges: vec![Range {
                        kind: "ECOSYSTEM".into(),
                        events,
                    }],
                },
            };
            let _ = affected(&a, &v, &raw);
            let r = Affected {
                ecosystem: Ecosystem::Crates,
                key: "p".into(),
                rule: Rule::RustSec {
                    patched: reqs.clone(),
                    unaffected: reqs,
                },
            };
            let _ = affected(
                &r,
                &Ver::parse(Ecosystem::Crates, "1.2.3").expect("a version"),
                "1.2.3",
            );
            if let Some(score) = cvss_score(&cvss) {
                prop_assert!((0.0..=10.0).contains(&score), "score {score} of {cvss}");
            }
            Ok(())
        },
    );
}
