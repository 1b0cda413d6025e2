//! Does an advisory affect a version? OSV event semantics over SemVer (crates) or PEP 440
//! (PyPI) ordering, explicit version lists, RustSec `patched`/`unaffected` requirements; and
//! CVSS base scores (by RustSec's `cvss` crate).

use std::cmp::Ordering;
use std::str::FromStr;

use super::model::{Affected, Range, Rule};
use crate::deps::Ecosystem;
use crate::report::Severity;

/// A parsed version in its ecosystem's ordering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ver {
    Sem(semver::Version),
    Py(pep440_rs::Version),
}

impl Ver {
    pub fn parse(eco: Ecosystem, s: &str) -> Option<Ver> {
        match eco {
            Ecosystem::Crates => semver::Version::parse(s.trim()).ok().map(Ver::Sem),
            Ecosystem::PyPI => pep440_rs::Version::from_str(s.trim()).ok().map(Ver::Py),
        }
    }

    fn cmp(&self, other: &Ver) -> Option<Ordering> {
        match (self, other) {
            (Ver::Sem(a), Ver::Sem(b)) => Some(a.cmp(b)),
            (Ver::Py(a), Ver::Py(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// The outcome for one affected entry: `Some(fixes)` when the version is affected (`fixes`
/// are the fixed versions / patched requirements that would cure it).
pub fn affected(a: &Affected, version: &Ver, raw: &str) -> Option<Vec<String>> {
    match &a.rule {
        Rule::Osv { versions, ranges } => {
            let listed = versions
                .iter()
                .any(|v| v == raw || Ver::parse(a.ecosystem, v).is_some_and(|p| &p == version));
            let mut fixes = Vec::new();
            let mut hit = listed;
            for r in ranges {
                if let Some(f) = in_range(a.ecosystem, r, version) {
                    hit = true;
                    fixes.extend(f);
                }
            }
            if hit && fixes.is_empty() {
                // Listed explicitly: a fix is any `fixed` event above the version.
                for r in ranges {
                    for e in &r.events {
                        if let Some(f) = &e.fixed
                            && Ver::parse(a.ecosystem, f).and_then(|fv| fv.cmp(version))
                                == Some(Ordering::Greater)
                        {
                            fixes.push(f.clone());
                        }
                    }
                }
            }
            hit.then_some(fixes)
        }
        Rule::RustSec {
            patched,
            unaffected,
        } => {
            let Ver::Sem(v) = version else { return None };
            let matches = |reqs: &[String]| {
                reqs.iter()
                    .any(|r| semver::VersionReq::parse(r).is_ok_and(|req| req.matches(v)))
            };
            if matches(patched) || matches(unaffected) {
                None
            } else {
                Some(patched.clone())
            }
        }
    }
}

/// OSV range evaluation: events sorted by version; `introduced` opens, `fixed` closes at
/// the version, `last_affected` closes after it. Returns the fixes of the open interval.
fn in_range(eco: Ecosystem, r: &Range, v: &Ver) -> Option<Vec<String>> {
    if !(r.kind == "SEMVER" || r.kind == "ECOSYSTEM") {
        return None; // GIT ranges name commits, not versions
    }
    let zero = |s: &str| s == "0" || s == "0.0.0-0";
    #[derive(Clone)]
    enum Ev {
        Intro(Option<Ver>),
        Fixed(Ver, String),
        Last(Ver),
    }
    let mut evs: Vec<Ev> = Vec::new();
    for e in &r.events {
        if let Some(i) = &e.introduced {
            evs.push(Ev::Intro(if zero(i) {
                None
            } else {
                Some(Ver::parse(eco, i)?)
            }));
        }
        if let Some(f) = &e.fixed {
            evs.push(Ev::Fixed(Ver::parse(eco, f)?, f.clone()));
        }
        if let Some(l) = &e.last_affected {
            evs.push(Ev::Last(Ver::parse(eco, l)?));
        }
    }
    let key = |e: &Ev| -> Option<Ver> {
        match e {
            Ev::Intro(v) => v.clone(),
            Ev::Fixed(v, _) | Ev::Last(v) => Some(v.clone()),
        }
    };
    evs.sort_by(|a, b| match (key(a), key(b)) {
        (None, None) => Ordering::Equal,
        (None, _) => Ordering::Less,
        (_, None) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(&y).unwrap_or(Ordering::Equal),
    });
    let mut affected = false;
    for (i, e) in evs.iter().enumerate() {
        match e {
            Ev::Intro(None) => affected = true,
            Ev::Intro(Some(iv)) => {
                if v.cmp(iv) != Some(Ordering::Less) {
                    affected = true;
                }
            }
            Ev::Fixed(fv, _) => {
                if v.cmp(fv) != Some(Ordering::Less) {
                    affected = false;
                }
            }
            Ev::Last(lv) => {
                if v.cmp(lv) == Some(Ordering::Greater) {
                    affected = false;
                }
            }
        }
        // The next event lies beyond the version: the state is final.
        if let Some(next) = evs.get(i + 1).and_then(key)
            && v.cmp(&next) == Some(Ordering::Less)
        {
            break;
        }
    }
    if !affected {
        return None;
    }
    let fix = evs.iter().find_map(|e| match e {
        Ev::Fixed(fv, s) if v.cmp(fv) == Some(Ordering::Less) => Some(s.clone()),
        _ => None,
    });
    Some(fix.into_iter().collect())
}

/// Base score of a CVSS v3.0, v3.1 or v4.0 vector; `None` when it is another version or
/// broken.
pub fn cvss_score(vector: &str) -> Option<f64> {
    if vector.starts_with("CVSS:4.0/") {
        let v: cvss::v4::Vector = vector.parse().ok()?;
        return Some(v.score().value());
    }
    if vector.starts_with("CVSS:3.0/") || vector.starts_with("CVSS:3.1/") {
        let v: cvss::v3::Vector = vector.parse().ok()?;
        return Some(v.base_score().value());
    }
    None
}

pub fn severity_of_score(score: f64) -> Severity {
    match score {
        s if s >= 9.0 => Severity::Critical,
        s if s >= 7.0 => Severity::High,
        s if s >= 4.0 => Severity::Medium,
        s if s > 0.0 => Severity::Low,
        _ => Severity::Info,
    }
}

pub fn severity_of_label(label: &str) -> Option<Severity> {
    match label.to_ascii_uppercase().as_str() {
        "CRITICAL" => Some(Severity::Critical),
        "HIGH" => Some(Severity::High),
        "MODERATE" | "MEDIUM" => Some(Severity::Medium),
        "LOW" => Some(Severity::Low),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::model::Event;

    fn ev(i: Option<&str>, f: Option<&str>, l: Option<&str>) -> Event {
        Event {
            introduced: i.map(Into::into),
            fixed: f.map(Into::into),
            last_affected: l.map(Into::into),
        }
    }

    fn check(eco: Ecosystem, kind: &str, events: Vec<Event>, version: &str) -> bool {
        let r = Range {
            kind: kind.into(),
            events,
        };
        in_range(eco, &r, &Ver::parse(eco, version).unwrap()).is_some()
    }

    #[test]
    fn semver_ranges() {
        let evs = || {
            vec![
                ev(Some("0.0.0-0"), None, None),
                ev(None, Some("1.2.3"), None),
            ]
        };
        assert!(check(Ecosystem::Crates, "SEMVER", evs(), "1.2.2"));
        assert!(!check(Ecosystem::Crates, "SEMVER", evs(), "1.2.3"));
        // Pre-releases order below their release.
        assert!(check(Ecosystem::Crates, "SEMVER", evs(), "1.2.3-rc.1"));
        assert!(check(Ecosystem::Crates, "SEMVER", evs(), "0.0.1-alpha"));
        let two = vec![
            ev(Some("1.0.0"), None, None),
            ev(None, Some("1.1.0"), None),
            ev(Some("2.0.0"), None, None),
            ev(None, Some("2.0.5"), None),
        ];
        assert!(!check(Ecosystem::Crates, "SEMVER", two.clone(), "0.9.0"));
        assert!(check(Ecosystem::Crates, "SEMVER", two.clone(), "1.0.5"));
        assert!(!check(Ecosystem::Crates, "SEMVER", two.clone(), "1.5.0"));
        assert!(check(Ecosystem::Crates, "SEMVER", two.clone(), "2.0.4"));
        assert!(!check(Ecosystem::Crates, "SEMVER", two, "2.0.5"));
        let last = vec![ev(Some("0"), None, None), ev(None, None, Some("3.1.0"))];
        assert!(check(Ecosystem::Crates, "SEMVER", last.clone(), "3.1.0"));
        assert!(!check(Ecosystem::Crates, "SEMVER", last, "3.1.1"));
        // GIT ranges never match versions.
        assert!(!check(
            Ecosystem::Crates,
            "GIT",
            vec![ev(Some("0"), None, None)],
            "1.0.0"
        ));
    }

    #[test]
    fn pep440_ranges() {
        let evs = || vec![ev(Some("0"), None, None), ev(None, Some("2.0"), None)];
        let py = |v: &str| check(Ecosystem::PyPI, "ECOSYSTEM", evs(), v);
        assert!(py("1.9.9"));
        assert!(py("2.0rc1"), "pre-release before the fix");
        assert!(py("2.0.dev3"), "dev release before the fix");
        assert!(!py("2.0"));
        assert!(!py("2.0.0"), "2.0 == 2.0.0 in PEP 440");
        assert!(!py("2.0.post1"));
        assert!(!py("1!0.5"), "epoch 1 is above every epoch-0 version");
        assert!(
            !py("2.0+local.1"),
            "local versions sort after their public version"
        );
        assert!(py("1.10"), "numeric, not lexicographic");
    }

    #[test]
    fn rustsec_requirements() {
        let a = Affected {
            ecosystem: Ecosystem::Crates,
            key: "tokio".into(),
            rule: Rule::RustSec {
                patched: vec![">= 1.5.1, < 1.6.0".into(), ">= 1.8.1".into()],
                unaffected: vec!["< 0.3.0".into()],
            },
        };
        let hit = |v: &str| affected(&a, &Ver::parse(Ecosystem::Crates, v).unwrap(), v).is_some();
        assert!(hit("1.5.0"));
        assert!(!hit("1.5.1"));
        assert!(hit("1.6.0"));
        assert!(!hit("1.8.1"));
        assert!(!hit("0.2.9"));
    }

    #[test]
    fn explicit_versions_list() {
        let a = Affected {
            ecosystem: Ecosystem::PyPI,
            key: "django".into(),
            rule: Rule::Osv {
                versions: vec!["1.0.1".into()],
                ranges: vec![],
            },
        };
        let v = |s: &str| Ver::parse(Ecosystem::PyPI, s).unwrap();
        assert!(affected(&a, &v("1.0.1"), "1.0.1").is_some());
        assert!(
            affected(&a, &v("1.0.1.0"), "1.0.1.0").is_some(),
            "PEP 440 equality"
        );
        assert!(affected(&a, &v("1.0.2"), "1.0.2").is_none());
    }

    #[test]
    fn cvss4_base_scores() {
        // Reference scores from FIRST's CVSS v4.0 calculator.
        assert_eq!(
            cvss_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
            Some(9.3)
        );
        assert_eq!(
            cvss_score("CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
            Some(8.5)
        );
        assert_eq!(
            cvss_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N"),
            Some(0.0)
        );
        assert_eq!(
            cvss_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(9.8)
        );
        assert_eq!(cvss_score("CVSS:4.0/AV:N/AC:L"), None, "incomplete vector");
        assert_eq!(cvss_score("CVSS:2.0/AV:N"), None);
    }

    #[test]
    fn cvss3_base_scores_are_the_calculators() {
        // Reference scores from the CVSS v3.1 calculator.
        assert_eq!(
            cvss_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(9.8)
        );
        assert_eq!(
            cvss_score("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(8.1)
        );
        assert_eq!(
            cvss_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"),
            Some(6.1)
        );
        assert_eq!(
            cvss_score("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H"),
            Some(5.5)
        );
        assert_eq!(
            cvss_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"),
            Some(10.0)
        );
        assert_eq!(
            cvss_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"),
            Some(0.0)
        );
        assert_eq!(cvss_score("CVSS:3.1/AV:X"), None);
        assert_eq!(severity_of_score(9.8), Severity::Critical);
        assert_eq!(severity_of_score(6.1), Severity::Medium);
    }
}
