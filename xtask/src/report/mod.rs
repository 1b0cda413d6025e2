//! The one report model every command returns, and its presenters.
//!
//! A command computes a [`Report`]; `main` renders it in the chosen [`Format`] and takes the
//! exit code from [`Report::exit_code`]. Nothing here decides what a command found.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Map, Value};

pub mod codes;
pub use codes::Code;

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A value of a JSON object written with sorted keys.
enum Field<'a> {
    Value(&'a Value),
    Str(&'a str),
    Line(usize),
    Findings(&'a [Finding]),
}

struct Sorted<'a>(Vec<(&'a str, Field<'a>)>);

impl Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Serialize for Field<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        match self {
            Field::Value(v) => v.serialize(s),
            Field::Str(v) => s.serialize_str(v),
            Field::Line(n) => s.serialize_u64(*n as u64),
            Field::Findings(list) => {
                let mut seq = s.serialize_seq(Some(list.len()))?;
                for f in *list {
                    seq.serialize_element(&f.sorted())?;
                }
                seq.end()
            }
        }
    }
}

/// One thing a command found. `code` is stable kebab-case and is what ignore lists name.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Command-specific fields, flattened into the JSON object (e.g. an advisory's details).
    #[serde(flatten, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
    /// The SARIF rule of the finding when it is more precise than its code (an advisory).
    #[serde(skip)]
    pub rule: Option<SarifRule>,
}

/// A SARIF rule of its own: an advisory's id and summary (the rule is otherwise the code).
#[derive(Debug, Clone)]
pub struct SarifRule {
    pub id: String,
    pub description: String,
}

impl Finding {
    /// Its JSON object with sorted keys (an `extra` field of the same name wins, as it
    /// did when findings were flattened into a map).
    fn sorted(&self) -> Sorted<'_> {
        let mut fields: Vec<(&str, Field)> = Vec::with_capacity(self.extra.len() + 5);
        let fixed = [
            ("code", Some(Field::Str(self.code.id()))),
            ("severity", Some(Field::Str(self.severity.as_str()))),
            ("message", Some(Field::Str(&self.message))),
            ("path", self.path.as_deref().map(Field::Str)),
            ("line", self.line.map(Field::Line)),
        ];
        for (k, v) in fixed {
            if let Some(v) = v
                && !self.extra.contains_key(k)
            {
                fields.push((k, v));
            }
        }
        fields.extend(
            self.extra
                .iter()
                .map(|(k, v)| (k.as_str(), Field::Value(v))),
        );
        fields.sort_by_key(|(k, _)| *k);
        Sorted(fields)
    }

    pub fn new(code: Code, severity: Severity, message: impl Into<String>) -> Finding {
        Finding {
            code,
            severity,
            message: message.into(),
            path: None,
            line: None,
            extra: Map::new(),
            rule: None,
        }
    }

    pub fn at(mut self, path: impl Into<String>) -> Finding {
        self.path = Some(path.into());
        self
    }

    /// Located at a line of a file.
    pub fn at_line(mut self, path: impl Into<String>, line: usize) -> Finding {
        self.path = Some(path.into());
        self.line = Some(line);
        self
    }
}

/// A titled table for the human formats. JSON carries the same facts in `data`.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(title: impl Into<String>, headers: &[&str]) -> Table {
        Table {
            title: title.into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }
}

/// A labelled group of summary lines and tables: one step of a command that does several
/// (`backup`: one block per kind).
#[derive(Debug, Clone, Default)]
pub struct Block {
    pub title: String,
    pub summary: Vec<(String, String)>,
    pub tables: Vec<Table>,
}

#[derive(Debug, Clone)]
pub struct Report {
    /// The command that made the report, e.g. `backup config`.
    pub command: String,
    /// Short key/value lines shown above the tables.
    pub summary: Vec<(String, String)>,
    /// Labelled groups shown after the summary, before the tables.
    pub blocks: Vec<Block>,
    pub tables: Vec<Table>,
    /// What a person has to do, shown after the tables as unchecked boxes (`- [ ]`).
    pub todo: Vec<String>,
    pub findings: Vec<Finding>,
    /// Top-level fields of the JSON rendering (besides `findings`).
    pub data: Map<String, Value>,
    /// Findings at or above this severity make the exit code 1.
    pub fail_on: Severity,
    /// Part of the work failed (e.g. an unreadable input): exit code 2 even though the
    /// report of the rest is printed.
    pub incomplete: bool,
    /// Exit code when nothing fails but the command wants to signal (`outdated --exit-code N`).
    pub exit_override: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Markdown,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
}

