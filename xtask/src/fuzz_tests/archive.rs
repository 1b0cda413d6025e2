//! Pipeline archives (`archive::check`, the one reader of verify and restore): an archive
//! verifies only when every member the manifest lists was read and is what the manifest
//! says, and nothing it holds is unsafe. Cut short, bit-flipped (compressed or not) or
//! built hostile, it never verifies with anything else.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use proptest::prelude::*;
use sha2::Digest;

use super::{check, guard, mutate, mutations};
use crate::backup::pipeline::archive::{
    self, EntryKind, FORMAT, MANIFEST_NAME, Manifest, ManifestEntry, resolve_link, safe_rel_path,
};

/// Generated trees archived, then cut at [`MUTANTS`] random points.
const TRUNCATED_CASES: u32 = 200;
/// Archives with the compressed bytes mutated ([`MUTANTS`] mutations of each).
const MUTATED_GZ_CASES: u32 = 200;
/// Archives with the tar stream mutated and compressed again ([`MUTANTS`] of each).
const MUTATED_TAR_CASES: u32 = 300;
/// Mutations judged per archive written.
const MUTANTS: usize = 4;
/// Hostile archives built member by member, with a manifest that matches them.
const HOSTILE_CASES: u32 = 1000;

/// A tree to archive: file paths with contents and modes, and links to some of the files.
#[derive(Debug, Clone)]
struct Tree {
    files: Vec<(String, Vec<u8>, u32)>,
    links: Vec<(String, String)>,
}

fn tree() -> impl Strategy<Value = Tree> {
    let file = (
        prop::sample::select(&["", "config/", "scripts/", ".github/workflows/"][..]),
        "[a-z]{1,6}(\\.yml)?",
        prop::collection::vec(any::<u8>(), 0..1500),
        prop::bool::ANY,
    );
    (
        prop::collection::vec(file, 1..6),
        prop::collection::vec(any::<prop::sample::Index>(), 0..3),
    )
        .prop_map(|(files, links)| {
            let mut seen = std::collections::BTreeSet::new();
            let files: Vec<(String, Vec<u8>, u32)> = files
                .into_iter()
                .filter_map(|(dir, name, data, exec)| {
                    let path = format!("{dir}{name}");
                    seen.insert(path.clone()).then_some((
                        path,
                        data,
                        if exec { 0o755 } else { 0o644 },
                    ))
                })
                .collect();
            // A link beside the tree's top, to a file (relative to the top).
            let links = links
                .iter()
                .enumerate()
                .map(|(i, ix)| (format!("link{i}"), files[ix.index(files.len())].0.clone()))
                .collect();
            Tree { files, links }
        })
}

fn sha(data: &[u8]) -> String {
    crate::util::hash::hex(&sha2::Sha256::digest(data))
}

impl Tree {
    fn manifest(&self) -> Manifest {
        let mut files: Vec<ManifestEntry> = self
            .files
            .iter()
            .map(|(path, data, mode)| ManifestEntry {
                path: path.clone(),
                kind: EntryKind::File,
                size: data.len() as u64,
                mode: *mode,
                sha256: Some(sha(data)),
                target: None,
            })
            .collect();
        files.extend(self.links.iter().map(|(path, target)| ManifestEntry {
            path: path.clone(),
            kind: EntryKind::Symlink,
            size: 0,
            mode: 0o777,
            sha256: None,
            target: Some(target.clone()),
        }));
        Manifest {
            format: FORMAT.into(),
            files,
            left_out: Vec::new(),
        }
    }

    /// The archive `backup config` writes for this tree.
    fn archive(&self, src: &Path) -> Vec<u8> {
        for (path, data, _) in &self.files {
            let p = src.join(path);
            fs::create_dir_all(p.parent().expect("a parent")).expect("folder");
            fs::write(&p, data).expect("write");
        }
        let mut out = Vec::new();
        archive::write(&mut out, &self.manifest(), &|e| src.join(&e.path)).expect("archive");
        out
    }

    fn contents(&self) -> BTreeMap<String, Vec<u8>> {
        self.files
            .iter()
            .map(|(p, d, _)| (p.clone(), d.clone()))
            .collect()
    }
}

