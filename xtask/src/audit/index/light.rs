//! The matching view of an advisory (id, withdrawn, affected) as a flat list of fields
//! separated by U+001F: several times cheaper to read than JSON, and read for every advisory
//! of every audited package. `T` starts it; an advisory with a field that holds U+001F, a
//! tab or a newline is written as `J` and JSON instead.

use std::fmt::Write as _;

use anyhow::{Context as _, Result, bail};

use crate::audit::model::{Advisory, Affected, Event, Range, Rule, SplitAscii};
use crate::deps::Ecosystem;

const SEP: char = '\u{1f}';

#[derive(serde::Serialize, serde::Deserialize)]
struct Json {
    id: String,
    #[serde(default)]
    withdrawn: bool,
    affected: Vec<Affected>,
}

/// The fields being written, and whether all of them can be (no separator inside).
struct Writer {
    t: String,
    plain: bool,
}

impl Writer {
    fn put(&mut self, s: &str) {
        self.plain &= !s.contains([SEP, '\t', '\n']);
        self.t.push(SEP);
        self.t.push_str(s);
    }

    fn list(&mut self, l: &[String]) {
        self.put(&l.len().to_string());
        l.iter().for_each(|v| self.put(v));
    }
}

pub fn write(out: &mut String, a: &Advisory) -> Result<()> {
    let mut w = Writer {
        t: String::from("T"),
        plain: true,
    };
    w.put(&a.id);
    w.put(if a.withdrawn { "1" } else { "0" });
    w.put(&a.affected.len().to_string());
    for af in &a.affected {
        w.put(if af.ecosystem == Ecosystem::PyPI {
            "p"
        } else {
            "c"
        });
        w.put(&af.key);
        match &af.rule {
            Rule::RustSec {
                patched,
                unaffected,
            } => {
                w.put("R");
                w.list(patched);
                w.list(unaffected);
            }
            Rule::Osv { versions, ranges } => {
                w.put("O");
                w.list(versions);
                w.put(&ranges.len().to_string());
                for r in ranges {
                    w.put(&r.kind);
                    w.put(&r.events.len().to_string());
                    for e in &r.events {
                        match (&e.introduced, &e.fixed, &e.last_affected) {
                            (Some(v), None, None) => (w.put("i"), w.put(v)),
                            (None, Some(v), None) => (w.put("f"), w.put(v)),
                            (None, None, Some(v)) => (w.put("l"), w.put(v)),
                            // An event naming several things at once: JSON keeps it.
                            _ => (w.plain = false, ()),
                        };
                    }
                }
            }
        }
    }
    if w.plain {
        out.push_str(&w.t);
    } else {
        let j = Json {
            id: a.id.clone(),
            withdrawn: a.withdrawn,
            affected: a.affected.clone(),
        };
        let _ = write!(out, "J{}", serde_json::to_string(&j)?);
    }
    Ok(())
}

/// The fields being read.
struct Fields<'a>(SplitAscii<'a>);

impl<'a> Fields<'a> {
    fn next(&mut self) -> Result<&'a str> {
        self.0.next().context("damaged matching record")
    }

    fn count(&mut self) -> Result<usize> {
        self.next()?.parse().context("damaged matching record")
    }

    fn list(&mut self) -> Result<Vec<String>> {
        let n = self.count()?;
        (0..n).map(|_| self.next().map(str::to_string)).collect()
    }
}