impl Report {
    /// A report named after its command, marked when it is a dry run.
    pub fn dry(command: &str, dry_run: bool) -> Report {
        Report::new(if dry_run {
            format!("{command} --dry-run")
        } else {
            command.to_string()
        })
    }

    pub fn new(command: impl Into<String>) -> Report {
        Report {
            command: command.into(),
            summary: Vec::new(),
            blocks: Vec::new(),
            tables: Vec::new(),
            todo: Vec::new(),
            findings: Vec::new(),
            data: Map::new(),
            fail_on: Severity::Medium,
            incomplete: false,
            exit_override: None,
        }
    }

    pub fn summary(&mut self, key: &str, value: impl Into<String>) {
        self.summary.push((key.to_string(), value.into()));
    }

    pub fn set(&mut self, key: &str, value: impl Serialize) {
        let value = serde_json::to_value(value).expect("report data is always serialisable");
        self.data.insert(key.to_string(), value);
    }

    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Merge another report (one step of `backup`) as a block labelled `title`: its summary
    /// lines and tables stay together under the label; its findings join this report's, its
    /// JSON data goes under its command's name (`backup_config`).
    pub fn absorb_as(&mut self, title: &str, other: Report) {
        self.blocks.push(Block {
            title: title.to_string(),
            summary: other.summary,
            tables: other.tables,
        });
        self.blocks.extend(other.blocks);
        self.findings.extend(other.findings);
        let key = other.command.replace(' ', "_");
        self.data.insert(key, Value::Object(other.data));
    }

