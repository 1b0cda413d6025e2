//! The advisory index (`audit/index`), a file the audit maps and reads by offsets: damaged
//! anywhere (its header's lengths included), it is refused as unusable (the source is then
//! parsed again) or read without a panic; it never hands out text that is not UTF-8.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::{Mutation, check, mutate, mutations};
use crate::audit::index::{self, Index};
use crate::deps::{Ecosystem, Wanted};

/// Mutated index files.
const MUTATED_CASES: u32 = 1000;
/// Headers with their lengths and count replaced by arbitrary numbers.
const HEADER_CASES: u32 = 500;

/// A source folder in the RustSec and PyPA layouts, and its index as `advisories update`
/// writes it.
struct Built {
    _tmp: tempfile::TempDir,
    source: PathBuf,
    bytes: Vec<u8>,
}

fn built() -> Built {
    let tmp = super::scratch();
    let source = tmp.path().join("db");
    let put = |rel: &str, text: &str| {
        let p = source.join(rel);
        fs::create_dir_all(p.parent().expect("a parent")).expect("folder");
        fs::write(p, text).expect("write");
    };
    put(
        "crates/foo/RUSTSEC-2021-0001.json",
        super::advisories::OSV_JSON,
    );
    put(
        "vulns/django/PYSEC-2021-1.yaml",
        super::advisories::OSV_YAML,
    );
    put(
        "crates/bar/RUSTSEC-2021-0002.md",
        super::advisories::RUSTSEC_MD,
    );
    put("crates/baz/RUSTSEC-2021-0003.json", "{\"id\": 5}");
    let index_dir = tmp.path().join("index");
    let total = index::refresh(&index_dir, &source).expect("an index");
    assert_eq!(total, 3);
    let bytes = fs::read(index::file_for(&index_dir, &source)).expect("the index file");
    Built {
        _tmp: tmp,
        source,
        bytes,
    }
}

fn wanted() -> Wanted {
    let mut w = Wanted::default();
    for (e, n) in [
        (Ecosystem::Crates, "foo"),
        (Ecosystem::Crates, "bar"),
        (Ecosystem::Crates, "baz"),
        (Ecosystem::PyPI, "django"),
        (Ecosystem::PyPI, "zope-interface"),
    ] {
        w.insert(e, n.to_string());
    }
    w
}

fn utf8(s: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        std::str::from_utf8(s.as_bytes()).is_ok(),
        "text that is not UTF-8"
    );
    Ok(())
}

/// Everything an audit asks of an index, on `bytes`.
fn use_index(source: &Path, bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let fp = index::fingerprint(source);
    let Ok(idx) = Index::parse(bytes, &fp) else {
        return Ok(());
    };
    let wanted = wanted();
    if let Ok(Some(sel)) = idx.select(source, &wanted) {
        for (a, b) in &sel.stamps {
            utf8(a)?;
            utf8(b)?;
        }
    }
    if let Ok(Some(found)) = idx.lookup(source, &wanted) {
        for (n, mut adv) in found {
            utf8(&adv.id)?;
            let _ = idx.complete(n, &mut adv);
        }
    }
    let all: Vec<usize> = (0..idx.total().min(64) + 2).collect();
    let _ = idx.advisories_for_matching(&all, source);
    for n in all {
        let mut adv = crate::audit::model::Advisory::for_matching(
            String::new(),
            false,
            Vec::new(),
            String::new(),
        );
        let _ = idx.complete(n, &mut adv);
    }
    let _ = (
        idx.kind(),
        idx.updated(),
        idx.updated_from(),
        idx.malformed(source),
    );
    Ok(())
}

#[test]
fn the_index_answers_as_written() {
    let b = built();
    let idx = Index::parse(b.bytes.clone(), &index::fingerprint(&b.source)).expect("the index");
    let found = idx
        .lookup(&b.source, &wanted())
        .expect("a lookup")
        .expect("current");
    assert_eq!(
        found.len(),
        3,
        "foo, bar and django; zope-interface is in foo's advisory"
    );
    assert_eq!(idx.malformed(&b.source).len(), 1, "baz's advisory");
    use_index(&b.source, b.bytes).unwrap();
}

/// Found by `header_lengths_anywhere_in_usize_never_panic`: `records_len`, `body_len` and
/// `total` near `usize::MAX` overflowed in `Index::parse` (a panic in the dev profile)
/// instead of making the index unusable.
#[test]
fn header_lengths_near_usize_max_make_the_index_unusable() {
    let b = built();
    let text = String::from_utf8(b.bytes.clone()).expect("an index is text");
    let fp = index::fingerprint(&b.source);
    for (key, value) in [
        ("records_len", usize::MAX),
        ("body_len", usize::MAX),
        ("total", usize::MAX),
    ] {
        let (first, rest) = text.split_once('\n').expect("a header");
        let (header, records) = rest.split_once('\n').expect("a header");
        let mut h: serde_json::Value = serde_json::from_str(header).expect("JSON");
        h[key] = serde_json::json!(value);
        let bytes = format!("{first}\n{h}\n{records}").into_bytes();
        let e = Index::parse(bytes, &fp).err().expect("refused");
        assert!(
            format!("{e:#}").contains("truncated or damaged"),
            "{key}: {e:#}"
        );
    }
}

#[test]
fn a_damaged_index_is_refused_or_read_without_a_panic() {
    let b = built();
    check("mutated index", MUTATED_CASES, mutations(4), |ms| {
        use_index(&b.source, mutate(&b.bytes, &ms))
    });
    // Most changes above break the header (its lengths, the fingerprint): here only the
    // records and the body change, their lengths kept, so that the index still opens.
    let header_end = {
        let first = b.bytes.iter().position(|&c| c == b'\n').expect("a line");
        first
            + 1
            + b.bytes[first + 1..]
                .iter()
                .position(|&c| c == b'\n')
                .expect("a header")
            + 1
    };
    let same_length = mutations(4).prop_map(|ms| {
        ms.into_iter()
            .filter(|m| {
                matches!(
                    m,
                    Mutation::Flip(..) | Mutation::Set(..) | Mutation::SwapLines(..)
                )
            })
            .collect::<Vec<_>>()
    });
    check("mutated index records", MUTATED_CASES, same_length, |ms| {
        let mut bytes = b.bytes[..header_end].to_vec();
        bytes.extend(mutate(&b.bytes[header_end..], &ms));
        use_index(&b.source, bytes)
    });
}

#[test]
fn header_lengths_anywhere_in_usize_never_panic() {
    let b = built();
    let text = String::from_utf8(b.bytes.clone()).expect("an index is text");
    let (first, rest) = text.split_once('\n').expect("a header");
    let (header, records) = rest.split_once('\n').expect("a header");
    let header: serde_json::Value = serde_json::from_str(header).expect("JSON");
    let n = prop_oneof![
        Just(usize::MAX),
        Just(usize::MAX - 1),
        Just(0usize),
        any::<usize>(),
        0usize..4096
    ];
    check(
        "index header",
        HEADER_CASES,
        (n.clone(), n.clone(), n, 0..3usize),
        |(a, b2, c, which)| {
            let mut h = header.clone();
            let key = ["records_len", "body_len", "total"][which];
            h[key] = serde_json::json!(a);
            if which != 1 {
                h["body_len"] = serde_json::json!(b2);
            }
            h["total"] = serde_json::json!(c);
            let bytes = format!("{first}\n{h}\n{records}").into_bytes();
            use_index(&b.source, bytes)
        },
    );
}
