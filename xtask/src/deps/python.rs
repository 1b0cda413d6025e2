//! Python inputs: requirements files (with `-r`/`-c` includes, continuation lines, markers,
//! hashes), poetry.lock, uv.lock, Pipfile.lock and pylock.toml.

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::str::FromStr as _;

use anyhow::{Context as _, Result, bail};

use super::{
    Ecosystem, Inputs, Package, Unpinned, file_label, parse_toml, read, toml_entry_lines,
    valid_version,
};

/// Why a lockfile entry is refused (reported by line; the other entries still count).
fn entry_problem(name: &str, version: Option<&str>, markers: Option<&str>) -> Option<&'static str> {
    if !Ecosystem::PyPI.valid_name(name) {
        Some(Ecosystem::PyPI.name_rule())
    } else if version.is_some_and(|v| !valid_version(v)) {
        Some("its version holds a space, a control or a non-ASCII character")
    } else if markers.is_some_and(has_control) {
        Some("its markers hold a control character")
    } else {
        None
    }
}

/// poetry.lock and uv.lock (`[[package]]`) and pylock.toml (`[[packages]]`).
pub(super) fn toml_packages(path: &Path, key: &str, inputs: &mut Inputs) -> Result<()> {
    let text = read(path)?;
    let doc = parse_toml(path, &text)?;
    let header = format!("[[{key}]]");
    let lines = toml_entry_lines(&text);
    let Some(toml::Value::Array(pkgs)) = doc.get(key) else {
        bail!(
            "{}: no `{header}` tables: is this really a Python lockfile?",
            path.display()
        );
    };
    for (i, p) in pkgs.iter().enumerate() {
        let name = p.get("name").and_then(|v| v.as_str());
        let version = p.get("version").and_then(|v| v.as_str());
        let markers = p
            .get("marker")
            .or_else(|| p.get("markers"))
            .and_then(|m| m.as_str());
        let line = lines.get(i).copied().unwrap_or(1);
        let refuse = |inputs: &mut Inputs, problem: &str| {
            let msg = format!(
                "{}:{line}: the `{header}` entry is refused, {problem}",
                path.display()
            );
            inputs.failed.push((path.to_path_buf(), msg));
        };
        let Some(name) = name else {
            refuse(inputs, "it has no name");
            continue;
        };
        if let Some(problem) = entry_problem(name, version, markers) {
            refuse(inputs, problem);
            continue;
        }
        // uv.lock: the project itself and local packages have a non-registry source.
        let source = p.get("source").and_then(|s| s.as_table());
        if source.is_some_and(|s| {
            ["editable", "virtual", "directory", "path"]
                .iter()
                .any(|k| s.contains_key(*k))
        }) {
            continue;
        }
        let Some(version) = version else {
            inputs.unpinned.push(Unpinned {
                file: path.into(),
                line,
                requirement: name.into(),
            });
            continue;
        };
        inputs.packages.push(Package {
            ecosystem: Ecosystem::PyPI,
            name: name.to_string(),
            version: version.to_string(),
            file: Rc::from(path),
            line,
            paths: Rc::from([file_label(path)]),
            markers: markers.map(str::to_string),
        });
    }
    Ok(())
}

pub(super) fn pipfile_lock(path: &Path, inputs: &mut Inputs) -> Result<()> {
    let text = read(path)?;
    let doc: serde_json::Value = match serde_json::from_str(&text) {
        Ok(doc) => doc,
        Err(e) => {
            let line = e.line();
            return Err(e).with_context(|| format!("{}: line {line}", path.display()));
        }
    };
    for section in ["default", "develop"] {
        let Some(obj) = doc.get(section).and_then(|s| s.as_object()) else {
            continue;
        };
        for (name, spec) in obj {
            // The key as JSON writes it (escapes included), at the start of its line.
            let key = serde_json::to_string(name)?;
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with(&key))
                .map_or(1, |i| i + 1);
            let version = spec
                .get("version")
                .and_then(|v| v.as_str())
                .and_then(|v| v.strip_prefix("=="));
            let markers = spec.get("markers").and_then(|m| m.as_str());
            if let Some(problem) = entry_problem(name, version, markers) {
                let msg = format!(
                    "{}:{line}: the [{section}] entry is refused, {problem}",
                    path.display()
                );
                inputs.failed.push((path.to_path_buf(), msg));
                continue;
            }
            match version {
                Some(v) => inputs.packages.push(Package {
                    ecosystem: Ecosystem::PyPI,
                    name: name.clone(),
                    version: v.to_string(),
                    file: Rc::from(path),
                    line,
                    paths: Rc::from([format!("{} [{section}]", file_label(path))]),
                    markers: markers.map(str::to_string),
                }),
                None => inputs.unpinned.push(Unpinned {
                    file: path.to_path_buf(),
                    line,
                    requirement: crate::util::redact::redact(&format!("{name} {spec}")),
                }),
            }
        }
    }
    Ok(())
}