    pub fn failing(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.severity >= self.fail_on)
    }

    /// 0 clean, 1 findings at or above the threshold, 2 when part of the work failed.
    /// (Errors that stop a command are mapped to 2 in `main`.)
    pub fn exit_code(&self) -> i32 {
        if self.incomplete {
            2
        } else if self.failing().next().is_some() {
            1
        } else {
            self.exit_override.map_or(0, i32::from)
        }
    }

    pub fn render(&self, format: Format, style: Style) -> String {
        match format {
            Format::Json => self.render_json(),
            Format::Markdown => self.render_markdown(),
            Format::Table => self.render_table(style),
            Format::Sarif => self.render_sarif(),
        }
    }

    /// SARIF 2.1.0: one rule per code (or advisory id), one result per finding, with the
    /// file and line where there is one.
    pub fn render_sarif(&self) -> String {
        use serde_json::json;
        let mut rules: Vec<Value> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        let mut results = Vec::new();
        for f in &self.findings {
            let (rule, description) = match &f.rule {
                Some(r) => (r.id.clone(), r.description.as_str()),
                None => (f.code.id().to_string(), f.code.meaning()),
            };
            if seen.insert(rule.clone()) {
                let r = json!({
                    "id": rule,
                    "name": f.code.id(),
                    "shortDescription": {"text": description},
                    "fullDescription": {"text": f.code.meaning()},
                    "defaultConfiguration": {"level": sarif_level(f.code.default_severity())},
                });
                rules.push(r);
            }
            let level = sarif_level(f.severity);
            let mut result =
                json!({"ruleId": rule, "level": level, "message": {"text": f.message}});
            if let Some(p) = &f.path {
                let mut loc = json!({"physicalLocation": {"artifactLocation": {"uri": p}}});
                if let Some(l) = f.line {
                    loc["physicalLocation"]["region"] = json!({"startLine": l});
                    // A finding that knows its column carries it in `extra` (workflows lint).
                    if let Some(c) = f.extra.get("column").and_then(Value::as_u64) {
                        loc["physicalLocation"]["region"]["startColumn"] = json!(c);
                    }
                }
                result["locations"] = json!([loc]);
            }
            results.push(result);
        }
        let doc = json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "cargo-xtask",
                    "informationUri": "https://github.com/",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }},
                "results": results,
            }],
        });
        let mut s = serde_json::to_string_pretty(&doc).unwrap();
        s.push('\n');
        s
    }

    /// Objects' keys come out sorted, as a `serde_json` map would sort them, but written
    /// straight from the report (no intermediate tree: a large audit renders twice as fast).
    pub fn render_json(&self) -> String {
        let command = Value::String(self.command.clone());
        let exit = Value::from(self.exit_code());
        let mut top: Vec<(&str, Field)> = self
            .data
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "command" | "findings" | "exit_code"))
            .map(|(k, v)| (k.as_str(), Field::Value(v)))
            .collect();
        top.push(("command", Field::Value(&command)));
        top.push(("findings", Field::Findings(&self.findings)));
        top.push(("exit_code", Field::Value(&exit)));
        top.sort_by_key(|(k, _)| *k);
        let mut s = serde_json::to_string_pretty(&Sorted(top)).unwrap();
        s.push('\n');
        s
    }

    fn render_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "## cargo xtask {}\n", self.command);
        md_summary(&mut s, &self.summary);
        for b in &self.blocks {
            let _ = writeln!(s, "### {}\n", b.title);
            md_summary(&mut s, &b.summary);
            md_tables(&mut s, &b.tables, "####");
        }
        md_tables(&mut s, &self.tables, "###");
        if !self.todo.is_empty() {
            s.push_str("### By hand\n\n");
            for t in &self.todo {
                let _ = writeln!(s, "- [ ] {}", t.replace('\n', " "));
            }
            s.push('\n');
        }
        if self.findings.is_empty() {
            s.push_str("No findings.\n");
        } else {
            s.push_str(
                "### Findings\n\n| severity | code | message | where |\n|---|---|---|---|\n",
            );
            for f in &self.findings {
                let _ = writeln!(
                    s,
                    "| {} | `{}` | {} | {} |",
                    f.severity.as_str(),
                    f.code,
                    md_escape(&f.message),
                    md_escape(&location(f))
                );
            }
        }
        s
    }

    fn render_table(&self, style: Style) -> String {
        let mut s = String::new();
        if style.quiet {
            // Quiet: only what fails the run, so cron mails only when something is wrong.
            for f in self.failing() {
                s.push_str(&finding_line(f, style));
            }
            return s;
        }
        summary_lines(&mut s, &self.summary, "");
        for b in &self.blocks {
            if !s.is_empty() {
                s.push('\n');
            }
            let _ = writeln!(s, "{}", style.bold(&b.title));
            summary_lines(&mut s, &b.summary, "  ");
            table_texts(&mut s, &b.tables, style);
        }
        table_texts(&mut s, &self.tables, style);
        if !self.todo.is_empty() {
            if !s.is_empty() {
                s.push('\n');
            }
            let _ = writeln!(s, "{}", style.bold("By hand"));
            for t in &self.todo {
                let _ = writeln!(s, "[ ] {t}");
            }
        }
        if !self.findings.is_empty() {
            if !s.is_empty() {
                s.push('\n');
            }
            for f in &self.findings {
                s.push_str(&finding_line(f, style));
            }
        }
        s
    }
}

/// `key: value` lines, keys right-aligned, each line after `indent`.
fn summary_lines(s: &mut String, lines: &[(String, String)], indent: &str) {
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in lines {
        let _ = writeln!(s, "{indent}{k:>width$}: {v}");
    }
}

/// Each table with rows, after a blank line, under its title.
fn table_texts(s: &mut String, tables: &[Table], style: Style) {
    for t in tables {
        if t.rows.is_empty() {
            continue;
        }
        if !s.is_empty() {
            s.push('\n');
        }
        if !t.title.is_empty() {
            let _ = writeln!(s, "{}", style.bold(&t.title));
        }
        s.push_str(&text_table(&t.headers, &t.rows));
    }
}

fn location(f: &Finding) -> String {
    match (&f.path, f.line) {
        (Some(p), Some(l)) => format!("{p}:{l}"),
        (Some(p), None) => p.clone(),
        _ => String::new(),
    }
}

