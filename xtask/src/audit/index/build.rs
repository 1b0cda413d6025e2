//! Writing an index: a parsed source in the layout [`super`] describes and reads.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, ensure};
use chrono::{DateTime, Utc};

use super::{FORMAT, Fingerprint, Header, MAGIC, light, parser_id};
use crate::audit::advisories::Parsed;
use crate::audit::model::{Malformed, PackageKey};
use crate::deps::Ecosystem;

/// The tag of an ecosystem in `p` records.
pub(super) fn eco_tag(e: Ecosystem) -> char {
    match e {
        Ecosystem::Crates => 'c',
        Ecosystem::PyPI => 'p',
    }
}

/// Per package: the advisories affecting it and the stamps to check when it is audited
/// (numbers in `parsed.advisories` and `parsed.stamps`).
type Packages = BTreeMap<PackageKey, (BTreeSet<usize>, BTreeSet<usize>)>;

/// A name the layout can hold: no field or list separator inside.
fn plain(s: &str) -> Result<()> {
    ensure!(
        !s.contains(['\t', '\n', '|', ';', ',']),
        "a name the index cannot hold: {s:?}"
    );
    Ok(())
}

/// Serialise a parsed source into index bytes. Fails only on names the layout cannot hold
/// (a tab, newline, `|` or `;` in a file or package name); the caller then goes without.
pub fn build(
    source: &Path,
    fingerprint: &Fingerprint,
    parsed: &Parsed,
    updated: Option<DateTime<Utc>>,
    updated_from: &str,
) -> Result<Vec<u8>> {
    let mut packages = Packages::new();
    let (body, offsets) = body(parsed, &mut packages)?;
    let mut records = offsets_record(&offsets);
    if fingerprint.stamped {
        global_stamps(parsed, &mut records, &mut packages)?;
    }
    package_records(parsed, &packages, &mut records);
    let header = Header {
        source: source.display().to_string(),
        kind: parsed.kind.clone(),
        fingerprint: fingerprint.clone(),
        total: parsed.advisories.len(),
        updated,
        updated_from: updated_from.to_string(),
        malformed: parsed
            .malformed
            .iter()
            .map(|m| Malformed {
                file: m.file.strip_prefix(source).unwrap_or(&m.file).to_path_buf(),
                ..m.clone()
            })
            .collect(),
        records_len: records.len(),
        body_len: body.len(),
    };
    let mut out = format!("{MAGIC} {FORMAT} {}\n", parser_id());
    out.push_str(&serde_json::to_string(&header)?);
    out.push('\n');
    out.push_str(&records);
    out.push_str(&body);
    Ok(out.into_bytes())
}

/// The body (per advisory: what matching needs first, a tab, then all of it: most
/// advisories read for a lockfile concern other versions and are never read in full) and
/// each advisory's offset in it, then the body's length. Records which advisories affect
/// which packages.
fn body(parsed: &Parsed, packages: &mut Packages) -> Result<(String, Vec<usize>)> {
    let mut body = String::new();
    let mut offsets = Vec::with_capacity(parsed.advisories.len() + 1);
    for (i, (a, _)) in parsed.advisories.iter().enumerate() {
        offsets.push(body.len());
        light::write(&mut body, a)?;
        body.push('\t');
        body.push_str(&serde_json::to_string(a)?);
        body.push('\n');
        for af in &a.affected {
            plain(&af.key)?;
            let key = PackageKey::new(af.ecosystem, af.key.as_str());
            packages.entry(key).or_default().0.insert(i);
        }
    }
    offsets.push(body.len());
    Ok((body, offsets))
}

/// The `o` record.
fn offsets_record(offsets: &[usize]) -> String {
    let mut records = String::from("o\t");
    for (i, o) in offsets.iter().enumerate() {
        if i > 0 {
            records.push(',');
        }
        let _ = write!(records, "{o}");
    }
    records.push('\n');
    records
}

/// The `g` records (stamps checked on every run); the other stamps go to their packages.
fn global_stamps(parsed: &Parsed, records: &mut String, packages: &mut Packages) -> Result<()> {
    for (i, st) in parsed.stamps.iter().enumerate() {
        plain(&st.rel)?;
        if st.scopes.is_empty() {
            records.push_str("g\t");
            records.push_str(&st.rel);
            records.push('\t');
            st.sig.write(records);
            records.push('\n');
        }
        for scope in &st.scopes {
            plain(&scope.key)?;
            packages.entry(scope.clone()).or_default().1.insert(i);
        }
    }
    Ok(())
}

/// The `p` records, in package order (what lookups binary-search).
fn package_records(parsed: &Parsed, packages: &Packages, records: &mut String) {
    for (package, (advisories, stamps)) in packages {
        let tag = eco_tag(package.ecosystem);
        let _ = write!(records, "p\t{tag}\t{}\t", package.key);
        for (j, a) in advisories.iter().enumerate() {
            if j > 0 {
                records.push(',');
            }
            let _ = write!(records, "{a}");
        }
        records.push('\t');
        for (j, &si) in stamps.iter().enumerate() {
            if j > 0 {
                records.push(';');
            }
            let st = &parsed.stamps[si];
            records.push_str(&st.rel);
            records.push('|');
            st.sig.write(records);
        }
        records.push('\n');
    }
}