/// What `check` says of `bytes`: whether it verified, the manifest, and every file member's
/// content as the sink received it.
type Verdict = (bool, Option<Manifest>, BTreeMap<String, Vec<u8>>);

fn verify(file: &Path, bytes: &[u8]) -> Verdict {
    fs::write(file, bytes).expect("write");
    let file = file.to_path_buf();
    guard("archive check", move || {
        let mut got = BTreeMap::new();
        let mut sink = |e: &ManifestEntry, r: &mut dyn std::io::Read| -> anyhow::Result<()> {
            let mut buf = Vec::new();
            r.read_to_end(&mut buf)?;
            got.insert(e.path.clone(), buf);
            Ok(())
        };
        match archive::check(&file, Some(&mut sink)) {
            Ok(c) => (c.ok(), c.manifest, got),
            Err(_) => (false, None, got),
        }
    })
}

/// An archive that verified must be the one that was written.
fn same_or_refused(v: Verdict, tree: &Tree) -> Result<(), TestCaseError> {
    let (ok, manifest, got) = v;
    if ok {
        prop_assert_eq!(
            manifest,
            Some(tree.manifest()),
            "verified with another manifest"
        );
        prop_assert_eq!(got, tree.contents(), "verified with other contents");
    }
    Ok(())
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("a valid archive");
    out
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(b).expect("gzip");
    e.finish().expect("gzip")
}

struct Dirs {
    _tmp: tempfile::TempDir,
    src: PathBuf,
    file: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = super::scratch();
    let src = tmp.path().join("src");
    fs::create_dir(&src).expect("folder");
    let file = tmp.path().join("config-20260101T000000Z.tar.gz");
    Dirs {
        src,
        file,
        _tmp: tmp,
    }
}

#[test]
fn a_written_archive_verifies_and_any_cut_of_it_does_not() {
    let d = dirs();
    let case = (
        tree(),
        prop::collection::vec(any::<prop::sample::Index>(), MUTANTS),
    );
    check(
        "truncated archive",
        TRUNCATED_CASES,
        case,
        |(tree, cuts)| {
            let _ = fs::remove_dir_all(&d.src);
            let bytes = tree.archive(&d.src);
            let (ok, m, got) = verify(&d.file, &bytes);
            prop_assert!(ok, "the archive as written verifies");
            prop_assert_eq!(m, Some(tree.manifest()));
            prop_assert_eq!(got, tree.contents());
            for cut in cuts {
                let at = cut.index(bytes.len());
                let (ok, ..) = verify(&d.file, &bytes[..at]);
                prop_assert!(
                    !ok,
                    "cut at {} of {} bytes, it still verifies",
                    at,
                    bytes.len()
                );
            }
            Ok(())
        },
    );
}

#[test]
fn mutated_archives_verify_only_as_written() {
    // Each case writes one archive and judges several mutations of it.
    let d = dirs();
    let case = || (tree(), prop::collection::vec(mutations(4), MUTANTS));
    check(
        "mutated archive",
        MUTATED_GZ_CASES,
        case(),
        |(tree, mss)| {
            let _ = fs::remove_dir_all(&d.src);
            let bytes = tree.archive(&d.src);
            mss.iter()
                .try_for_each(|ms| same_or_refused(verify(&d.file, &mutate(&bytes, ms)), &tree))
        },
    );
    check(
        "mutated tar stream",
        MUTATED_TAR_CASES,
        case(),
        |(tree, mss)| {
            let _ = fs::remove_dir_all(&d.src);
            let tar = gunzip(&tree.archive(&d.src));
            mss.iter().try_for_each(|ms| {
                same_or_refused(verify(&d.file, &gzip(&mutate(&tar, ms))), &tree)
            })
        },
    );
}

/// One member of a hostile archive: its name and type, its content or link target.
#[derive(Debug, Clone)]
struct Member {
    name: String,
    kind: u8,
    data: Vec<u8>,
    target: String,
}

