//! OSV `all.zip` exports, read with the `zip` crate (deflate only) as untrusted input.
//!
//! Before a byte is inflated, the archive's structure is checked: no two entries may share
//! bytes (a few kilobytes listed hundreds of times make gigabytes), and the sizes the
//! entries declare must stay under [`MAX_MEMBER`] each and [`MAX_TOTAL`] in all, far above
//! a real export (osv.dev's whole PyPI export inflates to about 100 MB). The crate then
//! refuses to inflate a member past its declared size, and members are handed over one at
//! a time, never all held at once.

use std::fs::File;
use std::io::{BufReader, Read as _};
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use zip::ZipArchive;

/// The most one member may inflate to.
pub const MAX_MEMBER: u64 = 64 << 20;
/// The most all members together may inflate to.
pub const MAX_TOTAL: u64 = 1 << 30;

type Archive = ZipArchive<BufReader<File>>;

/// Open `path` and check its structure (see the module's documentation).
fn open(path: &Path) -> Result<Archive> {
    let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut zip = ZipArchive::new(BufReader::new(file))
        .with_context(|| format!("{}: not a readable zip file", path.display()))?;
    let overlap = zip
        .has_overlapping_entries()
        .with_context(|| format!("{}: not a readable zip file", path.display()))?;
    if overlap {
        bail!(
            "{}: entries overlap (the same bytes listed as several members, as zip bombs do); refused",
            path.display()
        );
    }
    let mut total = 0u64;
    for i in 0..zip.len() {
        let e = zip
            .by_index_data(i)
            .with_context(|| format!("{}: entry {i} is damaged", path.display()))?;
        if e.size() > MAX_MEMBER {
            bail!(
                "{}: member {} declares {} bytes, over the limit of {} per member; refused",
                path.display(),
                String::from_utf8_lossy(e.name_raw()),
                e.size(),
                crate::report::human_bytes(MAX_MEMBER)
            );
        }
        total = total.saturating_add(e.size());
    }
    if total > MAX_TOTAL {
        bail!(
            "{}: members declare {total} bytes in all, over the limit of {}; refused",
            path.display(),
            crate::report::human_bytes(MAX_TOTAL)
        );
    }
    Ok(zip)
}

/// Hand every file member, inflated and CRC-checked, to `f` as (name, content), one at a
/// time; returns how many there were.
pub fn for_each(path: &Path, mut f: impl FnMut(&str, &[u8])) -> Result<usize> {
    let mut zip = open(path)?;
    let mut buf = Vec::new();
    let mut n = 0;
    for i in 0..zip.len() {
        let mut m = zip
            .by_index(i)
            .with_context(|| format!("{}: entry {i} is damaged", path.display()))?;
        if m.is_dir() {
            continue;
        }
        let name = String::from_utf8_lossy(m.name_raw()).into_owned();
        buf.clear();
        // The declared size was checked and the reader stops there; the limit is kept a
        // second time here all the same.
        (&mut m)
            .take(MAX_MEMBER + 1)
            .read_to_end(&mut buf)
            .with_context(|| {
                format!(
                    "{}: member {name} is damaged (the download may be incomplete)",
                    path.display()
                )
            })?;
        if buf.len() as u64 > MAX_MEMBER {
            bail!(
                "{}: member {name} inflates past the limit of {} per member; refused",
                path.display(),
                crate::report::human_bytes(MAX_MEMBER)
            );
        }
        f(&name, &buf);
        n += 1;
    }
    Ok(n)
}

/// Every file member as (name, content), all read and checked (see [`for_each`]).
pub fn entries(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for_each(path, |name, bytes| {
        out.push((name.to_string(), bytes.to_vec()))
    })?;
    Ok(out)
}

/// How many file members the archive lists, its structure checked but nothing inflated.
pub fn count(path: &Path) -> Result<usize> {
    let zip = open(path)?;
    let mut n = 0;
    for i in 0..zip.len() {
        if !zip.by_index_data(i).is_ok_and(|e| e.is_dir()) {
            n += 1;
        }
    }
    Ok(n)
}
