//! OSV `all.zip` exports, read with the `zip` crate (deflate only).

use std::fs::File;
use std::io::{BufReader, Read as _};
use std::path::Path;

use anyhow::{Context as _, Result};
use zip::ZipArchive;

/// Every file member as (name, content), inflated and CRC-checked.
pub fn entries(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut zip = ZipArchive::new(BufReader::new(file))
        .with_context(|| format!("{}: not a readable zip file", path.display()))?;
    let mut out = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let mut m = zip
            .by_index(i)
            .with_context(|| format!("{}: entry {i} is damaged", path.display()))?;
        if m.is_dir() {
            continue;
        }
        let name = String::from_utf8_lossy(m.name_raw()).into_owned();
        let mut content = Vec::new();
        m.read_to_end(&mut content).with_context(|| {
            format!(
                "{}: member {name} is damaged (the download may be incomplete)",
                path.display()
            )
        })?;
        out.push((name, content));
    }
    Ok(out)
}
