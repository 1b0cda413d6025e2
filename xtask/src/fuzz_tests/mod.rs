//! Property and fuzz tests of every parser of the toolkit (issue #11, "Keep them found").
//!
//! Each parser gets arbitrary input and mutated valid input (a valid sample with bytes
//! flipped, inserted and deleted, lines duplicated, dropped and swapped, and cut short), and
//! must never panic, never hang, and never report success on input it could not read. Where
//! a generator can build valid input, the parser's answer is also compared with what was
//! built (model-based properties).
//!
//! The tests run in `cargo test` with [proptest](https://docs.rs/proptest): a fixed seed
//! (the same cases on every run, so CI is reproducible; `PROPTEST_RNG_SEED=N` picks other
//! cases) and a bounded number of cases per property, stated beside each one as `CASES`.
//! `XTASK_FUZZ_SCALE=N` multiplies every count, for a longer local run. A failing property
//! is shrunk to a minimal input, which the panic message shows: turn it into a regression
//! test in the parser's module.
//!
//! Input sizes are bounded by the generators; parsers where a hang is plausible (aliases,
//! include cycles, graphs, compressed archives) run under [`guard`], which fails a case
//! that has no answer after [`HANG_LIMIT`].
//!
//! | module | parsers |
//! |---|---|
//! | `cargo_lock` | Cargo.lock: fast scanner against the TOML path, graph walk, prescan |
//! | `python` | requirements files with includes; poetry.lock, uv.lock, pylock.toml, Pipfile.lock |
//! | `advisories` | OSV JSON and YAML, RustSec Markdown |
//! | `index` | the advisory index file |
//! | `zip` | OSV zip exports |
//! | `archive` | pipeline archives (`archive::check`) |
//! | `ledger` | deployment ledger lines |
//! | `config` | `maintenance.toml` |
//! | `versions` | SemVer and PEP 440 versions, OSV ranges, RustSec requirements, CVSS |
//! | `workflows` | workflow YAML and every lint rule |
//! | `reports` | JUnit, Cobertura, lcov, coverage.py JSON |
//! | `pem` | PEM certificates |
//! | `others` | `outdated`'s Dockerfile, workflow and registry parsers; backup file names |
//!
//! (`scan_config`'s own tests fuzz `.trivyignore` and bandit files the same way.)

mod advisories;
mod archive;
mod cargo_lock;
mod config;
mod index;
mod ledger;
mod others;
mod pem;
mod python;
mod reports;
mod versions;
mod workflows;
mod zip;

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

/// How long one case may take before it counts as a hang: far above what any case takes
/// (milliseconds), so that only a real hang (or a blow-up in size) trips it on a loaded
/// machine.
pub const HANG_LIMIT: Duration = Duration::from_secs(20);

/// A secret planted in inputs: no error message, finding or note may ever quote it.
pub const SECRET: &str = "hunter2-fuzz-secret";

/// Run `test` on `cases` values of `strategy` (times `XTASK_FUZZ_SCALE`), from a fixed seed;
/// on failure, panic with the minimal failing input proptest shrank it to.
pub fn check<S>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let scale = std::env::var("XTASK_FUZZ_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    let mut config = Config::with_cases(cases.saturating_mul(scale));
    config.failure_persistence = None;
    // Shrinking a slow failure must not run for ever either.
    config.max_shrink_time = 60_000;
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x00c0_ffee_f022);
    }
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{name}: {e}");
    }
}

/// Run `f` on a thread of its own and wait at most [`HANG_LIMIT`] for it: a panic inside is
/// passed on, no answer in time fails the case as a hang (the thread is left behind).
pub fn guard<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("fuzz {what}"))
        .spawn(move || {
            let _ = tx.send(std::panic::catch_unwind(AssertUnwindSafe(f)));
        })
        .expect("spawning a fuzz thread");
    match rx.recv_timeout(HANG_LIMIT) {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what}: no answer within {HANG_LIMIT:?}: it hangs"),
    }
}

/// A temporary folder for parsers that read files: in memory (`/dev/shm`) where there is
/// one, since the cases write thousands of small files and a disk busy with other writers
/// (builds) throttles them to many times the suite's CPU time; else the usual one.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("xtask-fuzz-")
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("a temporary folder")
}

/// One change to a valid sample. Positions are taken modulo the sample's length (bytes or
/// lines), so any value applies to any sample.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flip one bit of a byte.
    Flip(usize, u8),
    /// Overwrite a byte.
    Set(usize, u8),
    /// Insert bytes.
    Insert(usize, Vec<u8>),
    /// Insert one of [`TOKENS`].
    Token(usize, usize),
    /// Delete up to this many bytes.
    Delete(usize, usize),
    DupLine(usize),
    DelLine(usize),
    SwapLines(usize, usize),
    /// Cut the input short.
    Truncate(usize),
}

