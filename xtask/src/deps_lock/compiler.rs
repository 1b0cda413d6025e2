//! The requirements compiler: `uv pip compile` when uv is on PATH, else pip-tools'
//! `pip-compile`. Both write the header and `# via` annotations the runbook's pip-compile
//! writes; the header names `cargo xtask deps lock` as the command to run again.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde::Serialize;
use xshell::cmd;

use crate::util::{redact, sh};

/// What the header of a compiled file says to run.
pub const COMPILE_COMMAND: &str = "cargo xtask deps lock";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Compiler {
    #[serde(rename = "uv pip compile")]
    Uv,
    #[serde(rename = "pip-compile")]
    PipCompile,
}

/// `--upgrade [PKG]...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgrade {
    None,
    All,
    Packages(Vec<String>),
}

impl Compiler {
    pub fn detect() -> Option<Compiler> {
        if sh::has_program("uv") {
            Some(Compiler::Uv)
        } else if sh::has_program("pip-compile") {
            Some(Compiler::PipCompile)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compiler::Uv => "uv pip compile",
            Compiler::PipCompile => "pip-compile",
        }
    }

    /// The program and its arguments to compile `input` into `output` (names relative to
    /// the input's folder, so that annotations name files as the team does).
    pub fn argv(self, input: &str, output: &str, hashes: bool, upgrade: &Upgrade) -> Vec<String> {
        let mut v: Vec<String> = match self {
            Compiler::Uv => vec!["uv".into(), "pip".into(), "compile".into()],
            Compiler::PipCompile => vec!["pip-compile".into()],
        };
        v.extend(["--quiet", "--custom-compile-command", COMPILE_COMMAND].map(String::from));
        if hashes {
            v.push("--generate-hashes".into());
        }
        match upgrade {
            Upgrade::None => {}
            Upgrade::All => v.push("--upgrade".into()),
            Upgrade::Packages(pkgs) => {
                for p in pkgs {
                    v.push("--upgrade-package".into());
                    v.push(p.clone());
                }
            }
        }
        v.extend(["--output-file", output, "--", input].map(String::from));
        v
    }

    /// Run the compiler in `dir`; it writes `output` (which may hold the previous pins,
    /// which both compilers keep where the input still allows them).
    pub fn run(
        self,
        dir: &Path,
        input: &str,
        output: &str,
        hashes: bool,
        up: &Upgrade,
    ) -> Result<()> {
        let argv = self.argv(input, output, hashes, up);
        let (prog, args) = argv.split_first().expect("argv has a program");
        let sh = sh::shell(dir)?;
        let out = cmd!(sh, "{prog} {args...}")
            .quiet()
            .ignore_status()
            .output()
            .with_context(|| format!("running {}", self.name()))?;
        if !out.status.success() {
            // An index URL in the message may carry credentials.
            let err = redact::redact(&String::from_utf8_lossy(&out.stderr));
            bail!(
                "{} {input} failed ({}): {}",
                self.name(),
                out.status,
                err.trim()
            );
        }
        Ok(())
    }
}

/// The error when no compiler is installed, saying how to get one.
pub fn missing() -> anyhow::Error {
    anyhow::anyhow!(
        "neither uv nor pip-compile is on PATH: install uv (`pip install uv`, or see https://docs.astral.sh/uv/) or pip-tools (`pip install pip-tools`), then run `cargo xtask deps lock` again"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        let up = Upgrade::Packages(vec!["requests".into(), "idna".into()]);
        assert_eq!(
            Compiler::Uv
                .argv("requirements.in", ".tmp-r", true, &up)
                .join(" "),
            "uv pip compile --quiet --custom-compile-command cargo xtask deps lock --generate-hashes --upgrade-package requests --upgrade-package idna --output-file .tmp-r -- requirements.in"
        );
        assert_eq!(
            Compiler::PipCompile
                .argv("requirements-dev.in", "o", false, &Upgrade::All)
                .join(" "),
            "pip-compile --quiet --custom-compile-command cargo xtask deps lock --upgrade --output-file o -- requirements-dev.in"
        );
    }
}
