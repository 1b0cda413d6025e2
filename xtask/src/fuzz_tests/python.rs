//! Python inputs: requirements files with `-r`/`-c` includes, poetry.lock, uv.lock,
//! pylock.toml and Pipfile.lock, read from real files.
//!
//! Requirements are generated line by line (pins, ranges, garbage, includes in and out of
//! the root, cycles) and the reading is compared with a model; mutated files must give only
//! packages that are in them, and never anything of a file outside the root. Lockfiles are
//! generated and compared, then mutated: packages that are in the file, or an error, never
//! fewer packages without one.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::json;

use super::{SECRET, check, guard, mutate, mutations};
use crate::deps::{self, Inputs};

/// Generated requirements trees, compared with the model.
const MODEL_CASES: u32 = 500;
/// Mutated requirements trees.
const MUTATED_REQ_CASES: u32 = 500;
/// Generated lockfiles of each kind, compared with what was generated.
const LOCK_CASES: u32 = 300;
/// Mutated lockfiles of each kind.
const MUTATED_LOCK_CASES: u32 = 1000;

/// In the file outside the root that includes try to reach: it must never be read.
const OUTSIDE: &str = "outside-secret-never-read";

/// What a reading gave, in a form that can leave the reading thread.
#[derive(Debug, Default)]
struct Read {
    packages: Vec<(String, String, PathBuf, usize)>,
    unpinned: Vec<(PathBuf, usize, String)>,
    failed: Vec<String>,
    notes: Vec<String>,
}

impl Read {
    fn of(i: Inputs) -> Read {
        Read {
            packages: i
                .packages
                .iter()
                .map(|p| {
                    (
                        p.name.clone(),
                        p.version.clone(),
                        p.file.to_path_buf(),
                        p.line,
                    )
                })
                .collect(),
            unpinned: i
                .unpinned
                .into_iter()
                .map(|u| (u.file, u.line, u.requirement))
                .collect(),
            failed: i.failed.into_iter().map(|(_, m)| m).collect(),
            notes: i.notes.into_iter().map(|(_, _, m)| m).collect(),
        }
    }

    /// Everything the reading would show.
    fn shown(&self) -> String {
        format!("{self:?}")
    }
}

/// The folder the cases of one test share (each case rewrites the files it reads): the
/// project root `proj/`, a file outside it, and a link inside it to that file.
fn case_dir(base: &Path) -> PathBuf {
    let d = base.to_path_buf();
    if !d.join("outside.txt").exists() {
        fs::create_dir_all(d.join("proj")).expect("case folder");
        fs::write(d.join("outside.txt"), format!("{OUTSIDE}==1.0\n")).expect("outside file");
        std::os::unix::fs::symlink("../outside.txt", d.join("proj/link.txt")).expect("link");
    }
    d
}

fn load(root: &Path, files: Vec<PathBuf>) -> Read {
    let root = root.to_path_buf();
    guard("Python inputs", move || {
        Read::of(deps::load_read(&root, &files, Vec::new()))
    })
}

// --- requirements -------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Req {
    Pin {
        name: String,
        version: String,
        hashes: bool,
        marker: bool,
    },
    Range(String),
    /// Not a requirement; holds [`SECRET`], which must never be shown.
    Garbage(String),
    Comment,
    Blank,
    Option,
    Editable,
    Include(usize),
    Constraint(usize),
    /// `-r ../outside.txt`: outside the root.
    Outside,
    /// `-r link.txt`: a link inside the root to the file outside.
    Link,
    Missing,
}

fn req() -> impl Strategy<Value = Req> {
    let name = "[a-z][a-z0-9]{0,5}";
    prop_oneof![
        6 => (name, "[0-9]\\.[0-9]{1,2}(\\.[0-9])?", any::<bool>(), any::<bool>())
            .prop_map(|(name, version, hashes, marker)| Req::Pin { name, version, hashes, marker }),
        1 => name.prop_map(|n| Req::Range(format!("{n}>=1.0,<2"))),
        2 => "[!$%&*+<>?^{|}~][a-zA-Z0-9=<>!~ ]{0,8}"
            .prop_map(|g| Req::Garbage(format!("{g} {SECRET}"))),
        1 => Just(Req::Comment),
        1 => Just(Req::Blank),
        1 => Just(Req::Option),
        1 => Just(Req::Editable),
        2 => (0usize..3).prop_map(Req::Include),
        1 => (0usize..3).prop_map(Req::Constraint),
        1 => Just(Req::Outside),
        1 => Just(Req::Link),
        1 => Just(Req::Missing),
    ]
}

