//! A fast reader of GitHub Actions exports into the same `Raw` records serde would build:
//! a strict JSON scanner that reads the fields `load` uses and skips (but checks) the rest.
//!
//! It answers only what it is sure of. Anything it does not expect — invalid JSON, a key
//! with an escape, a field of another type than GitHub sends, a duplicate field, nesting
//! deeper than 128 — makes it give up ([`GiveUp`]), and `load` parses the file with serde,
//! whose error names the line and column. On every file it accepts, the records are those
//! serde builds (a test compares them).

use std::borrow::Cow;

use super::raw::{Raw, RawJob, RawStep, Top};

/// The scanner met something it leaves to serde.
#[derive(Debug)]
pub struct GiveUp;

type R<T> = Result<T, GiveUp>;

const MAX_DEPTH: usize = 128;

/// Every JSON document of `text` (whitespace between them), as `load` reads them.
pub fn documents(text: &str) -> R<Vec<Top<'_>>> {
    let mut c = Cursor {
        b: text.as_bytes(),
        s: text,
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        c.ws();
        match c.peek() {
            None => return Ok(out),
            Some(b'{') => out.push(Top::Object(Box::new(c.raw(0)?))),
            Some(b'[') => {
                let mut runs = Vec::new();
                c.array(0, |c, d| {
                    runs.push(c.raw(d)?);
                    Ok(())
                })?;
                out.push(Top::Array(runs));
            }
            Some(_) => return Err(GiveUp),
        }
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    s: &'a str,
    i: usize,
}

/// Set a field once: a second value is serde's "duplicate field" error.
fn once<T>(slot: &mut Option<T>, v: Option<T>, seen: &mut bool) -> R<()> {
    if std::mem::replace(seen, true) {
        return Err(GiveUp);
    }
    *slot = v;
    Ok(())
}

