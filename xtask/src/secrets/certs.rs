//! PEM certificates for `secrets check`: every `CERTIFICATE` block of a file (a chain gives
//! one entry per certificate), parsed with the `x509-cert` crate. Other blocks (private
//! keys) are skipped unread: nothing of them reaches the report.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use x509_cert::Certificate;
use x509_cert::der::DecodePem;

/// One certificate of a file.
#[derive(Debug, Clone)]
pub struct Cert {
    pub path: PathBuf,
    /// 1-based position in the file (a chain's leaf is 1).
    pub index: usize,
    /// Line of its `-----BEGIN CERTIFICATE-----`.
    pub line: usize,
    pub subject: String,
    pub issuer: String,
    pub not_after: DateTime<Utc>,
}

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// The certificates of one PEM file. A file with no certificate block gives none; a block
/// that does not parse is an error naming its line.
pub fn read(path: &Path) -> Result<Vec<Cert>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(BEGIN) {
        let start = from + i;
        let line = text[..start].matches('\n').count() + 1;
        let Some(j) = text[start..].find(END) else {
            return Err(format!("line {line}: a certificate without `{END}`"));
        };
        let end = start + j + END.len();
        let cert = Certificate::from_pem(text[start..end].as_bytes())
            .map_err(|e| format!("line {line}: not a valid X.509 certificate ({e})"))?;
        let tbs = cert.tbs_certificate();
        let secs = tbs.validity().not_after.to_unix_duration().as_secs();
        let not_after = DateTime::from_timestamp(secs as i64, 0)
            .ok_or_else(|| format!("line {line}: not-after out of range"))?;
        out.push(Cert {
            path: path.to_path_buf(),
            index: out.len() + 1,
            line,
            subject: tbs.subject().to_string(),
            issuer: tbs.issuer().to_string(),
            not_after,
        });
        from = end;
    }
    Ok(out)
}

/// Certificate files under `path`: the file itself, or `*.pem`, `*.crt`, `*.cer` below a
/// folder (sorted; links not followed).
pub fn files(path: &Path) -> Vec<PathBuf> {
    if !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    walkdir::WalkDir::new(path)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| ["pem", "crt", "cer"].contains(&x.to_ascii_lowercase().as_str()))
        })
        .collect()
}