const REQ_FILES: [&str; 3] = ["requirements.txt", "req-a.txt", "req-b.txt"];

/// Render one file; returns its text and, per entry, its first physical line.
fn render(lines: &[Req]) -> (String, Vec<usize>) {
    let mut out = String::new();
    let mut at = Vec::new();
    let mut line = 1;
    for r in lines {
        at.push(line);
        let text = match r {
            Req::Pin {
                name,
                version,
                hashes,
                marker,
            } => {
                let m = if *marker {
                    " ; python_version >= \"3.8\""
                } else {
                    ""
                };
                if *hashes {
                    line += 1;
                    format!("{name}=={version}{m} \\\n    --hash=sha256:00ff")
                } else {
                    format!("{name}=={version}{m}")
                }
            }
            Req::Range(r) => r.clone(),
            Req::Garbage(g) => g.clone(),
            Req::Comment => format!("# a comment with {SECRET}"),
            Req::Blank => String::new(),
            Req::Option => "--index-url https://pypi.org/simple".into(),
            Req::Editable => "-e ./local".into(),
            Req::Include(k) => format!("-r {}", REQ_FILES[*k]),
            Req::Constraint(k) => format!("--constraint {}", REQ_FILES[*k]),
            Req::Outside => "-r ../outside.txt".into(),
            Req::Link => "-r link.txt".into(),
            Req::Missing => "-r missing.txt".into(),
        };
        out.push_str(&text);
        out.push('\n');
        line += 1;
    }
    (out, at)
}

/// What reading file `k` must give, the way pip follows includes: packages (pins outside
/// constraint files), unpinned requirements, failed lines and notes (cycles, editables).
#[derive(Debug, Default)]
struct Model {
    packages: BTreeSet<(String, String)>,
    unpinned: usize,
    failed: Vec<(usize, usize)>,
    notes: usize,
}

fn model(files: &[Vec<Req>], k: usize, constraint: bool, stack: &mut Vec<usize>, m: &mut Model) {
    let (_, at) = render(&files[k]);
    for (r, &line) in files[k].iter().zip(&at) {
        match r {
            Req::Pin { name, version, .. } if !constraint => {
                m.packages.insert((name.clone(), version.clone()));
            }
            Req::Range(_) if !constraint => m.unpinned += 1,
            Req::Garbage(_) | Req::Outside | Req::Link | Req::Missing => m.failed.push((k, line)),
            Req::Editable => m.notes += 1,
            Req::Include(j) | Req::Constraint(j) => {
                if stack.contains(j) {
                    m.notes += 1;
                } else {
                    stack.push(*j);
                    model(files, *j, matches!(r, Req::Constraint(_)), stack, m);
                    stack.pop();
                }
            }
            _ => {}
        }
    }
}

fn files() -> impl Strategy<Value = Vec<Vec<Req>>> {
    prop::collection::vec(prop::collection::vec(req(), 0..8), 3)
}

fn write_tree(dir: &Path, files: &[Vec<Req>]) -> Vec<String> {
    files
        .iter()
        .zip(REQ_FILES)
        .map(|(lines, name)| {
            let (text, _) = render(lines);
            fs::write(dir.join("proj").join(name), &text).expect("write");
            text
        })
        .collect()
}

#[test]
fn requirements_trees_read_as_the_model_says() {
    let base = super::scratch();
    check("requirements model", MODEL_CASES, files(), |files| {
        let dir = case_dir(base.path());
        write_tree(&dir, &files);
        let proj = dir.join("proj");
        let got = load(&proj, vec![proj.join(REQ_FILES[0])]);
        let mut want = Model::default();
        model(&files, 0, false, &mut vec![0], &mut want);
        let packages: BTreeSet<(String, String)> = got
            .packages
            .iter()
            .map(|(n, v, ..)| (n.clone(), v.clone()))
            .collect();
        prop_assert_eq!(&packages, &want.packages);
        prop_assert_eq!(
            got.unpinned.len(),
            want.unpinned,
            "unpinned: {:?}",
            got.unpinned
        );
        prop_assert_eq!(got.notes.len(), want.notes, "notes: {:?}", got.notes);
        prop_assert_eq!(
            got.failed.len(),
            want.failed.len(),
            "failed: {:?}",
            got.failed
        );
        for (k, line) in &want.failed {
            let at = format!("{}:{line}: ", proj.join(REQ_FILES[*k]).display());
            prop_assert!(
                got.failed.iter().any(|f| f.starts_with(&at)),
                "no failure at {at}: {:?}",
                got.failed
            );
        }
        let shown = got.shown();
        prop_assert!(
            !shown.contains(SECRET),
            "a line that is not a requirement is quoted: {shown}"
        );
        prop_assert!(
            !shown.contains(OUTSIDE),
            "a file outside the root was read: {shown}"
        );
        Ok(())
    });
}

