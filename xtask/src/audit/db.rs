//! The advisories of one audit: those affecting the audited packages, from every source,
//! kept by (ecosystem, package). Each source answers from its index (see [`super::index`])
//! or, where no index can be had, from a parse (see [`super::advisories`]). An advisory that
//! cannot be read is kept as [`Malformed`], never a failed load: the caller decides what it
//! means for the packages it audits.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap as FxMap;

use super::advisories;
use super::index::{self, Answer, Index, IndexState, Opened};
use super::model::{Advisory, Malformed};
use crate::deps::{Ecosystem, Wanted};

/// Where advisories came from, and how fresh they are.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    pub path: String,
    pub kind: String,
    /// Advisories loaded for the audited packages.
    pub advisories: usize,
    /// Advisories in the whole source, where it was indexed.
    pub total: Option<usize>,
    /// Best knowledge of when the data was last updated (fetch or commit time, else the
    /// newest `modified` among advisories read).
    pub updated: Option<DateTime<Utc>>,
    pub updated_from: String,
    /// What happened to the source's pre-parsed index.
    pub index: IndexState,
}

/// A source as loaded: where it is, where its index file goes, and its index in
/// `Db::indexes` if it has one.
struct Loaded {
    path: PathBuf,
    file: PathBuf,
    index: Option<usize>,
}

#[derive(Default)]
pub struct Db {
    /// Advisory numbers by package name as compared, one map per ecosystem.
    by_package: [FxMap<String, Vec<usize>>; 2],
    /// Per advisory, read from an index with only what matching needs: (which index in
    /// `indexes`, which advisory in it), until [`Db::complete`] reads the rest.
    partial: Vec<Option<(usize, usize)>>,
    indexes: Vec<Index>,
    /// Per source, as in `sources`.
    loaded: Vec<Loaded>,
    pub advisories: Vec<Advisory>,
    pub sources: Vec<SourceInfo>,
    /// Advisories that could not be read, with the number of their source.
    malformed: Vec<(usize, Malformed)>,
}

