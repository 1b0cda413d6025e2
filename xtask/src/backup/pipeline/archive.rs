//! The pipeline-backup archive format: a deterministic `.tar.gz` whose first member is a
//! manifest (path, type, size, mode, sha256 of every member), and the one reader that both
//! `backup verify` and `restore config` use, which refuses every unsafe entry.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use flate2::{Compression, GzBuilder, read::GzDecoder};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::report::{Code, Finding, Severity, codes};
pub use crate::util::hash::hash_file;
use crate::util::hash::{HashingReader, HashingWriter, hex};

pub const MANIFEST_NAME: &str = ".xtask-manifest.json";
pub const FORMAT: &str = "xtask-pipeline-backup/1";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Symlink,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestEntry {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: EntryKind,
    pub size: u64,
    pub mode: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: String,
    pub files: Vec<ManifestEntry>,
    /// Files under the pipeline paths that the backup left out on purpose (not in the
    /// archive), so that a restore can say what it cannot bring back. Absent in archives
    /// made before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<LeftOut>,
}

/// A file the backup left out on purpose, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LeftOut {
    pub path: String,
    pub why: LeftOutWhy,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LeftOutWhy {
    /// It looks like it holds credentials (not listed in pipeline.include_secrets).
    Secret,
    /// It matches pipeline.exclude.
    Excluded,
}

impl LeftOutWhy {
    pub fn describe(self) -> &'static str {
        match self {
            LeftOutWhy::Secret => {
                "excluded as a secret at backup time: restore it from your secret store"
            }
            LeftOutWhy::Excluded => "excluded by pipeline.exclude at backup time",
        }
    }
}

impl Manifest {
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// Normalised permission bits: 0755 when any execute bit is set, else 0644.
pub fn normal_mode(mode: u32) -> u32 {
    if mode & 0o111 != 0 { 0o755 } else { 0o644 }
}

/// Write the archive: the manifest, then every entry in manifest order, with fixed mtime,
/// owner and gzip header so that the same tree always gives the same bytes. File contents
/// are hashed again while archived; a file that changed since it was hashed fails the run.
/// Returns the sha256 and size of the compressed archive.
pub fn write<W: Write>(
    out: W,
    manifest: &Manifest,
    source: &dyn Fn(&ManifestEntry) -> std::path::PathBuf,
) -> Result<(String, u64)> {
    let hashing = HashingWriter::new(out);
    let gz = GzBuilder::new()
        .mtime(0)
        .write(hashing, Compression::new(6));
    let mut tar = tar::Builder::new(gz);
    let mut json = serde_json::to_vec_pretty(manifest)?;
    json.push(b'\n');
    let mut h = header(tar::EntryType::Regular, json.len() as u64, 0o644);
    tar.append_data(&mut h, MANIFEST_NAME, json.as_slice())?;
    for e in &manifest.files {
        match e.kind {
            EntryKind::Symlink => {
                let mut h = header(tar::EntryType::Symlink, 0, 0o777);
                let target = e.target.as_deref().unwrap_or_default();
                tar.append_link(&mut h, &e.path, target)
                    .with_context(|| format!("archiving link {}", e.path))?;
            }
            EntryKind::File => {
                let path = source(e);
                let f = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
                let mut r = HashingReader::new(f.take(e.size));
                let mut h = header(tar::EntryType::Regular, e.size, e.mode);
                tar.append_data(&mut h, &e.path, &mut r)
                    .with_context(|| format!("archiving {}", path.display()))?;
                let (sha, n) = r.finish()?;
                if n != e.size || Some(&sha) != e.sha256.as_ref() {
                    bail!(
                        "{} changed while it was being backed up: run the backup again",
                        path.display()
                    );
                }
            }
        }
    }
    let gz = tar.into_inner()?;
    let mut hashing = gz.finish()?;
    hashing.flush()?;
    Ok((hex(&hashing.hasher.finalize()), hashing.bytes))
}

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Read only the manifest (the first member): cheap, for `backup list` and `--if-changed`.
pub fn read_manifest(path: &Path) -> Result<Manifest> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut ar = tar::Archive::new(GzDecoder::new(BufReader::new(f)));
    let mut entries = ar.entries()?;
    let mut first = entries
        .next()
        .context("empty archive")?
        .with_context(|| format!("reading {}", path.display()))?;
    if first.path_bytes().as_ref() != MANIFEST_NAME.as_bytes() {
        bail!("{} has no manifest as its first member", path.display());
    }
    let mut buf = Vec::new();
    first.read_to_end(&mut buf)?;
    let m: Manifest = serde_json::from_slice(&buf)
        .with_context(|| format!("parsing the manifest of {}", path.display()))?;
    if m.format != FORMAT {
        bail!("{}: unknown backup format `{}`", path.display(), m.format);
    }
    Ok(m)
}

