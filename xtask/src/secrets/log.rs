//! The rotation log: `<backup dir>/secrets/rotations.jsonl`, one JSON line per rotation done
//! outside GitHub (`secrets rotated`), only ever appended to. It holds names and days,
//! never a value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use chrono::NaiveDate;

use crate::context::Context;

pub fn path(cx: &Context) -> PathBuf {
    cx.store().dir.join("secrets").join("rotations.jsonl")
}

/// The newest recorded rotation per name, and the lines that are not records (1-based).
pub fn read(path: &Path) -> Result<(BTreeMap<String, NaiveDate>, Vec<usize>)> {
    let mut latest = BTreeMap::new();
    let mut bad = Vec::new();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((latest, bad)),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        #[derive(serde::Deserialize)]
        struct Record {
            name: String,
            at: NaiveDate,
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) => {
                let e = latest.entry(r.name).or_insert(r.at);
                *e = (*e).max(r.at);
            }
            Err(_) => bad.push(i + 1),
        }
    }
    Ok((latest, bad))
}

pub use crate::util::redact::is_secret_name as valid_name;