/// Pieces that the parsers' grammars care about: quotes, brackets, separators, escapes,
/// line ends, numbers past every integer type, XML and YAML specials, and markers of the
/// formats themselves.
pub const TOKENS: &[&str] = &[
    "\"",
    "'",
    "\n",
    "\r\n",
    "\\",
    "\\u",
    "[",
    "]",
    "{",
    "}",
    "=",
    "==",
    ":",
    ",",
    "#",
    " #",
    "-",
    "..",
    "/",
    "\0",
    "\u{feff}",
    "é",
    "\u{1b}[2J",
    "\t",
    " ",
    "0",
    "-1",
    "18446744073709551616",
    "4294967296",
    "1e400",
    "NaN",
    "inf",
    "&a ",
    "*a",
    "<",
    ">",
    "</",
    "/>",
    "&amp;",
    "&#0;",
    "&#x110000;",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-----BEGIN CERTIFICATE-----",
    "-----END CERTIFICATE-----",
    "[[package]]",
    "dependencies = [",
    "registry+",
    "-r ",
    "-c ",
    "```",
    "SF:",
    "end_of_record",
    "${{ ",
    " }}",
    "://",
];

pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Set(at, b)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, t)| Mutation::Token(at, t)),
        (any::<usize>(), 1usize..24).prop_map(|(at, n)| Mutation::Delete(at, n)),
        any::<usize>().prop_map(Mutation::DupLine),
        any::<usize>().prop_map(Mutation::DelLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// One to `max` mutations, applied in order.
pub fn mutations(max: usize) -> impl Strategy<Value = Vec<Mutation>> {
    proptest::collection::vec(mutation(), 1..=max)
}

/// `sample` with `ms` applied.
pub fn mutate(sample: &[u8], ms: &[Mutation]) -> Vec<u8> {
    let mut b = sample.to_vec();
    for m in ms {
        let at = |i: usize, len: usize| i % (len + 1);
        match m {
            Mutation::Flip(i, bit) if !b.is_empty() => {
                let n = b.len();
                b[i % n] ^= 1 << bit;
            }
            Mutation::Set(i, v) if !b.is_empty() => {
                let n = b.len();
                b[i % n] = *v;
            }
            Mutation::Insert(i, v) => {
                let i = at(*i, b.len());
                b.splice(i..i, v.iter().copied());
            }
            Mutation::Token(i, t) => {
                let i = at(*i, b.len());
                b.splice(i..i, TOKENS[*t].bytes());
            }
            Mutation::Delete(i, n) => {
                let i = at(*i, b.len());
                let end = (i + n).min(b.len());
                b.drain(i..end);
            }
            Mutation::DupLine(i) | Mutation::DelLine(i) => {
                let mut lines = split_lines(&b);
                if !lines.is_empty() {
                    let k = i % lines.len();
                    if matches!(m, Mutation::DupLine(_)) {
                        lines.insert(k, lines[k].clone());
                    } else {
                        lines.remove(k);
                    }
                }
                b = lines.concat();
            }
            Mutation::SwapLines(x, y) => {
                let mut lines = split_lines(&b);
                if !lines.is_empty() {
                    let n = lines.len();
                    lines.swap(x % n, y % n);
                }
                b = lines.concat();
            }
            Mutation::Truncate(i) => {
                let n = b.len();
                b.truncate(i % (n + 1));
            }
            Mutation::Flip(..) | Mutation::Set(..) => {}
        }
    }
    b
}

/// Lines with their line ends.
fn split_lines(b: &[u8]) -> Vec<Vec<u8>> {
    b.split_inclusive(|&c| c == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

/// [`mutate`] for parsers of text: invalid UTF-8 becomes U+FFFD.
pub fn mutate_text(sample: &str, ms: &[Mutation]) -> String {
    String::from_utf8_lossy(&mutate(sample.as_bytes(), ms)).into_owned()
}

/// Text made of the format's own tokens and some arbitrary characters: closer to what a
/// parser gets past its first check than uniform random bytes.
pub fn soup(tokens: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => proptest::sample::select(tokens).prop_map(str::to_string),
        2 => proptest::sample::select(TOKENS).prop_map(str::to_string),
        1 => any::<char>().prop_map(String::from),
        1 => "[a-z0-9._-]{1,8}",
    ];
    proptest::collection::vec(piece, 0..max).prop_map(|v| v.concat())
}

/// Arbitrary bytes, up to `max`.
pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

#[test]
fn mutations_apply_at_any_position() {
    let sample = b"a\nbc\n";
    let all = [
        Mutation::Flip(7, 0),
        Mutation::Set(1, b'x'),
        Mutation::Insert(99, vec![b'!']),
        Mutation::Token(0, 2),
        Mutation::Delete(3, 100),
        Mutation::DupLine(5),
        Mutation::DelLine(0),
        Mutation::SwapLines(0, 1),
        Mutation::Truncate(3),
    ];
    assert_eq!(mutate(sample, &all[..1]), b"a\ncc\n");
    assert_eq!(mutate(sample, &all[1..2]), b"axbc\n");
    assert_eq!(mutate(sample, &all[2..3]), b"a\nb!c\n", "positions wrap");
    assert_eq!(mutate(sample, &all[3..4]), b"\na\nbc\n");
    assert_eq!(mutate(sample, &all[4..5]), b"a\nb");
    assert_eq!(mutate(sample, &all[5..6]), b"a\nbc\nbc\n");
    assert_eq!(mutate(sample, &all[6..7]), b"bc\n");
    assert_eq!(mutate(sample, &all[7..8]), b"bc\na\n");
    assert_eq!(mutate(sample, &all[8..9]), b"a\nb");
    assert_eq!(mutate(b"", &all), b"", "an empty sample stays applicable");
}
