//! The exposition: typed metric families and their two text formats, the Prometheus text
//! format 0.0.4 and OpenMetrics 1.0.
//!
//! A metric is declared once ([`Def`], in `catalog`) with its name, type, help and label
//! names; collectors only add samples (label values and a value). Names carry their base
//! unit (`_seconds`, `_bytes`, `_timestamp_seconds`); OpenMetrics gets the `# UNIT` from it.

use std::fmt::Write as _;

/// A metric's type. A counter's name ends in `_total`, an info's in `_info` (as the
/// Prometheus text format spells the sample): OpenMetrics names the family without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Gauge,
    Counter,
    /// A constant 1 whose labels are the information (a version).
    Info,
}

/// A metric the toolkit exposes.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    pub name: &'static str,
    pub kind: Type,
    /// One line, without backslash, quote or line break.
    pub help: &'static str,
    /// Every sample has exactly these labels, in this order: the label set is bounded by
    /// design (no label holds a value that grows with use, or a secret).
    pub labels: &'static [&'static str],
}

/// One metric with its samples.
#[derive(Debug, Clone)]
pub struct Family {
    pub def: &'static Def,
    /// Label values (in the order of `def.labels`) and the value.
    pub samples: Vec<(Vec<String>, f64)>,
}

impl Family {
    pub fn new(def: &'static Def) -> Family {
        Family {
            def,
            samples: Vec::new(),
        }
    }

    /// Add a sample; `labels` are the values of `def.labels`, in order.
    pub fn push(&mut self, labels: &[&str], value: f64) {
        debug_assert_eq!(labels.len(), self.def.labels.len(), "{}", self.def.name);
        self.samples
            .push((labels.iter().map(|l| l.to_string()).collect(), value));
    }

    /// The same, built with one sample without labels.
    pub fn single(def: &'static Def, value: f64) -> Family {
        let mut f = Family::new(def);
        f.push(&[], value);
        f
    }
}

/// Which text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4 (node_exporter's textfile collector, the Pushgateway).
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The family name OpenMetrics uses: a counter's without `_total`, an info's without `_info`.
fn om_family(def: &Def) -> &'static str {
    let suffix = match def.kind {
        Type::Gauge => return def.name,
        Type::Counter => "_total",
        Type::Info => "_info",
    };
    def.name.strip_suffix(suffix).unwrap_or(def.name)
}

/// The base unit a name ends with, for OpenMetrics' `# UNIT`.
fn unit(family: &str) -> Option<&'static str> {
    ["seconds", "bytes", "ratio"]
        .into_iter()
        .find(|u| family.ends_with(&format!("_{u}")))
}

/// Render the families (those without samples are left out) in `format`.
pub fn render<'a>(families: impl IntoIterator<Item = &'a Family>, format: Format) -> String {
    let mut out = String::new();
    for f in families {
        if f.samples.is_empty() {
            continue;
        }
        let def = f.def;
        match format {
            Format::Text => {
                let kind = match def.kind {
                    Type::Counter => "counter",
                    Type::Gauge | Type::Info => "gauge",
                };
                let _ = writeln!(out, "# HELP {} {}", def.name, escape_help(def.help, false));
                let _ = writeln!(out, "# TYPE {} {kind}", def.name);
            }
            Format::OpenMetrics => {
                let family = om_family(def);
                let kind = match def.kind {
                    Type::Counter => "counter",
                    Type::Gauge => "gauge",
                    Type::Info => "info",
                };
                let _ = writeln!(out, "# TYPE {family} {kind}");
                if let Some(u) = unit(family) {
                    let _ = writeln!(out, "# UNIT {family} {u}");
                }
                let _ = writeln!(out, "# HELP {family} {}", escape_help(def.help, true));
            }
        }
        for (values, value) in &f.samples {
            out.push_str(def.name);
            if !values.is_empty() {
                out.push('{');
                for (i, (name, v)) in def.labels.iter().zip(values).enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{name}=\"{}\"", escape_label(v));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", number(*value));
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// A sample value as both formats spell it.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        // Rust's shortest round-trip form: `3`, `0.25`, `1767225600`.
        v.to_string()
    }
}

/// A label value: backslash, double quote and line feed escaped (both formats).
pub fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// A help text: backslash and line feed escaped; OpenMetrics escapes the double quote too.
fn escape_help(v: &str, quote: bool) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '"' if quote => s.push_str("\\\""),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    static G: Def = Def {
        name: "t_backup_size_bytes",
        kind: Type::Gauge,
        help: "Size of the newest backup",
        labels: &["kind"],
    };
    static C: Def = Def {
        name: "t_deploys_total",
        kind: Type::Counter,
        help: "Deploys",
        labels: &["env", "outcome"],
    };
    static I: Def = Def {
        name: "t_deploy_info",
        kind: Type::Info,
        help: "Version",
        labels: &["version"],
    };
    static EMPTY: Def = Def {
        name: "t_nothing",
        kind: Type::Gauge,
        help: "No samples",
        labels: &[],
    };

    fn families() -> Vec<Family> {
        let mut g = Family::new(&G);
        g.push(&["db"], 1024.0);
        g.push(&["a\"b\\c\nd"], 0.25);
        let mut c = Family::new(&C);
        c.push(&["prod", "failed"], 2.0);
        let mut i = Family::new(&I);
        i.push(&["v1.2"], 1.0);
        vec![g, c, i, Family::new(&EMPTY)]
    }

    #[test]
    fn the_prometheus_text_format() {
        assert_eq!(
            render(&families(), Format::Text),
            "# HELP t_backup_size_bytes Size of the newest backup\n\
             # TYPE t_backup_size_bytes gauge\n\
             t_backup_size_bytes{kind=\"db\"} 1024\n\
             t_backup_size_bytes{kind=\"a\\\"b\\\\c\\nd\"} 0.25\n\
             # HELP t_deploys_total Deploys\n\
             # TYPE t_deploys_total counter\n\
             t_deploys_total{env=\"prod\",outcome=\"failed\"} 2\n\
             # HELP t_deploy_info Version\n\
             # TYPE t_deploy_info gauge\n\
             t_deploy_info{version=\"v1.2\"} 1\n"
        );
    }

    #[test]
    fn openmetrics_names_families_without_suffixes_and_ends_with_eof() {
        let text = render(&families(), Format::OpenMetrics);
        assert_eq!(
            text,
            "# TYPE t_backup_size_bytes gauge\n\
             # UNIT t_backup_size_bytes bytes\n\
             # HELP t_backup_size_bytes Size of the newest backup\n\
             t_backup_size_bytes{kind=\"db\"} 1024\n\
             t_backup_size_bytes{kind=\"a\\\"b\\\\c\\nd\"} 0.25\n\
             # TYPE t_deploys counter\n\
             # HELP t_deploys Deploys\n\
             t_deploys_total{env=\"prod\",outcome=\"failed\"} 2\n\
             # TYPE t_deploy info\n\
             # HELP t_deploy Version\n\
             t_deploy_info{version=\"v1.2\"} 1\n\
             # EOF\n"
        );
        assert!(!text.contains("\n\n"), "OpenMetrics allows no empty line");
    }

    #[test]
    fn values_in_both_formats() {
        assert_eq!(number(1767225600.0), "1767225600");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(-3.5), "-3.5");
        assert_eq!(escape_help("a\\b\n\"c\"", true), "a\\\\b\\n\\\"c\\\"");
        assert_eq!(escape_help("a\"", false), "a\"");
    }
}
