//! Image references (`name[:tag][@digest]`) and where one is written: shared by the Docker
//! checks, the end-of-life lookup and `workflows lint`.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub image: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

pub fn parse_image(s: &str) -> ImageRef {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (s, None),
    };
    // A tag follows the last ':' after the last '/' (a ':' before it is a registry port).
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(i) => ImageRef {
            image: rest[..slash + i].to_string(),
            tag: Some(rest[slash + i + 1..].to_string()),
            digest,
        },
        None => ImageRef {
            image: rest.to_string(),
            tag: None,
            digest,
        },
    }
}

/// An image reference and where it is written.
#[derive(Debug, Clone)]
pub struct ImageUse {
    pub file: PathBuf,
    pub line: usize,
    /// As written.
    pub written: String,
    /// With its variables' values or defaults; `None`: set at build or deploy time.
    pub resolved: Option<String>,
}