fn member() -> impl Strategy<Value = Member> {
    // Mostly plain names, so that many archives verify and the chains of links among
    // them are what is judged; sometimes `..`, `.`, empty or absolute parts.
    let part = prop_oneof![
        8 => prop::sample::select(&["a", "b", "c", "x y", "é"][..]),
        1 => prop::sample::select(&["..", ".", "", "/"][..]),
    ];
    let path = prop::collection::vec(part, 1..4).prop_map(|p| p.join("/"));
    let kinds = &[
        b'0', b'0', b'0', b'0', b'0', b'2', b'2', b'2', b'2', b'1', b'3', b'6', b'5',
    ][..];
    (
        path.clone(),
        prop::sample::select(kinds),
        prop::collection::vec(any::<u8>(), 0..64),
        path,
    )
        .prop_map(|(name, kind, data, target)| Member {
            name,
            kind,
            data,
            target,
        })
}

/// A tar stream of `members` (names written as given, unchecked), the manifest first,
/// listing every member as it is.
fn hostile(members: &[Member], manifest_first: bool) -> Vec<u8> {
    let entries: Vec<ManifestEntry> = members
        .iter()
        .map(|m| ManifestEntry {
            path: m.name.clone(),
            kind: if m.kind == b'2' {
                EntryKind::Symlink
            } else {
                EntryKind::File
            },
            size: if m.kind == b'0' {
                m.data.len() as u64
            } else {
                0
            },
            mode: if m.kind == b'2' { 0o777 } else { 0o644 },
            sha256: (m.kind != b'2').then(|| sha(if m.kind == b'0' { &m.data } else { &[] })),
            target: (m.kind == b'2').then(|| m.target.clone()),
        })
        .collect();
    let json = serde_json::to_vec_pretty(&Manifest {
        format: FORMAT.into(),
        files: entries,
        left_out: Vec::new(),
    })
    .expect("JSON");
    let mut b = tar::Builder::new(Vec::new());
    let mut raw = |name: &str, kind: u8, data: &[u8], target: &str, mode: u32| {
        let mut h = tar::Header::new_old();
        let n = name.len().min(99);
        h.as_old_mut().name[..n].copy_from_slice(&name.as_bytes()[..n]);
        let t = target.len().min(99);
        h.as_old_mut().linkname[..t].copy_from_slice(&target.as_bytes()[..t]);
        h.set_entry_type(tar::EntryType::new(kind));
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_cksum();
        b.append(&h, data).expect("tar");
    };
    if manifest_first {
        raw(MANIFEST_NAME, b'0', &json, "", 0o644);
    }
    for m in members {
        let data = if m.kind == b'0' { &m.data[..] } else { &[] };
        raw(
            &m.name,
            m.kind,
            data,
            &m.target,
            if m.kind == b'2' { 0o777 } else { 0o644 },
        );
    }
    gzip(&b.into_inner().expect("tar"))
}

#[test]
fn hostile_archives_never_verify_anything_unsafe() {
    let d = dirs();
    let case = (
        prop::collection::vec(member(), 0..6),
        prop::bool::weighted(0.9),
    );
    check(
        "hostile archive",
        HOSTILE_CASES,
        case,
        |(members, manifest_first)| {
            let (ok, manifest, _) = verify(&d.file, &hostile(&members, manifest_first));
            if !ok {
                return Ok(());
            }
            let Some(m) = manifest else {
                return Err(TestCaseError::fail("verified without a manifest"));
            };
            let links: BTreeMap<String, String> = m
                .files
                .iter()
                .filter(|e| e.kind == EntryKind::Symlink)
                .map(|e| (e.path.clone(), e.target.clone().unwrap_or_default()))
                .collect();
            for e in &m.files {
                prop_assert!(
                    safe_rel_path(&e.path).is_ok(),
                    "unsafe path {:?} verified",
                    e.path
                );
                if let Some(t) = links.get(&e.path) {
                    prop_assert!(
                        resolve_link(&e.path, t, &links).is_ok(),
                        "link {} -> {} leads outside",
                        e.path,
                        t
                    );
                }
                let parts: Vec<&str> = e.path.split('/').collect();
                for i in 1..parts.len() {
                    let prefix = parts[..i].join("/");
                    prop_assert!(
                        !links.contains_key(&prefix),
                        "{} lies under the link {}",
                        e.path,
                        prefix
                    );
                }
            }
            Ok(())
        },
    );
}