impl Db {
    /// Index one advisory under the affected packages that are wanted (all when `wanted` is
    /// None); an advisory affecting none of them is dropped.
    fn add(&mut self, adv: Advisory, wanted: Option<&Wanted>) -> bool {
        let mut keys: Vec<(Ecosystem, String)> = adv
            .affected
            .iter()
            .filter(|a| wanted.is_none_or(|w| w.contains(a.ecosystem, &a.key)))
            .map(|a| (a.ecosystem, a.key.clone()))
            .collect();
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            return false;
        }
        let i = self.advisories.len();
        self.advisories.push(adv);
        self.partial.push(None);
        for (eco, key) in keys {
            self.by_package[eco as usize]
                .entry(key)
                .or_default()
                .push(i);
        }
        true
    }

    /// Add advisories read from index `k` (with their numbers in it).
    fn add_indexed(&mut self, k: usize, found: Vec<(usize, Advisory)>, wanted: &Wanted) {
        for (n, a) in found {
            if self.add(a, Some(wanted)) {
                *self.partial.last_mut().expect("just added") = Some((k, n));
            }
        }
    }

    /// Make sure advisory `i` is read in full (the report needs all of it).
    pub fn complete(&mut self, i: usize) -> Result<()> {
        if let Some((k, n)) = self.partial.get_mut(i).and_then(Option::take) {
            self.indexes[k].complete(n, &mut self.advisories[i])?;
        }
        Ok(())
    }

    /// Advisories loaded for one package.
    pub fn advisories_of(&self, eco: Ecosystem, key: &str) -> &[usize] {
        self.by_package[eco as usize]
            .get(key)
            .map_or(&[], Vec::as_slice)
    }

    /// Advisories that could not be read, in every source.
    pub fn malformed(&self) -> impl Iterator<Item = &Malformed> {
        self.malformed.iter().map(|(_, m)| m)
    }

    /// Load the advisories of one source (a directory of any supported layout, or an OSV
    /// zip export) that affect `wanted` packages, from its index (opened beforehand) or a
    /// parse; see [`index::answer`].
    pub fn load_source(&mut self, path: &Path, wanted: &Wanted, opened: Opened) -> Result<()> {
        if !path.is_file() && !path.is_dir() {
            bail!(
                "no advisory database at {}: run `cargo xtask advisories update` or pass --db PATH",
                path.display()
            );
        }
        self.loaded.push(Loaded {
            path: path.to_path_buf(),
            file: opened.file.clone(),
            index: None,
        });
        self.sources.push(SourceInfo {
            path: path.display().to_string(),
            kind: String::new(),
            advisories: 0,
            total: None,
            updated: None,
            updated_from: String::new(),
            index: IndexState::Reused,
        });
        let answer = index::answer(path, wanted, opened)?;
        self.take(self.sources.len() - 1, answer, wanted);
        Ok(())
    }

    /// Take what source `s` answered for `wanted` packages: its advisories, its malformed
    /// files (replacing any it had), its description.
    fn take(&mut self, s: usize, answer: Answer, wanted: &Wanted) {
        let before = self.advisories.len();
        let path = self.loaded[s].path.clone();
        let (kind, total, updated, updated_from, state, malformed) = match answer {
            Answer::Indexed {
                index,
                found,
                state,
            } => {
                let kind = index.kind().to_string();
                let (total, updated) = (Some(index.total()), index.updated());
                let updated_from = index.updated_from().to_string();
                let malformed = index.malformed(&path);
                let k = self.indexes.len();
                self.indexes.push(index);
                self.loaded[s].index = Some(k);
                self.add_indexed(k, found, wanted);
                (kind, total, updated, updated_from, state, malformed)
            }
            Answer::Parsed {
                parsed,
                updated,
                updated_from,
                state,
            } => {
                self.loaded[s].index = None;
                for (a, _) in parsed.advisories {
                    self.add(a, Some(wanted));
                }
                let (kind, malformed) = (parsed.kind, parsed.malformed);
                (kind, None, updated, updated_from, state, malformed)
            }
        };
        self.malformed.retain(|(src, _)| *src != s);
        self.malformed.extend(malformed.into_iter().map(|m| (s, m)));
        let added = self.advisories.len() - before;
        let info = &mut self.sources[s];
        (info.kind, info.total, info.updated) = (kind, total, updated);
        (info.updated_from, info.index) = (updated_from, state);
        info.advisories += added;
    }

    /// Load the advisories of more packages from the sources already loaded (when the
    /// packages to audit turn out to be more than those first asked for).
    ///
    /// An index found current for the first packages may not be for these (a change in one
    /// of their per-package folders): the source is then parsed again and its index
    /// rewritten, as on a first run, so that the cache never stays stale.
    pub fn extend(&mut self, more: &Wanted) -> Result<()> {
        for s in 0..self.loaded.len() {
            let path = self.loaded[s].path.clone();
            let before = self.advisories.len();
            match self.loaded[s].index {
                Some(k) => match self.indexes[k].lookup(&path, more)? {
                    Some(found) => self.add_indexed(k, found, more),
                    None => {
                        let fingerprint = index::fingerprint(&path);
                        let file = self.loaded[s].file.clone();
                        let answer =
                            index::rebuild(&path, more, &fingerprint, &file, IndexState::Rebuilt)?;
                        self.take(s, answer, more);
                        continue; // `take` counted them
                    }
                },
                None => {
                    // The whole source was parsed (and its malformed files kept) already.
                    let parsed = advisories::parse_source(&path, Some(more), false)?;
                    for (a, _) in parsed.advisories {
                        self.add(a, Some(more));
                    }
                }
            }
            self.sources[s].advisories += self.advisories.len() - before;
        }
        Ok(())
    }
}