/// requirements files with `-r`/`-c` includes (relative to the including file), followed
/// once each; a cycle is a note, not an endless loop.
///
/// Includes are fenced: a file inside `root` may include files inside `root`, any other
/// (a PATH given outside it, or every file when there is no root) only files in its own
/// folder or below. A line that cannot be used (not a requirement, an include refused) is
/// recorded by file and line, never quoted, and the other lines still count.
pub(super) fn requirements(path: &Path, root: Option<&Path>, inputs: &mut Inputs) -> Result<()> {
    let canon = path
        .canonicalize()
        .with_context(|| format!("reading {}", path.display()))?;
    let fence = match root {
        Some(r) if canon.starts_with(r) => r.to_path_buf(),
        _ => canon.parent().unwrap_or(Path::new("/")).to_path_buf(),
    };
    let text = read(path)?;
    let mut file = ReqFile {
        fence: &fence,
        inputs,
        stack: vec![canon],
    };
    file.lines(path, &text, false);
    Ok(())
}

/// One requirements file being read, with the files including it on `stack`.
struct ReqFile<'a> {
    fence: &'a Path,
    inputs: &'a mut Inputs,
    stack: Vec<PathBuf>,
}

/// What a requirements line is, by its first word.
enum Line<'a> {
    Include {
        file: Option<&'a str>,
        constraint: bool,
    },
    Editable,
    /// Index and build options (`--index-url`, `--hash` on its own line, ...): pin nothing.
    Option,
    Requirement,
}

fn classify<'a>(first: &'a str, next: Option<&'a str>) -> Line<'a> {
    let include = |file, constraint| Line::Include { file, constraint };
    match first {
        "-r" | "--requirement" => return include(next, false),
        "-c" | "--constraint" => return include(next, true),
        "-e" | "--editable" => return Line::Editable,
        _ => {}
    }
    if let Some(f) = first
        .strip_prefix("--requirement=")
        .or_else(|| first.strip_prefix("-r"))
    {
        include(Some(f), false)
    } else if let Some(f) = first
        .strip_prefix("--constraint=")
        .or_else(|| first.strip_prefix("-c"))
    {
        include(Some(f), true)
    } else if first.starts_with("--editable=") {
        Line::Editable
    } else if first.starts_with('-') {
        Line::Option
    } else {
        Line::Requirement
    }
}

impl ReqFile<'_> {
    fn fail(&mut self, path: &Path, line: usize, what: impl std::fmt::Display) {
        let msg = format!("{}:{line}: {what}", path.display());
        self.inputs.failed.push((path.to_path_buf(), msg));
    }

    fn lines(&mut self, path: &Path, text: &str, constraint: bool) {
        let dir = path.parent().unwrap_or(Path::new("."));
        for (line, l) in join_continuations(text) {
            // A comment starts at `#` at the beginning or after whitespace.
            let content = match l.find(" #").or_else(|| l.find("\t#")) {
                Some(i) => &l[..i],
                None if l.trim_start().starts_with('#') => "",
                None => &l,
            };
            let content = content.trim();
            let mut words = content.split_whitespace();
            let Some(first) = words.next() else {
                continue;
            };
            match classify(first, words.next()) {
                Line::Include { file, constraint } => match file.filter(|f| !f.is_empty()) {
                    Some(file) => self.include(path, line, &dir.join(file), constraint),
                    None => self.fail(path, line, format_args!("`{first}` needs a file name")),
                },
                Line::Editable => self.inputs.notes.push((
                    path.to_path_buf(),
                    line,
                    format!(
                        "editable requirement `{}` is not audited",
                        crate::util::redact::redact(content)
                    ),
                )),
                Line::Option => {}
                Line::Requirement => {
                    if let Err(e) = parse_requirement(path, line, content, constraint, self.inputs)
                    {
                        self.inputs
                            .failed
                            .push((path.to_path_buf(), format!("{e:#}")));
                    }
                }
            }
        }
    }

    /// Read `target` (line `line` of `path` names it) if it is inside the fence, once.
    fn include(&mut self, path: &Path, line: usize, target: &Path, constraint: bool) {
        let (canon, text) = match super::read_inside(target, self.fence) {
            Ok(v) => v,
            Err(e) => return self.fail(path, line, format_args!("{e:#}")),
        };
        if self.stack.contains(&canon) {
            let note = format!("include cycle: {} is already being read", target.display());
            self.inputs.notes.push((path.to_path_buf(), line, note));
            return;
        }
        self.stack.push(canon);
        self.lines(target, &text, constraint);
        self.stack.pop();
    }
}

/// Whether `rest` (after a requirement's name and extras, without markers) is what PEP 508
/// allows there: nothing, a direct reference (`@ URL`) or version specifiers.
fn valid_rest(rest: &str) -> bool {
    let rest = rest.trim();
    if rest.is_empty() || rest.starts_with('@') {
        return true;
    }
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(rest);
    pep440_rs::VersionSpecifiers::from_str(inner).is_ok()
}