#[test]
fn mutated_requirements_give_only_what_is_in_them() {
    let base = super::scratch();
    check(
        "mutated requirements",
        MUTATED_REQ_CASES,
        (files(), mutations(6)),
        |(files, ms)| {
            let dir = case_dir(base.path());
            let mut texts = write_tree(&dir, &files);
            let proj = dir.join("proj");
            let main = String::from_utf8_lossy(&mutate(texts[0].as_bytes(), &ms)).into_owned();
            fs::write(proj.join(REQ_FILES[0]), &main).expect("write");
            texts[0] = main;
            let got = load(&proj, vec![proj.join(REQ_FILES[0])]);
            for (name, version, file, line) in &got.packages {
                let k = REQ_FILES.iter().position(|f| file.ends_with(f));
                prop_assert!(k.is_some(), "{} is not one of the files", file.display());
                let text = &texts[k.unwrap_or_default()];
                prop_assert!(
                    text.contains(name.as_str()) && text.contains(version.as_str()),
                    "{name}=={version} is not in {}",
                    file.display()
                );
                prop_assert!((1..=text.lines().count()).contains(line), "line {line}");
            }
            let shown = got.shown();
            prop_assert!(
                !shown.contains(OUTSIDE),
                "a file outside the root was read: {shown}"
            );
            Ok(())
        },
    );
}

// --- lockfiles ----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Poetry,
    Uv,
    Pylock,
    Pipfile,
}

impl Kind {
    fn file(self) -> &'static str {
        match self {
            Kind::Poetry => "poetry.lock",
            Kind::Uv => "uv.lock",
            Kind::Pylock => "pylock.toml",
            Kind::Pipfile => "Pipfile.lock",
        }
    }
}

/// A locked package: name, version (none: unpinned), local (uv's editable project).
type Locked = (String, Option<String>, bool);

fn locked() -> impl Strategy<Value = Vec<Locked>> {
    let pkg = (
        "[A-Za-z][A-Za-z0-9]{0,4}([._-][a-z0-9]{1,3})?",
        proptest::option::weighted(0.9, "[0-9]{1,2}\\.[0-9]{1,2}(\\.[0-9]|rc1|\\.post2)?"),
        proptest::bool::weighted(0.15),
    );
    prop::collection::vec(pkg, 1..10).prop_map(|v| {
        let mut seen = HashSet::new();
        v.into_iter()
            .filter(|(n, ..)| seen.insert(deps::pep503(n)))
            .collect()
    })
}

fn render_lock(kind: Kind, pkgs: &[Locked]) -> String {
    let mut out = String::new();
    match kind {
        Kind::Pipfile => {
            let mut default = serde_json::Map::new();
            let mut develop = serde_json::Map::new();
            for (i, (name, version, _)) in pkgs.iter().enumerate() {
                let mut spec = json!({"hashes": ["sha256:00ff"], "index": "pypi", "markers": "python_version >= '3.8'"});
                spec["version"] = match version {
                    Some(v) => json!(format!("=={v}")),
                    None => json!("*"),
                };
                if i % 3 == 2 {
                    &mut develop
                } else {
                    &mut default
                }
                .insert(name.clone(), spec);
            }
            let doc = json!({"_meta": {"hash": {"sha256": "00"}, "pipfile-spec": 6}, "default": default, "develop": develop});
            return serde_json::to_string_pretty(&doc).expect("JSON") + "\n";
        }
        Kind::Poetry => out.push_str("# This file is automatically @generated by Poetry.\n"),
        Kind::Uv => out.push_str("version = 1\nrequires-python = \">=3.8\"\n"),
        Kind::Pylock => out.push_str("lock-version = \"1.0\"\ncreated-by = \"fuzz\"\n"),
    }
    let header = if kind == Kind::Pylock {
        "[[packages]]"
    } else {
        "[[package]]"
    };
    for (name, version, local) in pkgs {
        out.push_str(&format!("\n{header}\nname = \"{name}\"\n"));
        if let Some(v) = version {
            out.push_str(&format!("version = \"{v}\"\n"));
        }
        match kind {
            Kind::Uv if *local => out.push_str("source = { editable = \".\" }\n"),
            Kind::Uv => out.push_str("source = { registry = \"https://pypi.org/simple\" }\ndependencies = [\n    { name = \"idna\" },\n]\n"),
            Kind::Poetry => out.push_str("description = \"x\"\noptional = false\npython-versions = \">=3.8\"\nfiles = [\n    {file = \"x.tar.gz\", hash = \"sha256:00ff\"},\n]\n\n[package.dependencies]\nidna = \">=2.5\"\n"),
            _ => out.push_str("marker = \"python_version >= '3.8'\"\n"),
        }
    }
    if kind == Kind::Poetry {
        out.push_str("\n[metadata]\nlock-version = \"2.0\"\npython-versions = \"^3.8\"\ncontent-hash = \"00\"\n");
    }
    out
}

