//! Coverage as coverage.py counts it: statements, missing statements, branches (exits of
//! lines with more than one exit) and missing branches, per file and in total; the combined
//! percentage, its display and the `fail_under` comparison, all as coverage.py's
//! `results.py` does them, so the numbers agree with `coverage report` to the last digit.

use std::collections::BTreeSet;

use serde::Serialize;

/// The coverage of one source file, whatever report format it came from.
#[derive(Debug, Clone, Default)]
pub struct FileCov {
    /// The file's name as the report gives it.
    pub path: String,
    /// Every measured statement line.
    pub statements: BTreeSet<u32>,
    /// Statement lines never executed.
    pub missing: BTreeSet<u32>,
    /// Exits of lines with more than one exit (coverage.py's `n_branches`).
    pub branches: u64,
    /// Exits never taken.
    pub missing_branches: u64,
    /// Exits never taken from lines that did run (coverage.py's `n_partial_branches`).
    pub partial_branches: u64,
    /// Untaken exits `(line, destination)` when the report names them (negative: exit).
    pub missing_arcs: Vec<(u32, i64)>,
}

impl FileCov {
    pub fn numbers(&self) -> Numbers {
        Numbers {
            files: 1,
            statements: self.statements.len() as u64,
            missing: self.missing.len() as u64,
            branches: self.branches,
            partial_branches: self.partial_branches,
            missing_branches: self.missing_branches,
        }
    }

    /// The `Missing` column of `coverage report -m`: runs of consecutive statements, then the
    /// untaken exits whose lines both ran.
    pub fn missing_text(&self) -> String {
        format_lines(&self.statements, &self.missing, &self.missing_arcs)
    }
}

/// The most branches (exits, partial or missing ones) a report may give one file or one
/// line: no source file has four billion, and the bound keeps every sum of a report's
/// counts far inside `u64` (a count near `u64::MAX` overflowed the totals).
pub const MAX_BRANCHES: u64 = u32::MAX as u64;

/// coverage.py's `Numbers`, summed over files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Numbers {
    pub files: u64,
    pub statements: u64,
    pub missing: u64,
    pub branches: u64,
    pub partial_branches: u64,
    pub missing_branches: u64,
}

impl std::ops::Add for Numbers {
    type Output = Numbers;
    fn add(self, o: Numbers) -> Numbers {
        Numbers {
            files: self.files + o.files,
            statements: self.statements + o.statements,
            missing: self.missing + o.missing,
            branches: self.branches + o.branches,
            partial_branches: self.partial_branches + o.partial_branches,
            missing_branches: self.missing_branches + o.missing_branches,
        }
    }
}

impl Numbers {
    pub fn executed(&self) -> u64 {
        self.statements - self.missing
    }

    pub fn executed_branches(&self) -> u64 {
        self.branches - self.missing_branches
    }

    /// `(executed statements + executed branches) / (statements + branches)`, in percent,
    /// computed in the same floating-point steps as coverage.py (`100.0 * n / d`).
    pub fn percent(&self) -> f64 {
        percent(
            self.executed() + self.executed_branches(),
            self.statements + self.branches,
        )
    }
}

/// coverage.py's `Numbers._percent`.
pub fn percent(numerator: u64, denominator: u64) -> f64 {
    if denominator > 0 {
        (100.0 * numerator as f64) / denominator as f64
    } else {
        100.0
    }
}

/// The totals in coverage.py's JSON vocabulary (`coverage json`'s `totals`).
#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    pub num_statements: u64,
    pub covered_lines: u64,
    pub missing_lines: u64,
    pub num_branches: u64,
    pub covered_branches: u64,
    pub missing_branches: u64,
    pub num_partial_branches: u64,
    pub percent_covered: f64,
    pub percent_covered_display: String,
}