pub fn read(bytes: &[u8]) -> Result<(String, bool, Vec<Affected>)> {
    match bytes.first() {
        Some(b'J') => {
            let j: Json = serde_json::from_slice(&bytes[1..])?;
            return Ok((j.id, j.withdrawn, j.affected));
        }
        Some(b'T') => {}
        _ => bail!("damaged matching record"),
    }
    let text = std::str::from_utf8(&bytes[1..]).context("damaged matching record")?;
    let mut f = Fields(SplitAscii::new(text, SEP as u8));
    f.next()?; // before the first separator: nothing
    let id = f.next()?.to_string();
    let withdrawn = f.next()? == "1";
    let n = f.count()?;
    let mut affected = Vec::with_capacity(n);
    for _ in 0..n {
        let ecosystem = if f.next()? == "p" {
            Ecosystem::PyPI
        } else {
            Ecosystem::Crates
        };
        let key = f.next()?.to_string();
        let rule = match f.next()? {
            "R" => {
                let patched = f.list()?;
                let unaffected = f.list()?;
                Rule::RustSec {
                    patched,
                    unaffected,
                }
            }
            "O" => {
                let versions = f.list()?;
                let nr = f.count()?;
                let mut ranges = Vec::with_capacity(nr);
                for _ in 0..nr {
                    let kind = f.next()?.to_string();
                    let ne = f.count()?;
                    let mut events = Vec::with_capacity(ne);
                    for _ in 0..ne {
                        let (k, v) = (f.next()?, f.next()?.to_string());
                        let mut e = Event::default();
                        match k {
                            "i" => e.introduced = Some(v),
                            "f" => e.fixed = Some(v),
                            "l" => e.last_affected = Some(v),
                            _ => bail!("damaged matching record"),
                        }
                        events.push(e);
                    }
                    ranges.push(Range { kind, events });
                }
                Rule::Osv { versions, ranges }
            }
            _ => bail!("damaged matching record"),
        };
        affected.push(Affected {
            ecosystem,
            key,
            rule,
        });
    }
    Ok((id, withdrawn, affected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advisory(affected: Vec<Affected>) -> Advisory {
        Advisory::for_matching("PYSEC-1".into(), true, affected, String::new())
    }

    #[test]
    fn matching_records_round_trip_and_fall_back_to_json() {
        let ev = |i: Option<&str>, f: Option<&str>, l: Option<&str>| Event {
            introduced: i.map(Into::into),
            fixed: f.map(Into::into),
            last_affected: l.map(Into::into),
        };
        let a = advisory(vec![
            Affected {
                ecosystem: Ecosystem::PyPI,
                key: "django".into(),
                rule: Rule::Osv {
                    versions: vec!["1.0".into(), "1.0.1".into()],
                    ranges: vec![Range {
                        kind: "ECOSYSTEM".into(),
                        events: vec![ev(Some("0"), None, None), ev(None, Some("2.0"), None)],
                    }],
                },
            },
            Affected {
                ecosystem: Ecosystem::Crates,
                key: "foo".into(),
                rule: Rule::RustSec {
                    patched: vec![">= 1.2.3, < 2".into(), "^2.1".into()],
                    unaffected: vec![],
                },
            },
        ]);
        let mut out = String::new();
        write(&mut out, &a).unwrap();
        assert!(out.starts_with('T'), "{out:?}");
        let (id, withdrawn, affected) = read(out.as_bytes()).unwrap();
        assert_eq!((id.as_str(), withdrawn), ("PYSEC-1", true));
        assert_eq!(format!("{affected:?}"), format!("{:?}", a.affected));

        // A field holding the separator, and an event naming two things: JSON, same answer.
        for odd in [
            advisory(vec![Affected {
                ecosystem: Ecosystem::Crates,
                key: "a\u{1f}b".into(),
                rule: Rule::RustSec {
                    patched: vec![],
                    unaffected: vec![],
                },
            }]),
            advisory(vec![Affected {
                ecosystem: Ecosystem::Crates,
                key: "x".into(),
                rule: Rule::Osv {
                    versions: vec![],
                    ranges: vec![Range {
                        kind: "SEMVER".into(),
                        events: vec![ev(Some("1"), Some("2"), None)],
                    }],
                },
            }]),
        ] {
            let mut out = String::new();
            write(&mut out, &odd).unwrap();
            assert!(out.starts_with('J'), "{out:?}");
            let (_, _, affected) = read(out.as_bytes()).unwrap();
            assert_eq!(format!("{affected:?}"), format!("{:?}", odd.affected));
        }
        assert!(read(b"T\x1fid\x1f0\x1f5").is_err(), "truncated");
        assert!(read(b"X").is_err());
    }
}