/// Receives each verified-so-far member's content during [`check`].
pub type Sink<'a> = &'a mut dyn FnMut(&ManifestEntry, &mut dyn Read) -> Result<()>;

/// What reading a whole archive found.
#[derive(Debug, Default)]
pub struct Check {
    pub manifest: Option<Manifest>,
    pub findings: Vec<Finding>,
    /// sha256 of the compressed file as read.
    pub sha256: String,
}

impl Check {
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

fn problem(code: Code, archive: &Path, msg: String) -> Finding {
    Finding::new(code, Severity::High, msg).at(archive.display().to_string())
}

/// Read the whole archive: every member against the manifest, every path and type against
/// the safety rules. `sink`, when given, receives each file member's content (it must read
/// it; hashing happens on the way). A damaged archive gives findings naming the member.
pub fn check(archive: &Path, mut sink: Option<Sink<'_>>) -> Result<Check> {
    let f = File::open(archive).with_context(|| format!("opening {}", archive.display()))?;
    let mut raw = HashingReader::new(BufReader::with_capacity(1 << 16, f));
    let mut checker = Checker::new(archive);
    {
        let mut ar = tar::Archive::new(GzDecoder::new(&mut raw));
        match checker.members(&mut ar, &mut sink) {
            Err(e) => {
                let msg = format!(
                    "archive is damaged ({e:#}); last good member `{}`",
                    checker.last
                );
                checker.problem(codes::BACKUP_CORRUPT, msg);
            }
            Ok(()) => {
                if let Err(e) = io::copy(&mut ar.into_inner(), &mut io::sink()) {
                    let msg = format!("archive is damaged after member `{}`: {e}", checker.last);
                    checker.problem(codes::BACKUP_CORRUPT, msg);
                }
            }
        }
    }
    checker.members_under_links();
    checker.chained_links();
    let (sha, _) = raw
        .finish()
        .with_context(|| format!("reading {}", archive.display()))?;
    Ok(Check {
        manifest: checker.manifest,
        findings: checker.findings,
        sha256: sha,
    })
}

/// The state of one pass of [`check`] over an archive's members.
struct Checker<'a> {
    archive: &'a Path,
    manifest: Option<Manifest>,
    findings: Vec<Finding>,
    /// Manifest entries not met yet.
    expected: BTreeMap<String, ManifestEntry>,
    /// Members met so far.
    seen: BTreeMap<String, ManifestEntry>,
    /// Link members: path → target.
    links: BTreeMap<String, String>,
    /// The last member read, for messages about damage.
    last: String,
}