fn kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(&[Kind::Poetry, Kind::Uv, Kind::Pylock, Kind::Pipfile][..])
}

fn load_lock(base: &Path, kind: Kind, text: &[u8]) -> Read {
    let dir = case_dir(base).join("proj");
    let f = dir.join(kind.file());
    fs::write(&f, text).expect("write");
    load(&dir, vec![f])
}

/// How many entries an independent reading finds, and how many of them are local (uv's
/// project itself); `None` when the file is not a lockfile of that kind at all.
fn oracle(kind: Kind, text: &[u8]) -> Option<(usize, usize)> {
    let text = std::str::from_utf8(text).ok()?;
    if kind == Kind::Pipfile {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let n = ["default", "develop"]
            .iter()
            .filter_map(|s| v.get(s)?.as_object())
            .map(|o| o.len())
            .sum();
        return Some((n, 0));
    }
    let doc: toml::Table = toml::from_str(text).ok()?;
    let key = if kind == Kind::Pylock {
        "packages"
    } else {
        "package"
    };
    let entries = doc.get(key)?.as_array()?;
    let local = entries
        .iter()
        .filter(|e| {
            e.get("source").and_then(|s| s.as_table()).is_some_and(|s| {
                ["editable", "virtual", "directory", "path"]
                    .iter()
                    .any(|k| s.contains_key(*k))
            })
        })
        .count();
    Some((entries.len(), local))
}

#[test]
fn generated_lockfiles_read_to_what_was_locked() {
    let base = super::scratch();
    check(
        "Python lockfiles",
        LOCK_CASES,
        (kind(), locked()),
        |(kind, pkgs)| {
            let text = render_lock(kind, &pkgs);
            let got = load_lock(base.path(), kind, text.as_bytes());
            prop_assert!(got.failed.is_empty(), "{:?}", got.failed);
            let want: BTreeSet<(String, String)> = pkgs
                .iter()
                .filter(|(_, _, local)| !(*local && kind == Kind::Uv))
                .filter_map(|(n, v, _)| Some((n.clone(), v.clone()?)))
                .collect();
            let packages: BTreeSet<(String, String)> = got
                .packages
                .iter()
                .map(|(n, v, ..)| (n.clone(), v.clone()))
                .collect();
            prop_assert_eq!(packages, want);
            let unpinned = pkgs
                .iter()
                .filter(|(_, v, local)| v.is_none() && !(*local && kind == Kind::Uv))
                .count();
            prop_assert_eq!(got.unpinned.len(), unpinned);
            Ok(())
        },
    );
}

#[test]
fn mutated_lockfiles_give_their_packages_or_an_error() {
    let base = super::scratch();
    check(
        "mutated Python lockfiles",
        MUTATED_LOCK_CASES,
        (kind(), locked(), mutations(6)),
        |(kind, pkgs, ms)| {
            let text = mutate(render_lock(kind, &pkgs).as_bytes(), &ms);
            let got = load_lock(base.path(), kind, &text);
            let lossy = String::from_utf8_lossy(&text);
            let lines = lossy.lines().count().max(1);
            for (name, version, _, line) in &got.packages {
                prop_assert!(
                    lossy.contains(name.as_str()) && lossy.contains(version.as_str()),
                    "{name} {version} is not in the file"
                );
                prop_assert!((1..=lines).contains(line), "line {line} of {lines}");
            }
            if got.failed.is_empty() {
                let Some((entries, local)) = oracle(kind, &text) else {
                    return Err(TestCaseError::fail(
                        "a file that is not a lockfile was read without an error",
                    ));
                };
                prop_assert_eq!(
                    got.packages.len() + got.unpinned.len() + local,
                    entries,
                    "entries lost without an error"
                );
            }
            Ok(())
        },
    );
}
