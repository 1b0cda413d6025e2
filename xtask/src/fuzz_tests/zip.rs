//! OSV zip exports: a damaged or cut archive is an error, never fewer advisories read as
//! if complete; whatever is read is a member's content as it was written (CRC-checked).

use std::collections::BTreeSet;
use std::fs;
use std::io::Write as _;

use proptest::prelude::*;
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use super::{bytes, check, guard, mutate, mutations};
use crate::audit::zip::{count, for_each};

/// Generated exports, cut at a random point.
const CUT_CASES: u32 = 300;
/// Generated exports, mutated.
const MUTATED_CASES: u32 = 1000;
/// Arbitrary bytes.
const ARBITRARY_CASES: u32 = 500;

/// Members: name, content, stored or deflated.
type Members = Vec<(String, Vec<u8>, bool)>;

fn members() -> impl Strategy<Value = Members> {
    let member = (
        "[A-Z]{4}-[0-9]{1,4}(\\.json|/)?",
        prop::collection::vec(any::<u8>(), 0..600),
        any::<bool>(),
    );
    prop::collection::vec(member, 1..5).prop_map(|v| {
        let mut seen = BTreeSet::new();
        v.into_iter()
            .filter(|(n, ..)| seen.insert(n.clone()))
            .map(|(n, data, stored)| {
                let data = if n.ends_with('/') { Vec::new() } else { data };
                (n, data, stored)
            })
            .collect()
    })
}

fn archive(members: &Members) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data, stored) in members {
        let method = if *stored {
            CompressionMethod::Stored
        } else {
            CompressionMethod::Deflated
        };
        let opts = SimpleFileOptions::default().compression_method(method);
        if name.ends_with('/') {
            w.add_directory(name.as_str(), opts).expect("zip");
        } else {
            w.start_file(name.as_str(), opts).expect("zip");
            w.write_all(data).expect("zip");
        }
    }
    w.finish().expect("zip").into_inner()
}

/// What `for_each` hands over (name, content), or `None` for an error.
fn read(file: &std::path::Path, bytes: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    fs::write(file, bytes).expect("write");
    let file = file.to_path_buf();
    guard("zip", move || {
        let _ = count(&file);
        let mut got = Vec::new();
        for_each(&file, |n, b| got.push((n.to_string(), b.to_vec()))).ok()?;
        Some(got)
    })
}

fn files(m: &Members) -> Vec<(String, Vec<u8>)> {
    m.iter()
        .filter(|(n, ..)| !n.ends_with('/'))
        .map(|(n, d, _)| (n.clone(), d.clone()))
        .collect()
}

#[test]
fn an_export_reads_whole_and_any_cut_of_it_is_an_error() {
    let dir = super::scratch();
    let file = dir.path().join("all.zip");
    check(
        "cut zip",
        CUT_CASES,
        (members(), any::<prop::sample::Index>()),
        |(m, cut)| {
            let bytes = archive(&m);
            prop_assert_eq!(
                read(&file, &bytes),
                Some(files(&m)),
                "the export as written"
            );
            let at = cut.index(bytes.len());
            prop_assert_eq!(
                read(&file, &bytes[..at]),
                None,
                "cut at {} of {} bytes",
                at,
                bytes.len()
            );
            Ok(())
        },
    );
}

#[test]
fn mutated_exports_hand_over_only_what_was_written() {
    let dir = super::scratch();
    let file = dir.path().join("all.zip");
    check(
        "mutated zip",
        MUTATED_CASES,
        (members(), mutations(4)),
        |(m, ms)| {
            let Some(got) = read(&file, &mutate(&archive(&m), &ms)) else {
                return Ok(());
            };
            let written: BTreeSet<&[u8]> = m.iter().map(|(_, d, _)| d.as_slice()).collect();
            for (name, data) in &got {
                prop_assert!(
                    written.contains(data.as_slice()),
                    "member {name}: content never written"
                );
            }
            Ok(())
        },
    );
    check("arbitrary zip", ARBITRARY_CASES, bytes(2048), |b| {
        let mut z = b"PK\x03\x04".to_vec();
        z.extend(b);
        let _ = read(&file, &z);
        Ok(())
    });
}