impl<'a> Checker<'a> {
    fn new(archive: &'a Path) -> Checker<'a> {
        Checker {
            archive,
            manifest: None,
            findings: Vec::new(),
            expected: BTreeMap::new(),
            seen: BTreeMap::new(),
            links: BTreeMap::new(),
            last: String::from("(start of archive)"),
        }
    }

    fn problem(&mut self, code: Code, msg: String) {
        self.findings.push(problem(code, self.archive, msg));
    }

    /// Every member in order. An error is damage (the tar or gzip stream cannot be read).
    fn members<R: Read>(
        &mut self,
        ar: &mut tar::Archive<R>,
        sink: &mut Option<Sink<'_>>,
    ) -> Result<()> {
        for (i, entry) in ar.entries()?.enumerate() {
            let last = &self.last;
            let mut entry = entry.with_context(|| format!("after member `{last}`"))?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if i == 0 {
                if !self.manifest_member(&name, &mut entry)? {
                    return Ok(());
                }
                self.last = name;
                continue;
            }
            self.last = name.clone();
            self.member(name, &mut entry, sink)?;
        }
        if self.manifest.is_none() {
            // Not one member: the stream ends where the manifest should be.
            self.problem(
                codes::BACKUP_MANIFEST_MISSING,
                "the archive holds no member, not even the manifest: it is empty or cut short"
                    .into(),
            );
            return Ok(());
        }
        for missing in self.expected.keys() {
            self.findings.push(problem(
                codes::BACKUP_MEMBER_MISSING,
                self.archive,
                format!("member `{missing}` is in the manifest but not in the archive"),
            ));
        }
        Ok(())
    }

    /// The first member, which must be the manifest: false (and a finding) when it is not.
    fn manifest_member<R: Read>(
        &mut self,
        name: &str,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<bool> {
        if name != MANIFEST_NAME || entry.header().entry_type() != tar::EntryType::Regular {
            self.problem(
                codes::BACKUP_MANIFEST_MISSING,
                format!(
                    "the first member is `{name}`, not the manifest: this is not an xtask backup"
                ),
            );
            return Ok(false);
        }
        let mut buf = Vec::new();
        entry
            .read_to_end(&mut buf)
            .with_context(|| format!("in member `{name}`"))?;
        let m: Manifest = serde_json::from_slice(&buf).context("manifest is not valid")?;
        if m.format != FORMAT {
            self.problem(
                codes::BACKUP_MANIFEST_MISSING,
                format!(
                    "the manifest's format is {:?}, not {FORMAT:?}: not a backup this xtask can read",
                    m.format
                ),
            );
            return Ok(false);
        }
        self.expected = m
            .files
            .iter()
            .map(|e| (e.path.clone(), e.clone()))
            .collect();
        self.manifest = Some(m);
        Ok(true)
    }

    /// One member after the manifest: safe, expected once, and as the manifest records it.
    fn member<R: Read>(
        &mut self,
        name: String,
        entry: &mut tar::Entry<'_, R>,
        sink: &mut Option<Sink<'_>>,
    ) -> Result<()> {
        let etype = entry.header().entry_type();
        if let Err(why) = safe_entry(&entry.path_bytes(), etype) {
            self.problem(
                codes::BACKUP_UNSAFE_ENTRY,
                format!("member `{name}` refused: {why}"),
            );
            return Ok(());
        }
        let Some(want) = self.expected.remove(&name) else {
            let code = if self.seen.contains_key(&name) {
                codes::BACKUP_MEMBER_DUPLICATE
            } else {
                codes::BACKUP_MEMBER_UNEXPECTED
            };
            self.problem(
                code,
                format!("member `{name}` is not in the manifest (or appears twice)"),
            );
            return Ok(());
        };
        if etype == tar::EntryType::Symlink {
            let target = self.link_member(&name, entry, &want);
            self.links.insert(name.clone(), target);
        } else {
            self.file_member(&name, entry, &want, sink)?;
        }
        self.seen.insert(name, want);
        Ok(())
    }

    /// A link member on its own (its chain is checked at the end); returns its target.
    fn link_member<R: Read>(
        &mut self,
        name: &str,
        entry: &tar::Entry<'_, R>,
        want: &ManifestEntry,
    ) -> String {
        let target = entry
            .link_name_bytes()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        if let Err(why) = safe_link(name, &target) {
            self.problem(
                codes::BACKUP_UNSAFE_ENTRY,
                format!("link `{name}` -> `{target}` refused: {why}"),
            );
        } else if want.kind != EntryKind::Symlink
            || want.target.as_deref() != Some(&target)
            || (want.size, want.sha256.as_deref()) != (0, None)
            || entry.header().mode().ok() != Some(want.mode)
        {
            self.problem(
                codes::BACKUP_MEMBER_MISMATCH,
                format!("link `{name}` -> `{target}` differs from the manifest"),
            );
        }
        target
    }

    /// Links that are safe one by one but lead outside (or loop) through each other.
    fn chained_links(&mut self) {
        for (name, target) in &self.links {
            if safe_link(name, target).is_err() {
                continue; // already refused on its own
            }
            if let Err(why) = resolve_link(name, target, &self.links) {
                self.findings.push(problem(
                    codes::BACKUP_UNSAFE_ENTRY,
                    self.archive,
                    format!("link `{name}` -> `{target}` refused: {why}"),
                ));
            }
        }
    }

    /// A file member: its content goes through the sink (when there is one) and is hashed.
    fn file_member<R: Read>(
        &mut self,
        name: &str,
        entry: &mut tar::Entry<'_, R>,
        want: &ManifestEntry,
        sink: &mut Option<Sink<'_>>,
    ) -> Result<()> {
        let mode = entry.header().mode().unwrap_or(0);
        let mut r = HashingReader::new(entry);
        if let Some(sink) = sink.as_mut() {
            sink(want, &mut r)?;
        }
        let (sha, n) = r.finish().with_context(|| format!("in member `{name}`"))?;
        if want.kind != EntryKind::File
            || n != want.size
            || want.sha256.as_deref() != Some(&sha)
            || mode != want.mode
        {
            self.problem(
                codes::BACKUP_MEMBER_MISMATCH,
                format!("member `{name}` does not match the manifest (size {n}, sha256 {sha})"),
            );
        }
        Ok(())
    }

    /// A member stored under a path that goes through a link could write outside the target.
    fn members_under_links(&mut self) {
        for path in self.seen.keys() {
            let mut prefix = String::new();
            for comp in path.split('/') {
                if !prefix.is_empty() && self.links.contains_key(&prefix) {
                    self.findings.push(problem(
                        codes::BACKUP_UNSAFE_ENTRY,
                        self.archive,
                        format!("member `{path}` lies under the link `{prefix}`"),
                    ));
                    break;
                }
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(comp);
            }
        }
    }
}

/// Paths must be relative, `/`-separated, free of `..`, `.` and empty components; only
/// regular files and symbolic links are accepted (no hard links, devices, FIFOs, ...).
pub fn safe_entry(path: &[u8], kind: tar::EntryType) -> Result<(), String> {
    let Ok(path) = std::str::from_utf8(path) else {
        return Err("the path is not UTF-8".into());
    };
    safe_rel_path(path)?;
    match kind {
        tar::EntryType::Regular | tar::EntryType::Symlink => Ok(()),
        tar::EntryType::Link => Err("hard links are not restored".into()),
        tar::EntryType::Char | tar::EntryType::Block => Err("device files are not restored".into()),
        tar::EntryType::Fifo => Err("FIFOs are not restored".into()),
        other => Err(format!("entry type {other:?} is not restored")),
    }
}

pub fn safe_rel_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("empty path".into());
    }
    if path.starts_with('/') {
        return Err("absolute path".into());
    }
    for comp in path.split('/') {
        match comp {
            ".." => return Err("path contains `..`".into()),
            "" | "." => return Err("path is not in normal form".into()),
            _ if comp.contains('\0') => return Err("path contains NUL".into()),
            _ => {}
        }
    }
    Ok(())
}

