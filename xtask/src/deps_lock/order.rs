//! The order inputs are compiled in: an input that includes another input's `.txt`
//! (`-c requirements.txt` in requirements-dev.in, the layered setup pip-tools documents)
//! comes after it, so that it is compiled against the new pins.

use std::path::{Component, Path, PathBuf};

/// The file an include line (`-r F`, `-c F`, `--requirement=F`, `-cF`) names.
fn include_target(line: &str) -> Option<&str> {
    let l = line.split(" #").next()?.trim();
    ["--requirement", "--constraint", "-r", "-c"]
        .iter()
        .find_map(|p| l.strip_prefix(p))
        .map(|rest| rest.strip_prefix('=').unwrap_or(rest).trim())
        .filter(|t| !t.is_empty())
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The `.txt` of another input that `input` includes.
pub fn includes(input: &Path, outputs: &[PathBuf]) -> Vec<PathBuf> {
    let dir = input.parent().unwrap_or(Path::new("."));
    let text = std::fs::read_to_string(input).unwrap_or_default();
    text.lines()
        .filter_map(include_target)
        .map(|t| normalize(&dir.join(t)))
        .filter(|t| outputs.contains(t))
        .collect()
}

/// `inputs` with every input after the inputs whose `.txt` it includes (a cycle keeps the
/// given order for its members).
pub fn ordered(inputs: Vec<PathBuf>) -> Vec<PathBuf> {
    let outputs: Vec<PathBuf> = inputs
        .iter()
        .map(|i| normalize(&i.with_extension("txt")))
        .collect();
    let needs: Vec<Vec<usize>> = inputs
        .iter()
        .map(|i| {
            includes(i, &outputs)
                .iter()
                .filter_map(|t| outputs.iter().position(|o| o == t))
                .collect()
        })
        .collect();
    let mut done = vec![false; inputs.len()];
    let mut order = Vec::new();
    while order.len() < inputs.len() {
        let before = order.len();
        for i in 0..inputs.len() {
            if !done[i] && needs[i].iter().all(|&d| done[d] || d == i) {
                done[i] = true;
                order.push(i);
            }
        }
        if order.len() == before {
            order.extend((0..inputs.len()).filter(|&i| !done[i]));
        }
    }
    order.into_iter().map(|i| inputs[i].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layered_inputs_come_after_what_they_include() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::write(
            d.join("requirements-dev.in"),
            "-c requirements.txt\npytest\n",
        )
        .unwrap();
        std::fs::write(d.join("requirements.in"), "requests\n").unwrap();
        std::fs::write(
            d.join("sub/requirements-docs.in"),
            "--constraint=../requirements-dev.txt\n",
        )
        .unwrap();
        let inputs = vec![
            d.join("requirements-dev.in"),
            d.join("requirements.in"),
            d.join("sub/requirements-docs.in"),
        ];
        let names: Vec<String> = ordered(inputs.clone())
            .iter()
            .map(|p| p.strip_prefix(d).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "requirements.in",
                "requirements-dev.in",
                "sub/requirements-docs.in"
            ]
        );
        assert_eq!(include_target("-rbase.txt  # pinned"), Some("base.txt"));
        assert_eq!(include_target("requests>=2"), None);
    }
}