impl Totals {
    pub fn new(n: &Numbers, precision: u32) -> Totals {
        Totals {
            num_statements: n.statements,
            covered_lines: n.executed(),
            missing_lines: n.missing,
            num_branches: n.branches,
            covered_branches: n.executed_branches(),
            missing_branches: n.missing_branches,
            num_partial_branches: n.partial_branches,
            percent_covered: n.percent(),
            percent_covered_display: display_covered(n.percent(), precision),
        }
    }
}

/// Python's `round(x, ndigits)` for a float: the exact binary value rounded to `ndigits`
/// decimals, ties to even (Rust's fixed-precision formatting rounds the same way).
pub fn round_py(x: f64, ndigits: u32) -> f64 {
    format!("{x:.*}", ndigits as usize)
        .parse()
        .expect("a formatted float parses")
}

/// coverage.py's `display_covered`: "0" only when truly 0, "100" only when truly 100.
pub fn display_covered(pc: f64, precision: u32) -> String {
    let near0 = 1.0 / 10f64.powi(precision as i32);
    let pc = if 0.0 < pc && pc < near0 {
        near0
    } else if (100.0 - near0) < pc && pc < 100.0 {
        100.0 - near0
    } else {
        round_py(pc, precision)
    };
    format!("{pc:.*}", precision as usize)
}

/// A threshold and how it is compared: coverage.py's `should_fail_under`.
#[derive(Debug, Clone, Copy)]
pub struct Threshold {
    pub min: f64,
    pub precision: u32,
}

impl Threshold {
    /// At least as many decimals as the threshold itself has (`_fail_under_precision`):
    /// Rust prints the shortest representation, as Python's `str(float)` does.
    pub fn effective_precision(&self) -> u32 {
        if self.min == self.min.trunc() {
            return self.precision;
        }
        let text = format!("{}", self.min);
        let decimals = text.split_once('.').map_or(0, |(_, d)| d.len()) as u32;
        self.precision.max(decimals)
    }

    /// Does `total` fail? A true total below the minimum always fails: unlike coverage.py's
    /// `should_fail_under`, which compares the total rounded to `precision` (and so passes
    /// a true 79.995 against 80 at precision 2), rounding only decides how it is shown.
    pub fn fails(&self, total: f64) -> bool {
        total < self.min
    }

    /// The total as the message shows it: at the effective precision, with more decimals
    /// when fewer would round a failing total up to the minimum (never "80.00 < 80").
    pub fn shown(&self, total: f64) -> String {
        let mut p = self.effective_precision();
        loop {
            let text = display_covered(total, p);
            let shown_fails = text.parse::<f64>().is_ok_and(|v| v < self.min);
            if !self.fails(total) || shown_fails || p >= 10 {
                return text;
            }
            p += 1;
        }
    }

    pub fn shown_min(&self) -> String {
        format!("{:.*}", self.effective_precision() as usize, self.min)
    }
}