fn finding_line(f: &Finding, style: Style) -> String {
    let loc = location(f);
    let sev = style.severity(f.severity);
    if loc.is_empty() {
        format!("{sev}[{}]: {}\n", f.code, f.message)
    } else {
        format!("{sev}[{}]: {} ({loc})\n", f.code, f.message)
    }
}

fn md_summary(s: &mut String, lines: &[(String, String)]) {
    for (k, v) in lines {
        let _ = writeln!(s, "- **{k}**: {}", md_escape(v));
    }
    if !lines.is_empty() {
        s.push('\n');
    }
}

/// Each table with rows as a Markdown table under a `heading` of its title.
fn md_tables(s: &mut String, tables: &[Table], heading: &str) {
    for t in tables {
        if t.rows.is_empty() {
            continue;
        }
        if !t.title.is_empty() {
            let _ = writeln!(s, "{heading} {}\n", t.title);
        }
        let _ = writeln!(s, "| {} |", t.headers.join(" | "));
        let _ = writeln!(s, "|{}", "---|".repeat(t.headers.len()));
        for r in &t.rows {
            let cells: Vec<String> = r.iter().map(|c| md_escape(c)).collect();
            let _ = writeln!(s, "| {} |", cells.join(" | "));
        }
        s.push('\n');
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Plain left-aligned columns, two spaces apart.
pub fn text_table(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut s = String::new();
    let line = |s: &mut String, cells: &[String]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let pad = widths[i] - c.chars().count();
                l.push_str(c);
                l.push_str(&" ".repeat(pad + 2));
            }
        }
        s.push_str(l.trim_end());
        s.push('\n');
    };
    line(&mut s, headers);
    for r in rows {
        line(&mut s, r);
    }
    s
}

/// Terminal styling: colour only when stdout is a terminal and NO_COLOR is unset.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
    pub quiet: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    fn severity(&self, s: Severity) -> String {
        let code = match s {
            Severity::Info => "2",
            Severity::Low => "36",
            Severity::Medium => "33",
            Severity::High | Severity::Critical => "1;31",
        };
        self.paint(code, s.as_str())
    }
}

/// Human-readable byte count (binary units).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// SARIF's level for a severity.
fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_follows_threshold() {
        let mut r = Report::new("t");
        r.fail_on = Severity::High;
        r.push(Finding::new(codes::INPUT_NOTE, Severity::Medium, "m"));
        assert_eq!(r.exit_code(), 0);
        r.push(Finding::new(codes::INPUT_ERROR, Severity::Critical, "c"));
        assert_eq!(r.exit_code(), 1);
        let json: Value = serde_json::from_str(&r.render_json()).unwrap();
        assert_eq!(json["exit_code"], 1);
        assert_eq!(json["findings"][1]["code"], "input-error");
        assert_eq!(json["findings"][1]["severity"], "critical");
    }

    #[test]
    fn renders_tables_in_every_format() {
        let mut r = Report::new("demo");
        let mut t = Table::new("Things", &["name", "size"]);
        t.row(vec!["a|b".into(), "1".into()]);
        r.tables.push(t);
        let md = r.render(Format::Markdown, Style::default());
        assert!(md.contains("| a\\|b | 1 |"), "{md}");
        let txt = r.render(Format::Table, Style::default());
        assert!(txt.contains("name  size\na|b   1\n"), "{txt}");
    }

    #[test]
    fn todo_items_are_unchecked_boxes() {
        let mut r = Report::new("demo");
        r.todo.push("Review failed builds".into());
        let md = r.render(Format::Markdown, Style::default());
        assert!(
            md.contains("### By hand\n\n- [ ] Review failed builds\n"),
            "{md}"
        );
        let txt = r.render(Format::Table, Style::default());
        assert!(txt.contains("By hand\n[ ] Review failed builds\n"), "{txt}");
        let quiet = Style {
            quiet: true,
            ..Style::default()
        };
        assert_eq!(r.render(Format::Table, quiet), "");
    }

    #[test]
    fn human_bytes_units() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