fn parse_requirement(
    path: &Path,
    line: usize,
    content: &str,
    constraint: bool,
    inputs: &mut Inputs,
) -> Result<()> {
    let not_a_requirement = || {
        anyhow::anyhow!(
            "{}:{line}: this line is not a requirement (expected NAME==VERSION, an option or a comment); it is not shown here",
            path.display()
        )
    };
    // Options after the requirement (`--hash=...`, `--global-option`) are not part of it.
    let spec = match content.find(" --") {
        Some(i) => &content[..i],
        None => content,
    };
    let (req, markers) = match spec.split_once(';') {
        Some((r, m)) => (r.trim(), Some(m.trim().to_string())),
        None => (spec.trim(), None),
    };
    let head = requirement_head(req);
    let name = match &head {
        Ok(h) => h.name,
        Err(name) => name,
    };
    // A bare URL line (`git+https://…#egg=x`, `https://…/x.whl`): its "name" is a scheme.
    let bare_url = req.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if bare_url || name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        if req.contains("://") || req.starts_with('.') || req.starts_with('/') {
            inputs.unpinned.push(Unpinned {
                file: path.into(),
                line,
                requirement: crate::util::redact::redact(req),
            });
            return Ok(());
        }
        return Err(not_a_requirement());
    }
    let Ok(Head { rest, .. }) = head else {
        bail!("{}:{line}: unclosed `[` in extras", path.display());
    };
    if !valid_rest(rest) {
        return Err(not_a_requirement());
    }
    if !Ecosystem::PyPI.valid_name(name) {
        bail!("{}:{line}: {}", path.display(), Ecosystem::PyPI.name_rule());
    }
    if markers.as_deref().is_some_and(has_control) {
        return Err(not_a_requirement());
    }
    let pinned = rest
        .strip_prefix("===")
        .or_else(|| rest.strip_prefix("=="))
        .map(str::trim)
        .filter(|v| {
            !v.is_empty()
                && !v.contains(',')
                && !v.contains('*')
                && !v.contains(char::is_whitespace)
                && valid_version(v)
        });
    match pinned {
        Some(v) if !constraint => inputs.packages.push(Package {
            ecosystem: Ecosystem::PyPI,
            name: name.to_string(),
            version: v.to_string(),
            file: Rc::from(path),
            line,
            paths: Rc::from([file_label(path)]),
            markers,
        }),
        // Constraints restrict versions without installing anything: only a pin is audited,
        // and an unpinned constraint is not a requirement.
        Some(_) | None if constraint => {}
        _ => inputs.unpinned.push(Unpinned {
            file: path.into(),
            line,
            requirement: crate::util::redact::redact(spec.trim()),
        }),
    }
    Ok(())
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// The logical lines of a requirements file: a line ending in `\\` continues on the next
/// (joined with a space). Each comes with the number (1-based) of its first physical line.
pub fn join_continuations(text: &str) -> Vec<(usize, String)> {
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if cur.is_empty() {
            start = i + 1;
        }
        if let Some(stripped) = raw.strip_suffix('\\') {
            cur.push_str(stripped);
            cur.push(' ');
            continue;
        }
        cur.push_str(raw);
        logical.push((start, std::mem::take(&mut cur)));
    }
    if !cur.is_empty() {
        logical.push((start, cur));
    }
    logical
}

/// The start of a requirement (`name[extras] rest`), as [`requirement_head`] splits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head<'a> {
    /// The leading run of name characters (ASCII letters, digits, `-`, `_`, `.`): empty when
    /// the requirement starts otherwise (a URL, a path).
    pub name: &'a str,
    /// Inside `[...]`, trimmed, when there are extras.
    pub extras: Option<&'a str>,
    /// After the name and extras, with leading whitespace removed: the version specifiers,
    /// then markers and options if the caller left them on.
    pub rest: &'a str,
}

/// Split a requirement into name, extras and the rest. `Err(name)` when the extras' `[` is
/// never closed.
pub fn requirement_head(req: &str) -> Result<Head<'_>, &str> {
    let name_end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    let name = &req[..name_end];
    let rest = req[name_end..].trim_start();
    let Some(inner) = rest.strip_prefix('[') else {
        return Ok(Head {
            name,
            extras: None,
            rest,
        });
    };
    let close = inner.find(']').ok_or(name)?;
    Ok(Head {
        name,
        extras: Some(inner[..close].trim()),
        rest: inner[close + 1..].trim_start(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_lines_are_joined_and_numbered_by_their_first_line() {
        let got = join_continuations("a==1 \\\n  --hash=x\nb==2\nc \\\n");
        assert_eq!(
            got,
            vec![
                (1, "a==1    --hash=x".to_string()),
                (3, "b==2".to_string()),
                (4, "c  ".to_string())
            ]
        );
    }

    #[test]
    fn requirement_heads() {
        let h = requirement_head("Requests[socks, security] >=2.0").unwrap();
        assert_eq!(
            (h.name, h.extras, h.rest),
            ("Requests", Some("socks, security"), ">=2.0")
        );
        let h = requirement_head("zope.interface===5.1").unwrap();
        assert_eq!(
            (h.name, h.extras, h.rest),
            ("zope.interface", None, "===5.1")
        );
        assert_eq!(requirement_head("https://x/y.whl").unwrap().name, "https");
        assert_eq!(requirement_head("foo[bar==1"), Err("foo"));
    }
}