/// coverage.py's `format_lines`: missing lines grouped into runs of consecutive statements
/// ("1-2, 5-11"), then untaken exits `a->b` whose two lines are not missing.
pub fn format_lines(
    statements: &BTreeSet<u32>,
    missing: &BTreeSet<u32>,
    arcs: &[(u32, i64)],
) -> String {
    let mut items: Vec<(u32, String)> = Vec::new();
    let mut run: Option<(u32, u32)> = None;
    let nice = |(a, b): (u32, u32)| {
        if a == b {
            a.to_string()
        } else {
            format!("{a}-{b}")
        }
    };
    for &s in statements {
        if missing.contains(&s) {
            run = Some(run.map_or((s, s), |(a, _)| (a, s)));
        } else if let Some(r) = run.take() {
            items.push((r.0, nice(r)));
        }
    }
    if let Some(r) = run {
        items.push((r.0, nice(r)));
    }
    let mut arcs = arcs.to_vec();
    arcs.sort();
    for (line, dest) in arcs {
        let dest_missing = u32::try_from(dest).is_ok_and(|d| missing.contains(&d));
        if !missing.contains(&line) && !dest_missing {
            let to = if dest > 0 {
                dest.to_string()
            } else {
                "exit".to_string()
            };
            items.push((line, format!("{line}->{to}")));
        }
    }
    items.sort();
    let parts: Vec<String> = items.into_iter().map(|(_, s)| s).collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by Python 3.11: `round(v, n)`.
    #[test]
    fn rounding_is_pythons() {
        let cases = [
            (0.125, 2, 0.12),
            (0.375, 2, 0.38),
            (2.5, 0, 2.0),
            (3.5, 0, 4.0),
            (0.5, 0, 0.0),
            (1.5, 0, 2.0),
            (1.005, 2, 1.0),
            (2.675, 2, 2.67),
            (100.0 * 15999.0 / 20000.0, 2, 80.0),
            (100.0 * 19.0 / 30.0, 2, 63.33),
            (99.995, 2, 100.0),
        ];
        for (v, n, want) in cases {
            assert_eq!(round_py(v, n), want, "round({v}, {n})");
        }
    }

    /// `display_covered` of coverage.py 7.17.5 on the same values; the strict comparison.
    #[test]
    fn fail_under_is_coverage_pys() {
        let t = |min, precision| Threshold { min, precision };
        let true_79_995 = 100.0 * 15999.0 / 20000.0;
        // coverage.py rounds 79.995 up to 80 at precision 0 and 2 and passes it; a true
        // total below the minimum fails here at every precision.
        for p in [0, 2, 3] {
            assert!(t(80.0, p).fails(true_79_995), "precision {p}");
        }
        assert!(t(80.0, 2).fails(79.9999));
        assert!(!t(80.0, 2).fails(80.0));
        assert_eq!(t(80.0, 2).shown(true_79_995), "79.995");
        assert_eq!(t(80.0, 0).shown(79.4), "79");
        assert_eq!(display_covered(true_79_995, 3), "79.995");
        assert_eq!(display_covered(true_79_995, 2), "80.00");
        // A threshold with decimals compares with at least that many.
        assert_eq!(t(79.5, 0).effective_precision(), 1);
        assert!(t(79.5, 0).fails(79.44));
        assert!(t(79.5, 0).fails(79.46));
        assert!(!t(79.5, 0).fails(79.5));
        // 100 must be 100; display never rounds to 0 or 100.
        assert!(t(100.0, 0).fails(99.999));
        assert!(!t(100.0, 0).fails(100.0));
        assert_eq!(display_covered(99.9999, 2), "99.99");
        assert_eq!(display_covered(0.0001, 2), "0.01");
        assert_eq!(display_covered(0.0, 2), "0.00");
        assert_eq!(t(80.0, 3).shown(true_79_995), "79.995");
        assert_eq!(t(100.0, 0).shown(99.7), "99");
        assert_eq!(t(100.0, 2).shown(99.9999), "99.99");
    }

    #[test]
    fn missing_lines_group_consecutive_statements() {
        let st: BTreeSet<u32> = [1, 2, 3, 4, 5, 10, 11, 12, 13, 14].into();
        let miss: BTreeSet<u32> = [1, 2, 5, 10, 11, 13, 14].into();
        assert_eq!(format_lines(&st, &miss, &[]), "1-2, 5-11, 13-14");
        let miss: BTreeSet<u32> = [3].into();
        assert_eq!(
            format_lines(&st, &miss, &[(2, 3), (4, -1), (12, 14)]),
            "3, 4->exit, 12->14"
        );
    }

    #[test]
    fn combined_formula() {
        let n = Numbers {
            files: 1,
            statements: 18,
            missing: 6,
            branches: 12,
            partial_branches: 1,
            missing_branches: 5,
        };
        assert_eq!(display_covered(n.percent(), 2), "63.33");
        assert_eq!(percent(0, 0), 100.0);
    }
}