impl<'a> Cursor<'a> {
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                break;
            }
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> R<()> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    /// `{ "key": value, ... }`: `f` reads each value after its key.
    fn object(
        &mut self,
        depth: usize,
        mut f: impl FnMut(&mut Self, &'a [u8], usize) -> R<()>,
    ) -> R<()> {
        if depth >= MAX_DEPTH {
            return Err(GiveUp);
        }
        self.eat(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let key = self.key()?;
            self.eat(b':')?;
            self.ws();
            f(self, key, depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(GiveUp),
            }
        }
    }

    fn array(&mut self, depth: usize, mut f: impl FnMut(&mut Self, usize) -> R<()>) -> R<()> {
        if depth >= MAX_DEPTH {
            return Err(GiveUp);
        }
        self.eat(b'[')?;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            f(self, depth + 1)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(GiveUp),
            }
        }
    }

    /// The end of the string whose opening quote is at `self.i`, and whether it has escapes
    /// (each checked: `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\uXXXX`).
    fn string_end(&self) -> R<(usize, bool)> {
        let b = self.b;
        let mut k = self.i + 1;
        let mut escaped = false;
        loop {
            // One pass for the end, an escape, or a control character (which must be
            // escaped: an unescaped one is serde's error). Strings here are short.
            while let Some(&c) = b.get(k) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                k += 1;
            }
            match b.get(k) {
                Some(b'"') => return Ok((k, escaped)),
                Some(b'\\') => {}
                _ => return Err(GiveUp),
            }
            escaped = true;
            k = match b.get(k + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => k + 2,
                Some(b'u')
                    if b.get(k + 2..k + 6)
                        .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
                {
                    k + 6
                }
                _ => return Err(GiveUp),
            };
        }
    }

    fn key(&mut self) -> R<&'a [u8]> {
        if self.peek() != Some(b'"') {
            return Err(GiveUp);
        }
        let (end, escaped) = self.string_end()?;
        if escaped {
            return Err(GiveUp);
        }
        let k = &self.b[self.i + 1..end];
        self.i = end + 1;
        Ok(k)
    }

    /// A string or null.
    fn opt_str(&mut self) -> R<Option<Cow<'a, str>>> {
        match self.peek() {
            Some(b'n') => self.literal(b"null").map(|_| None),
            Some(b'"') => {
                let (end, escaped) = self.string_end()?;
                let start = self.i;
                self.i = end + 1;
                if escaped {
                    let s: String =
                        serde_json::from_str(&self.s[start..end + 1]).map_err(|_| GiveUp)?;
                    Ok(Some(Cow::Owned(s)))
                } else {
                    Ok(Some(Cow::Borrowed(&self.s[start + 1..end])))
                }
            }
            _ => Err(GiveUp),
        }
    }

    /// A whole number that fits `u64`, or null.
    fn opt_u64(&mut self) -> R<Option<u64>> {
        if self.peek() == Some(b'n') {
            return self.literal(b"null").map(|_| None);
        }
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        if self.i == start
            || matches!(self.peek(), Some(b'.' | b'e' | b'E' | b'-' | b'+'))
            || (self.i - start > 1 && self.b[start] == b'0')
        {
            return Err(GiveUp);
        }
        self.s[start..self.i].parse().map(Some).map_err(|_| GiveUp)
    }

    fn opt_u32(&mut self) -> R<Option<u32>> {
        match self.opt_u64()? {
            None => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(|_| GiveUp),
        }
    }

    fn literal(&mut self, word: &[u8]) -> R<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    /// Any JSON value, checked and passed over.
    fn skip(&mut self, depth: usize) -> R<()> {
        match self.peek() {
            Some(b'"') => {
                let (end, _) = self.string_end()?;
                self.i = end + 1;
                Ok(())
            }
            Some(b'{') => self.object(depth, |c, _, d| c.skip(d)),
            Some(b'[') => self.array(depth, |c, d| c.skip(d)),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(GiveUp),
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> R<()> {
        let digits = |c: &mut Self| -> R<()> {
            let s = c.i;
            while c.peek().is_some_and(|x| x.is_ascii_digit()) {
                c.i += 1;
            }
            if c.i == s { Err(GiveUp) } else { Ok(()) }
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        if self.peek() == Some(b'0') {
            self.i += 1;
        } else {
            digits(self)?;
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            digits(self)?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            digits(self)?;
        }
        Ok(())
    }

    fn opt_array<T>(
        &mut self,
        depth: usize,
        mut item: impl FnMut(&mut Self, usize) -> R<T>,
    ) -> R<Option<Vec<T>>> {
        if self.peek() == Some(b'n') {
            return self.literal(b"null").map(|_| None);
        }
        let mut v = Vec::with_capacity(8);
        self.array(depth, |c, d| {
            v.push(item(c, d)?);
            Ok(())
        })?;
        Ok(Some(v))
    }

    /// A run, or a document holding runs or jobs (`Raw`, with its serde names).
    fn raw(&mut self, depth: usize) -> R<Raw<'a>> {
        let mut r = Raw::default();
        let mut seen = [false; 15];
        self.object(depth, |c, key, d| match key {
            b"id" | b"databaseId" => once(&mut r.id, c.opt_u64()?, &mut seen[0]),
            b"name" => once(&mut r.name, c.opt_str()?, &mut seen[1]),
            b"workflowName" => once(&mut r.workflow_name, c.opt_str()?, &mut seen[2]),
            b"status" => once(&mut r.status, c.opt_str()?, &mut seen[3]),
            b"conclusion" => once(&mut r.conclusion, c.opt_str()?, &mut seen[4]),
            b"run_attempt" | b"attempt" => once(&mut r.run_attempt, c.opt_u32()?, &mut seen[5]),
            b"created_at" | b"createdAt" => once(&mut r.created_at, c.opt_str()?, &mut seen[6]),
            b"run_started_at" | b"startedAt" => {
                once(&mut r.run_started_at, c.opt_str()?, &mut seen[7])
            }
            b"updated_at" | b"updatedAt" => once(&mut r.updated_at, c.opt_str()?, &mut seen[8]),
            b"head_sha" | b"headSha" => once(&mut r.head_sha, c.opt_str()?, &mut seen[9]),
            b"head_branch" | b"headBranch" => once(&mut r.head_branch, c.opt_str()?, &mut seen[10]),
            b"event" => once(&mut r.event, c.opt_str()?, &mut seen[11]),
            b"total_count" => once(&mut r.total_count, c.opt_u64()?, &mut seen[12]),
            b"workflow_runs" => {
                let v = c.opt_array(d, |c, d| c.raw(d))?;
                once(&mut r.workflow_runs, v, &mut seen[13])
            }
            b"jobs" => {
                let v = c.opt_array(d, |c, d| c.job(d))?;
                once(&mut r.jobs, v, &mut seen[14])
            }
            _ => c.skip(d),
        })?;
        Ok(r)
    }

    fn job(&mut self, depth: usize) -> R<RawJob<'a>> {
        let mut j = RawJob::default();
        let mut seen = [false; 11];
        self.object(depth, |c, key, d| match key {
            b"id" | b"databaseId" => once(&mut j.id, c.opt_u64()?, &mut seen[0]),
            b"run_id" => once(&mut j.run_id, c.opt_u64()?, &mut seen[1]),
            b"run_attempt" => once(&mut j.run_attempt, c.opt_u32()?, &mut seen[2]),
            b"name" => once(&mut j.name, c.opt_str()?, &mut seen[3]),
            b"status" => once(&mut j.status, c.opt_str()?, &mut seen[4]),
            b"conclusion" => once(&mut j.conclusion, c.opt_str()?, &mut seen[5]),
            b"created_at" => once(&mut j.created_at, c.opt_str()?, &mut seen[6]),
            b"started_at" | b"startedAt" => once(&mut j.started_at, c.opt_str()?, &mut seen[7]),
            b"completed_at" | b"completedAt" => {
                once(&mut j.completed_at, c.opt_str()?, &mut seen[8])
            }
            b"url" => once(&mut j.url, c.opt_str()?, &mut seen[9]),
            b"steps" => {
                let v = c.opt_array(d, |c, d| c.step(d))?;
                once(&mut j.steps, v, &mut seen[10])
            }
            _ => c.skip(d),
        })?;
        Ok(j)
    }

    fn step(&mut self, depth: usize) -> R<RawStep<'a>> {
        let mut s = RawStep::default();
        let mut seen = [false; 5];
        self.object(depth, |c, key, d| match key {
            b"name" => once(&mut s.name, c.opt_str()?, &mut seen[0]),
            b"status" => once(&mut s.status, c.opt_str()?, &mut seen[1]),
            b"conclusion" => once(&mut s.conclusion, c.opt_str()?, &mut seen[2]),
            b"started_at" | b"startedAt" => once(&mut s.started_at, c.opt_str()?, &mut seen[3]),
            b"completed_at" | b"completedAt" => {
                once(&mut s.completed_at, c.opt_str()?, &mut seen[4])
            }
            _ => c.skip(d),
        })?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde(text: &str) -> anyhow::Result<Vec<Top<'_>>> {
        super::super::raw::serde_documents(text.as_bytes(), "t.json")
    }

    /// On what the scanner accepts, it builds exactly serde's records.
    #[test]
    fn the_scanner_reads_what_serde_reads() {
        for text in [
            r#"{"total_count":2,"workflow_runs":[{"id":1,"name":"ci","node_id":"x","status":"completed","conclusion":"success","run_attempt":2,"created_at":"2026-01-05T10:00:00Z","run_started_at":"2026-01-05T10:00:30Z","updated_at":"2026-01-05T10:05:30Z","head_sha":"ab","head_branch":"main","event":"push","pull_requests":[{"a":[1,-2.5e3,true,false,null,{}]}],"repository":{"x":{"y":"z\"q\u00e9"}}},
               {"id":2,"name":"c\u00e9 \"quoted\"","status":"in_progress","conclusion":null,"created_at":"2026-01-05T11:00:00Z"}]}
               {"total_count":0,"workflow_runs":[]}"#,
            r#"[{"databaseId":5,"attempt":1,"workflowName":"deploy","name":"Deploy v2","status":"completed","conclusion":"success","createdAt":"2026-01-06T12:00:00Z","startedAt":"2026-01-06T12:00:10Z","updatedAt":"2026-01-06T12:10:10Z","headSha":"ab","headBranch":"main","event":"release"}] []"#,
            r#"{"databaseId":7,"attempt":2,"workflowName":"ci","status":"completed","conclusion":"failure","createdAt":"2026-01-06T10:00:00Z","startedAt":"2026-01-06T10:00:00Z","updatedAt":"2026-01-06T10:01:00Z","jobs":[{"databaseId":71,"name":"test","status":"completed","conclusion":"failure","startedAt":"2026-01-06T10:00:05Z","completedAt":"2026-01-06T10:00:55Z","url":"https://github.com/o/r/actions/runs/7/job/71","steps":[{"name":"Run","number":1,"status":"completed","conclusion":"failure","startedAt":"2026-01-06T10:00:06Z","completedAt":"2026-01-06T10:00:50Z"}]}]}"#,
            r#"{"total_count":1,"jobs":[{"id":9,"run_id":8,"run_attempt":1,"name":"build","status":"queued","conclusion":null,"created_at":"2026-01-06T10:00:00Z","started_at":null,"completed_at":null,"labels":["ubuntu-latest"],"steps":null}]}"#,
            "  \n\t{}  ",
        ] {
            let fast = documents(text).unwrap_or_else(|_| panic!("the scanner gave up on {text}"));
            assert_eq!(fast, serde(text).unwrap(), "{text}");
        }
    }

    /// What is not valid JSON, or not what GitHub sends, is left to serde (which refuses it).
    #[test]
    fn the_scanner_gives_up_on_what_serde_refuses() {
        for text in [
            r#"{"id":1,}"#,
            r#"{"id":1 "name":"x"}"#,
            r#"{"id":01}"#,
            r#"{"id":1.5}"#,
            r#"{"id":-1}"#,
            r#"{"id":"1"}"#,
            r#"{"id":1,"databaseId":2}"#,
            r#"{"id":1,"id":1}"#,
            r#"{"name":"a\qb"}"#,
            r#"{"name":"a\u12"}"#,
            "{\"name\":\"a\tb\"}",
            r#"{"x":[1,,2]}"#,
            r#"{"x":tru}"#,
            r#"{"x":1.}"#,
            r#"{"x":-}"#,
            r#"{"x":"unterminated}"#,
            r#"{"run_attempt":4294967296}"#,
            r#"{"workflow_runs":{}}"#,
            r#"{"jobs":[1]}"#,
            r#"{"a":1} x"#,
            r#"{"a":1"#,
        ] {
            assert!(documents(text).is_err(), "the scanner accepted {text}");
            assert!(serde(text).is_err(), "serde accepted {text}");
        }
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(documents(&deep).is_err());
    }
}
