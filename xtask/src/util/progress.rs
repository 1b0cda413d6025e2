//! A one-line progress display on stderr, shown only on a terminal (never in cron output).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::report::human_bytes;

pub struct Progress {
    label: &'static str,
    total: u64,
    enabled: bool,
    last: Instant,
    shown: bool,
}

impl Progress {
    /// Shown only for inputs of at least 64 MiB, on a terminal, when not quiet.
    pub fn new(label: &'static str, total: u64, quiet: bool) -> Progress {
        let enabled = !quiet && total >= 64 << 20 && std::io::stderr().is_terminal();
        Progress {
            label,
            total,
            enabled,
            last: Instant::now(),
            shown: false,
        }
    }

    pub fn set(&mut self, done: u64) {
        if !self.enabled || self.last.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last = Instant::now();
        let pct = (done.min(self.total) * 100)
            .checked_div(self.total)
            .unwrap_or(100);
        let width = 30usize;
        let filled = (pct as usize * width) / 100;
        eprint!(
            "\r{:>10} [{}{}] {pct:>3}% {} / {}",
            self.label,
            "#".repeat(filled),
            " ".repeat(width - filled),
            human_bytes(done),
            human_bytes(self.total)
        );
        let _ = std::io::stderr().flush();
        self.shown = true;
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.shown {
            eprint!("\r\x1b[2K");
        }
    }
}
