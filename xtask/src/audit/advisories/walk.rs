//! The walk over a source folder that finds its advisory files.
//!
//! Per-package folders (`crates/<name>`, `vulns/<name>`) of packages not wanted are never
//! opened: deciding from the directory entry alone keeps a lockfile of 500 crates from
//! opening the 900 folders of the RustSec database.
//!
//! Links inside a source are never followed (a link to `/usr` would be walked for ever, a
//! link to a secret would be parsed and quoted): one named like an advisory, or pointing at
//! a folder, is reported as not read. The source's own path is followed (the user named it).

use std::fs;
use std::path::{Path, PathBuf};

use super::{FileKind, Unreadable, classify};
use crate::audit::model::{Malformed, PackageKey, Sig, Stamp};
use crate::deps::{Ecosystem, Wanted, pep503};

/// An advisory file to parse.
pub struct File {
    pub path: PathBuf,
    pub kind: FileKind,
    /// Its stamp's index in [`Walked::stamps`].
    pub stamp: Option<usize>,
    /// The per-package folder it is in.
    pub scope: Option<PackageKey>,
}

impl File {
    /// The record of this file failing to parse.
    pub fn malformed(&self, e: Unreadable) -> Malformed {
        let mut packages = e.packages;
        if let Some(s) = &self.scope
            && !packages.contains(s)
        {
            packages.push(s.clone());
        }
        Malformed {
            file: self.path.clone(),
            message: e.message,
            packages,
        }
    }
}

/// What a walk found.
#[derive(Default)]
pub struct Walked {
    pub files: Vec<File>,
    /// Zip exports, each with its stamp.
    pub zips: Vec<(PathBuf, Option<usize>)>,
    /// Folders that could not be read, links not followed.
    pub malformed: Vec<Malformed>,
    /// Every folder and advisory file visited (when asked for).
    pub stamps: Vec<Stamp>,
}

/// Walk the source at `root` (a folder, or a zip file), opening only the per-package folders
/// of `wanted` packages (all when `None`), stamping what it visits when `stamps` is set.
pub fn walk(root: &Path, wanted: Option<&Wanted>, stamps: bool) -> Walked {
    let mut w = Walk {
        root,
        wanted,
        stamping: stamps,
        out: Walked::default(),
    };
    let stamp = w.stamp(root, fs::metadata(root), None, None);
    if root.is_file() {
        w.out.zips.push((root.to_path_buf(), stamp));
    } else {
        w.dir(root, None);
    }
    w.out
}

struct Walk<'a> {
    root: &'a Path,
    wanted: Option<&'a Wanted>,
    stamping: bool,
    out: Walked,
}

impl Walk<'_> {
    /// Stamp `p` (its metadata as given) under the package scope `scope` (none: checked on
    /// every run); `within` is the package folder it is in, for a failure's record. Returns
    /// the stamp's index.
    fn stamp(
        &mut self,
        p: &Path,
        meta: std::io::Result<fs::Metadata>,
        scope: Option<&PackageKey>,
        within: Option<&PackageKey>,
    ) -> Option<usize> {
        if !self.stamping {
            return None;
        }
        let rel = p
            .strip_prefix(self.root)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned();
        match meta {
            Ok(m) => {
                self.out.stamps.push(Stamp {
                    rel,
                    scopes: scope.into_iter().cloned().collect(),
                    sig: Sig::of(&m),
                });
                Some(self.out.stamps.len() - 1)
            }
            Err(e) => {
                self.failed(p, format!("unreadable: {e}"), within);
                None
            }
        }
    }

    fn failed(&mut self, p: &Path, message: String, within: Option<&PackageKey>) {
        self.out.malformed.push(Malformed {
            file: p.to_path_buf(),
            message,
            packages: within.into_iter().cloned().collect(),
        });
    }

    /// Visit `dir` (already stamped); `scope` is the per-package folder it is in.
    fn dir(&mut self, dir: &Path, scope: Option<&PackageKey>) {
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => return self.failed(dir, format!("unreadable: {e}"), scope),
        };
        let parent = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for de in rd.flatten() {
            let name = de.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            // The entry itself: `file_type` never follows a link.
            let Ok(ft) = de.file_type() else { continue };
            if ft.is_file() {
                self.file(&de, &name, scope);
                continue;
            }
            if !ft.is_dir() && !ft.is_symlink() {
                continue; // sockets, devices: never advisories
            }
            let package = match parent.as_str() {
                "crates" => Some(PackageKey::new(Ecosystem::Crates, name.as_str())),
                "vulns" => Some(PackageKey::new(Ecosystem::PyPI, pep503(&name))),
                _ => None,
            };
            if let (Some(p), Some(w)) = (&package, self.wanted)
                && !w.contains(p.ecosystem, &p.key)
            {
                continue;
            }
            let path = de.path();
            let within = scope.or(package.as_ref()).cloned();
            if ft.is_symlink() {
                self.link(&path, &name, within.as_ref());
            } else {
                let meta = fs::symlink_metadata(&path);
                self.stamp(&path, meta, within.as_ref(), within.as_ref());
                self.dir(&path, within.as_ref());
            }
        }
    }

    fn file(&mut self, de: &fs::DirEntry, name: &str, scope: Option<&PackageKey>) {
        let Some(kind) = classify(name) else { return };
        let path = de.path();
        // A zip holds any package: it is checked on every run.
        let stamp_scope = if kind == FileKind::OsvZip {
            None
        } else {
            scope
        };
        let stamp = self.stamp(&path, fs::symlink_metadata(&path), stamp_scope, scope);
        if kind == FileKind::OsvZip {
            self.out.zips.push((path, stamp));
        } else {
            self.out.files.push(File {
                path,
                kind,
                stamp,
                scope: scope.cloned(),
            });
        }
    }

    /// A link: reported when it stands for advisories (named like one, or pointing at a
    /// folder), never followed.
    fn link(&mut self, path: &Path, name: &str, within: Option<&PackageKey>) {
        let to_folder = fs::metadata(path).is_ok_and(|m| m.is_dir());
        if to_folder || classify(name).is_some() {
            self.failed(
                path,
                "a link: links inside an advisory source are not followed; put the advisories themselves there".into(),
                within,
            );
        }
    }
}