/// A link target must be relative and, resolved from the link's directory, stay inside.
/// (One link on its own: [`resolve_link`] also follows the other links of the tree.)
pub fn safe_link(link: &str, target: &str) -> Result<(), String> {
    resolve_link(link, target, &BTreeMap::new())
}

/// Links followed in a row before a target counts as a loop (Linux stops at 40 as well).
const MAX_LINK_HOPS: usize = 40;

/// Resolve the link `link` -> `target` the way the file system will once the tree is
/// restored: component by component from the link's directory, following every link of
/// `links` (path in the tree → its target) met on the way. Each link can be harmless on its
/// own (`a -> .`, `b -> a/..`) and still lead outside through another: this refuses a
/// target that leaves the tree at any step, is absolute, or loops.
pub fn resolve_link(
    link: &str,
    target: &str,
    links: &BTreeMap<String, String>,
) -> Result<(), String> {
    if target.is_empty() {
        return Err("empty link target".into());
    }
    if target.starts_with('/') {
        return Err("absolute link target".into());
    }
    // Where resolution stands (components from the root of the tree), and what is left.
    let mut at: Vec<&str> = link.split('/').collect();
    at.pop();
    let mut pending: VecDeque<&str> = target.split('/').collect();
    let mut through: Option<String> = None;
    let mut hops = 0;
    while let Some(comp) = pending.pop_front() {
        match comp {
            "" | "." => {}
            ".." => {
                if at.pop().is_none() {
                    return Err(match &through {
                        None => "link target points outside the tree".into(),
                        Some(l) => {
                            format!("link target points outside the tree (through the link `{l}`)")
                        }
                    });
                }
            }
            name => {
                at.push(name);
                let here = at.join("/");
                let Some(next) = links.get(&here) else {
                    continue;
                };
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return Err(format!(
                        "link target goes round in a loop (through `{here}`)"
                    ));
                }
                if next.is_empty() || next.starts_with('/') {
                    return Err(format!(
                        "link target goes through the link `{here}`, which is empty or absolute"
                    ));
                }
                at.pop();
                for c in next.split('/').rev() {
                    pending.push_front(c);
                }
                through = Some(here);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_rules() {
        assert!(safe_link("a/b", "c").is_ok());
        assert!(safe_link("a/b", "../c").is_ok());
        assert!(safe_link("a/b", "../../c").is_err());
        assert!(safe_link("b", "../c").is_err());
        assert!(safe_link("a/b", "/etc/passwd").is_err());
        assert!(safe_link("a/b", "./x/../../y").is_ok());
        assert!(safe_link("a/b", "x/../../../y").is_err());
    }

    #[test]
    fn chained_links_are_resolved_through_each_other() {
        let links: BTreeMap<String, String> = [
            ("a", "."),
            ("b", "a/.."),
            ("c", "a/../x"),
            ("d", "a/x"),
            ("x/y", ".."),
            ("z", "x/y/.."),
            ("p", "q"),
            ("q", "p"),
            ("conf", "config"),
            ("scripts/app.yml", "../conf/app.yml"),
            ("abs", "/etc"),
            ("via-abs", "abs/x"),
        ]
        .into_iter()
        .map(|(l, t)| (l.to_string(), t.to_string()))
        .collect();
        let check = |l: &str| resolve_link(l, &links[l], &links);
        for ok in ["a", "d", "x/y", "conf", "scripts/app.yml"] {
            assert!(check(ok).is_ok(), "{ok}: {:?}", check(ok));
        }
        for bad in ["b", "c", "z", "p", "q", "via-abs"] {
            assert!(check(bad).is_err(), "{bad}");
        }
        // Each of those is harmless on its own: only the chain gives it away.
        for single in ["b", "c", "z", "via-abs"] {
            assert!(safe_link(single, &links[single]).is_ok(), "{single}");
        }
        assert!(check("b").unwrap_err().contains("through the link `a`"));
    }

    /// Found by `fuzz_tests::archive`: a gzipped tar with no member at all (an empty
    /// stream, or one whose first header was zeroed) verified ok without a manifest, and
    /// `restore config` then panicked on the missing manifest.
    #[test]
    fn an_archive_without_any_member_does_not_verify() {
        let dir = tempfile::tempdir().unwrap();
        for tar in [Vec::new(), vec![0u8; 1024], vec![0u8; 10240]] {
            let path = dir.path().join("empty.tar.gz");
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
            gz.write_all(&tar).unwrap();
            std::fs::write(&path, gz.finish().unwrap()).unwrap();
            let c = check(&path, None).unwrap();
            assert!(!c.ok() && c.manifest.is_none(), "{} zero bytes", tar.len());
            assert_eq!(c.findings[0].code, codes::BACKUP_MANIFEST_MISSING);
        }
    }

    /// Found by `fuzz_tests::archive`: a link's manifest entry was compared by kind and
    /// target only, so one with another mode, a size or a checksum verified ok.
    #[test]
    fn a_link_entry_must_be_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("links.tar.gz");
        let link = ManifestEntry {
            path: "l".into(),
            kind: EntryKind::Symlink,
            size: 0,
            mode: 0o777,
            sha256: None,
            target: Some("x".into()),
        };
        let archive = |entry: &ManifestEntry| {
            // The member as `write` makes it; the manifest as given.
            let mut json = serde_json::to_vec_pretty(&Manifest {
                format: FORMAT.into(),
                files: vec![entry.clone()],
                left_out: Vec::new(),
            })
            .unwrap();
            json.push(b'\n');
            let gz =
                GzBuilder::new().write(std::fs::File::create(&path).unwrap(), Compression::fast());
            let mut tar = tar::Builder::new(gz);
            let mut h = header(tar::EntryType::Regular, json.len() as u64, 0o644);
            tar.append_data(&mut h, MANIFEST_NAME, json.as_slice())
                .unwrap();
            let mut h = header(tar::EntryType::Symlink, 0, 0o777);
            tar.append_link(&mut h, "l", "x").unwrap();
            tar.into_inner().unwrap().finish().unwrap();
            check(&path, None).unwrap()
        };
        assert!(archive(&link).ok());
        for other in [
            ManifestEntry {
                mode: 0o644,
                ..link.clone()
            },
            ManifestEntry {
                size: 3,
                ..link.clone()
            },
            ManifestEntry {
                sha256: Some("00".into()),
                ..link.clone()
            },
        ] {
            let c = archive(&other);
            assert_eq!(c.findings.len(), 1, "{other:?}");
            assert_eq!(c.findings[0].code, codes::BACKUP_MEMBER_MISMATCH);
        }
    }

    /// Found by `fuzz_tests::archive`: `check` (verify, restore) never looked at the
    /// manifest's format, which `read_manifest` refuses when unknown: an archive of another
    /// format verified ok.
    #[test]
    fn a_manifest_of_another_format_does_not_verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.tar.gz");
        let manifest = Manifest {
            format: "xtask-pipeline-backup/2".into(),
            files: Vec::new(),
            left_out: Vec::new(),
        };
        write(
            std::fs::File::create(&path).unwrap(),
            &manifest,
            &|_| unreachable!(),
        )
        .unwrap();
        let c = check(&path, None).unwrap();
        assert!(!c.ok() && c.manifest.is_none());
        assert_eq!(c.findings[0].code, codes::BACKUP_MANIFEST_MISSING);
        assert!(
            c.findings[0]
                .message
                .contains("\"xtask-pipeline-backup/2\""),
            "{}",
            c.findings[0].message
        );
    }

    #[test]
    fn path_rules() {
        assert!(safe_rel_path("a/b.yml").is_ok());
        for bad in ["", "/etc/x", "a/../b", "..", "a//b", "./a", "a/"] {
            assert!(safe_rel_path(bad).is_err(), "{bad}");
        }
        assert!(safe_entry(b"a", tar::EntryType::Link).is_err());
        assert!(safe_entry(b"a", tar::EntryType::Fifo).is_err());
        assert!(safe_entry(b"a", tar::EntryType::Char).is_err());
    }
}
