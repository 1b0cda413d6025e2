//! Python inputs: requirements files (with `-r`/`-c` includes, continuation lines, markers,
//! hashes), poetry.lock, uv.lock, Pipfile.lock and pylock.toml.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context as _, Result, bail};

use super::{Ecosystem, Inputs, Package, Unpinned, file_label, parse_toml, read, toml_lines};

/// poetry.lock and uv.lock (`[[package]]`) and pylock.toml (`[[packages]]`).
pub(super) fn toml_packages(path: &Path, key: &str, inputs: &mut Inputs) -> Result<()> {
    let text = read(path)?;
    let doc = parse_toml(path, &text)?;
    let lines = toml_lines(&text, &format!("[[{key}]]"));
    let Some(toml::Value::Array(pkgs)) = doc.get(key) else {
        bail!(
            "{}: no `[[{key}]]` tables: is this really a Python lockfile?",
            path.display()
        );
    };
    for p in pkgs {
        let Some(name) = p.get("name").and_then(|v| v.as_str()) else {
            bail!("{}: a `[[{key}]]` entry has no name", path.display());
        };
        // uv.lock: the project itself and local packages have a non-registry source.
        let source = p.get("source").and_then(|s| s.as_table());
        if source.is_some_and(|s| {
            ["editable", "virtual", "directory", "path"]
                .iter()
                .any(|k| s.contains_key(*k))
        }) {
            continue;
        }
        let Some(version) = p.get("version").and_then(|v| v.as_str()) else {
            let line = lines
                .iter()
                .find(|((n, _), _)| n == name)
                .map_or(1, |(_, l)| *l);
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
            line: lines
                .get(&(name.to_string(), version.to_string()))
                .copied()
                .unwrap_or(1),
            paths: Rc::from([file_label(path)]),
            markers: p
                .get("marker")
                .or_else(|| p.get("markers"))
                .and_then(|m| m.as_str())
                .map(str::to_string),
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
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with(&format!("\"{name}\"")))
                .map_or(1, |i| i + 1);
            match spec
                .get("version")
                .and_then(|v| v.as_str())
                .and_then(|v| v.strip_prefix("=="))
            {
                Some(v) => inputs.packages.push(Package {
                    ecosystem: Ecosystem::PyPI,
                    name: name.clone(),
                    version: v.to_string(),
                    file: Rc::from(path),
                    line,
                    paths: Rc::from([format!("{} [{section}]", file_label(path))]),
                    markers: spec
                        .get("markers")
                        .and_then(|m| m.as_str())
                        .map(str::to_string),
                }),
                None => inputs.unpinned.push(Unpinned {
                    file: path.to_path_buf(),
                    line,
                    requirement: format!("{name} {spec}"),
                }),
            }
        }
    }
    Ok(())
}

/// requirements files with `-r`/`-c` includes (relative to the including file), followed
/// once each; a cycle is a note, not an endless loop.
pub(super) fn requirements(path: &Path, inputs: &mut Inputs) -> Result<()> {
    let mut stack = Vec::new();
    requirements_rec(path, inputs, &mut stack, false)
}

fn requirements_rec(
    path: &Path,
    inputs: &mut Inputs,
    stack: &mut Vec<PathBuf>,
    constraint: bool,
) -> Result<()> {
    let canon = path
        .canonicalize()
        .with_context(|| format!("reading {}", path.display()))?;
    stack.push(canon);
    let text = read(path)?;
    let logical = join_continuations(&text);
    let dir = path.parent().unwrap_or(Path::new("."));
    for (line, l) in logical {
        // A comment starts at `#` at the beginning or after whitespace.
        let content = match l.find(" #").or_else(|| l.find("\t#")) {
            Some(i) => &l[..i],
            None if l.trim_start().starts_with('#') => "",
            None => &l,
        };
        let content = content.trim();
        if content.is_empty() {
            continue;
        }
        let mut words = content.split_whitespace();
        let first = words.next().unwrap_or_default();
        let include = match first {
            "-r" | "--requirement" => Some((words.next(), false)),
            "-c" | "--constraint" => Some((words.next(), true)),
            _ => first
                .strip_prefix("--requirement=")
                .or_else(|| first.strip_prefix("-r"))
                .map(|f| (Some(f), false))
                .or_else(|| {
                    first
                        .strip_prefix("--constraint=")
                        .or_else(|| first.strip_prefix("-c"))
                        .map(|f| (Some(f), true))
                }),
        };
        if let Some((file, is_constraint)) = include {
            let Some(file) = file.filter(|f| !f.is_empty()) else {
                bail!("{}:{line}: `{first}` needs a file name", path.display());
            };
            let target = dir.join(file);
            let canon = target.canonicalize().with_context(|| {
                format!(
                    "{}:{line}: included file {} not found",
                    path.display(),
                    target.display()
                )
            })?;
            if stack.contains(&canon) {
                inputs.notes.push((
                    path.to_path_buf(),
                    line,
                    format!("include cycle: {file} is already being read"),
                ));
                continue;
            }
            requirements_rec(&target, inputs, stack, is_constraint)?;
            continue;
        }
        if first.starts_with('-') {
            if matches!(first, "-e" | "--editable") || first.starts_with("--editable=") {
                inputs.notes.push((
                    path.to_path_buf(),
                    line,
                    format!("editable requirement `{content}` is not audited"),
                ));
            }
            // Index and build options (--index-url, --hash on its own line, ...) pin nothing.
            continue;
        }
        parse_requirement(path, line, content, constraint, inputs)?;
    }
    stack.pop();
    Ok(())
}

fn parse_requirement(
    path: &Path,
    line: usize,
    content: &str,
    constraint: bool,
    inputs: &mut Inputs,
) -> Result<()> {
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
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        if req.contains("://") || req.starts_with('.') || req.starts_with('/') {
            inputs.unpinned.push(Unpinned {
                file: path.into(),
                line,
                requirement: req.into(),
            });
            return Ok(());
        }
        bail!(
            "{}:{line}: `{content}` is not a requirement (expected NAME==VERSION)",
            path.display()
        );
    }
    let Ok(Head { rest, .. }) = head else {
        bail!(
            "{}:{line}: unclosed `[` in extras of `{req}`",
            path.display()
        );
    };
    let pinned = rest
        .strip_prefix("===")
        .or_else(|| rest.strip_prefix("=="))
        .map(str::trim)
        .filter(|v| {
            !v.is_empty()
                && !v.contains(',')
                && !v.contains('*')
                && !v.contains(char::is_whitespace)
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
            requirement: spec.trim().to_string(),
        }),
    }
    Ok(())
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
