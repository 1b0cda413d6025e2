//! `ci report --html FILE`: one self-contained page (inline CSS and SVG, no script, no
//! font or image from anywhere; a Content-Security-Policy forbids loading anything) with
//! the plots of the window: build duration over time per workflow with its p50 line,
//! success rate per day (per week past 62 days), failure rate by stage (job), the slowest
//! steps, queue time per job,
//! the four DORA metrics with their tier, and the alerts. It reflows to a phone's width
//! and follows the reader's dark mode (`prefers-color-scheme`).
//!
//! Every plotted mark has a class the browser test counts (`pt`, `bar day`, `bar fail`,
//! `bar step`, `bar queue`, `p50`) and a `<title>` that a pointer shows.

use std::fmt::Write as _;

use rustc_hash::FxHashMap;

use super::AlertRow;
use super::dora::{Dora, Tier};
use super::model::{Counted, Exports, Secs, Sym, Window, human_secs, rfc3339, utc};
use super::stats::{Stats, percent};

/// A plotted run: created, duration, success, id.
type Point = (Secs, Secs, bool, u64);

/// At most this many workflows get a duration plot (those with the most runs)...
const MAX_WORKFLOW_PLOTS: usize = 12;
/// ...each with at most this many points (the newest runs).
const MAX_POINTS: usize = 1500;

pub struct Page<'a> {
    pub title: String,
    pub generated: Secs,
    pub exports: &'a Exports,
    pub stats: &'a Stats,
    pub dora: Result<&'a Dora, String>,
    pub alerts: Result<&'a [AlertRow], String>,
}

/// What the page drew, for the report (and the browser test's expectations).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Drawn {
    /// Points per workflow plot, in page order.
    pub duration_points: Vec<(String, usize)>,
    pub success_bars: usize,
    pub step_bars: usize,
    pub stage_bars: usize,
    pub queue_bars: usize,
    pub alerts: usize,
}

pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root{color-scheme:light dark;--bg:#f5f6f8;--card:#fff;--fg:#1d2330;--muted:#5b6475;--grid:#e1e4ea;--ok:#1a7f37;--bad:#cf222e;--accent:#0969da;--p50:#8250df;--warn:#9a6700;
--elite:#1a7f37;--high:#0969da;--medium:#9a6700;--low:#cf222e}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--fg:#e6edf3;--muted:#9198a1;--grid:#30363d;--ok:#3fb950;--bad:#f85149;--accent:#4493f8;--p50:#ab7df8;--warn:#d29922;
--elite:#3fb950;--high:#4493f8;--medium:#d29922;--low:#f85149}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{padding:16px 16px 4px;max-width:1180px;margin:auto}
h1{font-size:1.35rem;margin:0 0 4px}
h2{font-size:1.05rem;margin:0 0 8px}
h3{font-size:.95rem;margin:10px 0 2px;font-weight:600}
.sub{color:var(--muted);margin:0}
main{max-width:1180px;margin:auto;padding:12px 16px 24px;display:grid;gap:14px;grid-template-columns:repeat(auto-fit,minmax(min(100%,520px),1fr))}
.card{background:var(--card);border:1px solid var(--grid);border-radius:10px;padding:14px;min-width:0}
.wide{grid-column:1/-1}
svg{width:100%;height:auto;display:block}
svg text{fill:var(--muted);font-size:12px}
.axis{stroke:var(--grid);stroke-width:1}
.pt.ok{fill:var(--ok)}.pt.bad{fill:var(--bad)}
.p50{stroke:var(--p50);stroke-width:2;stroke-dasharray:6 4}
text.p50l{fill:var(--p50);font-weight:600;paint-order:stroke;stroke:var(--card);stroke-width:4px}
.bar.day{fill:var(--ok)}.bar.day.low{fill:var(--bad)}
.bar.step{fill:var(--accent)}.bar.queue{fill:var(--warn)}.bar.fail{fill:var(--bad)}
.whisker{stroke:var(--fg);stroke-width:1.5;opacity:.6}
.note{color:var(--muted);font-size:.85rem;margin:6px 0 0}
.tiles{display:grid;gap:10px;grid-template-columns:repeat(auto-fit,minmax(min(100%,150px),1fr))}
.plots{display:grid;gap:6px 18px;grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr))}
.plots>div{min-width:0}
.tile{border:1px solid var(--grid);border-radius:8px;padding:10px}
.tile .v{font-size:1.4rem;font-weight:650}
.tier{display:inline-block;padding:1px 8px;border-radius:999px;color:#fff;font-size:.8rem;font-weight:600;text-transform:uppercase;letter-spacing:.03em}
.tier-elite{background:var(--elite)}.tier-high{background:var(--high)}.tier-medium{background:var(--medium)}.tier-low{background:var(--low)}.tier-none{background:var(--muted)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.88rem}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--grid);vertical-align:top}
th{color:var(--muted);font-weight:600;white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
ul.alerts{list-style:none;margin:0;padding:0}
ul.alerts li{padding:8px 0;border-bottom:1px solid var(--grid)}
ul.alerts code{font-size:.85rem;margin-left:6px}
ul.alerts .act{color:var(--muted);font-size:.85rem;margin-left:6px}
ul.alerts p{margin:3px 0 0}
.sev{font-weight:700;text-transform:uppercase;font-size:.78rem}
.sev-critical,.sev-high{color:var(--bad)}.sev-medium{color:var(--warn)}.sev-low,.sev-info{color:var(--muted)}
.legend span{margin-right:12px;color:var(--muted);font-size:.85rem}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:4px;vertical-align:middle}
@media (max-width:600px){body{font-size:14px}main{padding:8px}.card{padding:10px}svg text{font-size:17px}.tile .v{font-size:1.15rem}}
"#;

pub fn render(p: &Page) -> (String, Drawn) {
    let mut d = Drawn::default();
    let mut h = String::with_capacity(64 * 1024);
    let w = p.stats.window;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
<meta name=\"color-scheme\" content=\"light dark\">\
<title>{}</title><style>{CSS}</style></head><body>\
<header><h1>{}</h1><p class=\"sub\">{} — {} to {} · generated {}</p></header><main>",
        esc(&p.title),
        esc(&p.title),
        esc(&w.describe()),
        esc(&rfc3339(w.since)),
        esc(&rfc3339(w.now)),
        esc(&rfc3339(p.generated)),
    );
    overview(&mut h, p.stats);
    alerts(&mut h, &p.alerts, &mut d);
    dora(&mut h, &p.dora);
    success_rate(&mut h, p.exports, &w, &mut d);
    stage_failures(&mut h, p.stats, &mut d);
    durations(&mut h, p.exports, p.stats, &w, &mut d);
    slowest_steps(&mut h, p.stats, &mut d);
    queue(&mut h, p.stats, &mut d);
    h.push_str("</main></body></html>\n");
    (h, d)
}

fn overview(h: &mut String, s: &Stats) {
    let t = &s.totals;
    let _ = write!(
        h,
        "<section class=\"card wide\" id=\"workflows\"><h2>Workflows</h2><div class=\"tiles\">\
<div class=\"tile\"><div class=\"sub\">runs</div><div class=\"v\">{}</div></div>\
<div class=\"tile\"><div class=\"sub\">success rate</div><div class=\"v\">{}</div></div>\
<div class=\"tile\"><div class=\"sub\">duration p50 / p95</div><div class=\"v\">{} / {}</div></div>\
<div class=\"tile\"><div class=\"sub\">queue p50 / p95</div><div class=\"v\">{} / {}</div></div></div>\
<div class=\"scroll\"><table><thead><tr><th>workflow</th><th>runs</th><th>success</th><th>p50</th><th>p95</th><th>p50 vs before</th><th>re-runs</th></tr></thead><tbody>",
        t.runs,
        t.success_rate.map_or("–".into(), percent),
        opt_secs(t.duration_p50_secs),
        opt_secs(t.duration_p95_secs),
        opt_secs(s.queue_p50_secs),
        opt_secs(s.queue_p95_secs),
    );
    for w in &s.workflows {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&w.name),
            w.current.runs,
            w.current.success_rate.map_or("–".into(), percent),
            opt_secs(w.current.duration_p50_secs),
            opt_secs(w.current.duration_p95_secs),
            w.change
                .duration_p50_percent
                .map_or("–".into(), |p| format!("{p:+.0}%")),
            w.current.reruns
        );
    }
    h.push_str("</tbody></table></div></section>");
}

fn opt_secs(v: Option<f64>) -> String {
    v.map_or("–".into(), human_secs)
}

fn alerts(h: &mut String, rows: &Result<&[AlertRow], String>, d: &mut Drawn) {
    h.push_str("<section class=\"card wide\" id=\"alerts\"><h2>Alerts</h2>");
    match rows {
        Err(e) => {
            let _ = write!(
                h,
                "<p class=\"note\">The alert rules could not be evaluated: {}</p>",
                esc(e)
            );
        }
        Ok([]) => h.push_str("<p class=\"note\">No rule breached.</p>"),
        Ok(rows) => {
            h.push_str("<ul class=\"alerts\">");
            for r in *rows {
                d.alerts += 1;
                let sev = r.severity.as_str();
                let _ = write!(
                    h,
                    "<li class=\"alert\"><span class=\"sev sev-{sev}\">{sev}</span><code>{}</code><span class=\"act\">{}</span><p>{}</p></li>",
                    esc(r.code.id()),
                    esc(r.action),
                    esc(&r.message)
                );
            }
            h.push_str("</ul>");
        }
    }
    h.push_str("</section>");
}

fn tier_badge(t: Option<Tier>) -> String {
    match t {
        Some(t) => format!("<span class=\"tier tier-{0}\">{0}</span>", t.as_str()),
        None => "<span class=\"tier tier-none\">no data</span>".into(),
    }
}

fn dora(h: &mut String, dora: &Result<&Dora, String>) {
    h.push_str("<section class=\"card wide\" id=\"dora\"><h2>Delivery (DORA)</h2>");
    let d = match dora {
        Ok(d) => d,
        Err(e) => {
            let _ = write!(h, "<p class=\"note\">{}</p></section>", esc(e));
            return;
        }
    };
    let hours = |v: Option<f64>| v.map_or("–".into(), super::present::hours);
    let tiles = [
        (
            "Deployment frequency",
            format!("{:.2}/week", d.deployment_frequency_per_week),
            Some(d.deployment_frequency_tier),
            format!("{} deployment(s)", d.deployments),
        ),
        (
            "Lead time for changes (p50)",
            hours(d.lead_time_p50_hours),
            d.lead_time_tier,
            format!("{} commit(s)", d.lead_time_commits),
        ),
        (
            "Change failure rate",
            d.change_failure_rate.map_or("–".into(), percent),
            d.change_failure_tier,
            format!("{} of {}", d.change_failures, d.deployments),
        ),
        (
            "Time to restore (p50)",
            hours(d.time_to_restore_p50_hours),
            d.time_to_restore_tier,
            format!("{} restore(s)", d.restores),
        ),
    ];
    h.push_str("<div class=\"tiles\">");
    for (name, value, tier, detail) in tiles {
        let _ = write!(
            h,
            "<div class=\"tile dora\"><div class=\"sub\">{}</div><div class=\"v\">{}</div>{} <span class=\"sub\">{}</span></div>",
            esc(name),
            esc(&value),
            tier_badge(tier),
            esc(&detail)
        );
    }
    let _ = write!(
        h,
        "</div><p class=\"note\">{} · {} · tiers of the 2023 State of DevOps report</p></section>",
        esc(&d.environment),
        esc(&d.window.describe())
    );
}

/// Chart geometry: a viewBox of `W × H` with margins for the axes.
const W: f64 = 560.0;
const H: f64 = 220.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 26.0;

fn svg_open(h: &mut String, label: &str, height: f64) {
    let _ = write!(
        h,
        "<svg viewBox=\"0 0 {W} {height}\" role=\"img\" aria-label=\"{}\" preserveAspectRatio=\"xMidYMid meet\">",
        esc(label)
    );
}

/// 1, 2, 5 × 10^k at or above `v`.
fn nice(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

/// The time axis of a window: dates at midnight UTC (every N days, at most 7 labels), or
/// hours for a window of two days or less.
fn time_axis(h: &mut String, w: &Window, x: impl Fn(Secs) -> f64) {
    let _ = write!(
        h,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\"/>",
        H - BOTTOM,
        W - RIGHT
    );
    let (unit, fmt) = if w.len() <= 2 * 86_400 {
        (3600, "%H:%M")
    } else {
        (86_400, "%b %d")
    };
    let units = (w.len() / unit).max(1);
    let every = [1, 2, 3, 4, 6, 7, 12, 14, 24, 28, 30, 60, 90]
        .into_iter()
        .find(|n| units / n <= 6)
        .unwrap_or(units / 6 + 1);
    let mut t = (w.since.div_euclid(unit) + 1) * unit;
    while t < w.now {
        if (t / unit) % every == 0 {
            let _ = write!(
                h,
                "<line class=\"axis\" x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1}\" y2=\"{2}\"/><text x=\"{0:.1}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>",
                x(t),
                H - BOTTOM,
                H - BOTTOM + 4.0,
                H - 8.0,
                utc(t).format(fmt)
            );
        }
        t += unit;
    }
}

/// Horizontal grid lines with labels, for a y range `0..=max`.
fn y_axis(h: &mut String, max: f64, label: impl Fn(f64) -> String) {
    for k in 0..=4 {
        let v = max * k as f64 / 4.0;
        let y = TOP + (H - TOP - BOTTOM) * (1.0 - k as f64 / 4.0);
        let _ = write!(
            h,
            "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            label(v)
        );
    }
}

fn durations(h: &mut String, x: &Exports, s: &Stats, w: &Window, d: &mut Drawn) {
    let mut by_wf: FxHashMap<Sym, Vec<Point>> = FxHashMap::default();
    for r in &x.runs {
        if !w.contains(r.created) {
            continue;
        }
        let (Some(c), Some(dur)) = (r.counted(), r.duration()) else {
            continue;
        };
        if c == Counted::Excluded {
            continue;
        }
        by_wf
            .entry(r.workflow)
            .or_default()
            .push((r.created, dur, c == Counted::Success, r.id));
    }
    let mut wfs: Vec<(Sym, Vec<Point>)> = by_wf.into_iter().collect();
    wfs.sort_by(|a, b| {
        b.1.len()
            .cmp(&a.1.len())
            .then_with(|| x.names.name(a.0).cmp(x.names.name(b.0)))
    });
    h.push_str("<section class=\"card wide\" id=\"durations\"><h2>Build duration over time</h2>\
<p class=\"legend\"><span><i class=\"dot\" style=\"background:var(--ok)\"></i>success</span><span><i class=\"dot\" style=\"background:var(--bad)\"></i>failed</span><span>– – p50 of the window</span></p>");
    if wfs.is_empty() {
        h.push_str("<p class=\"note\">No completed run in the window.</p>");
    }
    let hidden = wfs.len().saturating_sub(MAX_WORKFLOW_PLOTS);
    h.push_str("<div class=\"plots\">");
    for (sym, mut pts) in wfs.into_iter().take(MAX_WORKFLOW_PLOTS) {
        let name = x.names.name(sym);
        let p50 = s
            .workflows
            .iter()
            .find(|ws| ws.name == name)
            .and_then(|ws| ws.current.duration_p50_secs);
        pts.sort_by_key(|p| p.0);
        let cut = pts.len().saturating_sub(MAX_POINTS);
        let shown = &pts[cut..];
        d.duration_points.push((name.to_string(), shown.len()));
        let _ = write!(h, "<div><h3>{}</h3>", esc(name));
        duration_plot(h, name, shown, p50, w);
        if cut > 0 {
            let _ = write!(
                h,
                "<p class=\"note\">The newest {MAX_POINTS} of {} runs are shown.</p>",
                pts.len()
            );
        }
        h.push_str("</div>");
    }
    h.push_str("</div>");
    if hidden > 0 {
        let _ = write!(
            h,
            "<p class=\"note\">{hidden} workflow(s) with fewer runs are not plotted (see the table).</p>"
        );
    }
    h.push_str("</section>");
}

fn duration_plot(h: &mut String, name: &str, pts: &[Point], p50: Option<f64>, w: &Window) {
    let top = pts
        .iter()
        .map(|p| p.1 as f64)
        .fold(p50.unwrap_or(0.0), f64::max);
    let minutes = top >= 120.0;
    let unit = if minutes { 60.0 } else { 1.0 };
    let max = nice(top / unit * 1.05 / 4.0) * 4.0 * unit;
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |t: Secs| LEFT + (t - w.since) as f64 / w.len() as f64 * pw;
    let y = |v: f64| TOP + ph * (1.0 - v / max);
    svg_open(h, &format!("duration of {name} runs over time"), H);
    y_axis(h, max, |v| {
        if minutes {
            format!("{:.0}m", v / 60.0)
        } else {
            format!("{v:.0}s")
        }
    });
    time_axis(h, w, x);
    for (t, dur, ok, id) in pts {
        let _ = write!(
            h,
            "<circle class=\"pt {}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"><title>run {id} · {} · {} · {}</title></circle>",
            if *ok { "ok" } else { "bad" },
            x(*t),
            y(*dur as f64),
            utc(*t).format("%Y-%m-%d %H:%M"),
            human_secs(*dur as f64),
            if *ok { "success" } else { "failed" }
        );
    }
    if let Some(m) = p50 {
        let (ym, label) = (y(m), human_secs(m));
        let _ = write!(
            h,
            "<line class=\"p50\" x1=\"{LEFT}\" x2=\"{x2}\" y1=\"{ym:.1}\" y2=\"{ym:.1}\"><title>p50 {label}</title></line><text class=\"p50l\" x=\"{x2}\" y=\"{ty:.1}\" text-anchor=\"end\">p50 {label}</text>",
            x2 = W - RIGHT,
            ty = (ym - 5.0).max(TOP + 10.0)
        );
    }
    h.push_str("</svg>");
}

/// Success rate per day (per week when the window is longer than 62 days), all workflows.
fn success_rate(h: &mut String, x: &Exports, w: &Window, d: &mut Drawn) {
    let bucket = if w.len() > 62 * 86_400 {
        604_800
    } else {
        86_400
    };
    let unit = if bucket == 86_400 { "day" } else { "week" };
    // Days are UTC days; weeks count from the window's start.
    let key = |t: Secs| {
        if bucket == 86_400 {
            t.div_euclid(86_400)
        } else {
            (t - w.since).div_euclid(bucket)
        }
    };
    let first = key(w.since);
    let last = key(w.now - 1);
    let slots = (last - first + 1).max(1) as usize;
    let mut counts = vec![(0u64, 0u64); slots];
    for r in &x.runs {
        if !w.contains(r.created) {
            continue;
        }
        match r.counted() {
            Some(Counted::Success) => counts[(key(r.created) - first) as usize].0 += 1,
            Some(Counted::Failed) => counts[(key(r.created) - first) as usize].1 += 1,
            _ => {}
        }
    }
    let _ = write!(
        h,
        "<section class=\"card\" id=\"success\"><h2>Success rate per {unit}</h2>"
    );
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let slot_w = pw / slots as f64;
    svg_open(h, &format!("success rate per {unit}"), H);
    y_axis(h, 1.0, |v| format!("{:.0}%", v * 100.0));
    for (i, (ok, bad)) in counts.iter().enumerate() {
        let n = ok + bad;
        let start = if bucket == 86_400 {
            (first + i as i64) * 86_400
        } else {
            w.since + (first + i as i64) * bucket
        };
        if i == 0 || i + 1 == slots || slots <= 10 || i % (slots / 6).max(1) == 0 {
            let _ = write!(
                h,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                LEFT + slot_w * (i as f64 + 0.5),
                H - 8.0,
                utc(start).format("%b %d")
            );
        }
        if n == 0 {
            continue;
        }
        let rate = *ok as f64 / n as f64;
        let bh = (ph * rate).max(1.0);
        d.success_bars += 1;
        let _ = write!(
            h,
            "<rect class=\"bar day{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"2\"><title>{} {}: {ok} of {n} succeeded ({})</title></rect>",
            if rate < 0.9 { " low" } else { "" },
            LEFT + slot_w * i as f64 + slot_w * 0.15,
            TOP + ph - bh,
            slot_w * 0.7,
            bh,
            unit,
            utc(start).format("%Y-%m-%d"),
            percent(rate)
        );
    }
    h.push_str("</svg>");
    if d.success_bars == 0 {
        h.push_str("<p class=\"note\">No completed run in the window.</p>");
    }
    h.push_str(
        "<p class=\"note\">Cancelled and skipped runs are left out; red: below 90%.</p></section>",
    );
}

/// A horizontal bar: label, value, whisker end (p95), tooltip.
type HBar = (String, f64, Option<f64>, String);

/// Horizontal bars. Durations (`rate` false) scale to a round number of seconds or
/// minutes; rates to 100%.
fn hbars(h: &mut String, class: &str, label: &str, rows: &[HBar], rate: bool) {
    let row_h = 26.0;
    let label_w = 210.0;
    let height = TOP + row_h * rows.len() as f64 + 8.0;
    let top = rows
        .iter()
        .map(|r| r.2.unwrap_or(r.1).max(r.1))
        .fold(0.0, f64::max);
    let max = if rate {
        1.0
    } else if top >= 120.0 {
        nice(top / 60.0) * 60.0
    } else {
        nice(top)
    };
    let show = |v: f64| if rate { percent(v) } else { human_secs(v) };
    let pw = W - label_w - RIGHT - 60.0;
    svg_open(h, label, height);
    for (i, (name, v, p95, tip)) in rows.iter().enumerate() {
        let y = TOP + row_h * i as f64;
        let shown: String = if name.chars().count() > 24 {
            format!("{}…", name.chars().take(23).collect::<String>())
        } else {
            name.clone()
        };
        let bw = (pw * v / max).max(1.0);
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><rect class=\"bar {class}\" x=\"{label_w}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" rx=\"2\"><title>{}</title></rect>",
            label_w - 6.0,
            y + row_h * 0.62,
            esc(&shown),
            y + 4.0,
            row_h - 8.0,
            esc(tip)
        );
        if let Some(p) = p95 {
            let px = label_w + pw * p / max;
            let (x1, ym, y1, y2) = (label_w + bw, y + row_h / 2.0, y + 7.0, y + row_h - 7.0);
            let _ = write!(
                h,
                "<line class=\"whisker\" x1=\"{x1:.1}\" x2=\"{px:.1}\" y1=\"{ym:.1}\" y2=\"{ym:.1}\"/><line class=\"whisker\" x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{y1:.1}\" y2=\"{y2:.1}\"/>"
            );
        }
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            label_w + bw.max(p95.map_or(0.0, |p| pw * p / max)) + 6.0,
            y + row_h * 0.62,
            show(*v)
        );
    }
    h.push_str("</svg>");
}

/// The runbook's "failure rate by stage": each job's failed share, worst first.
fn stage_failures(h: &mut String, s: &Stats, d: &mut Drawn) {
    h.push_str("<section class=\"card\" id=\"stages\"><h2>Failure rate by stage (jobs)</h2>");
    let mut rows: Vec<HBar> = s
        .jobs
        .iter()
        .filter_map(|j| {
            let r = j.failure_rate?;
            Some((
                format!("{} › {}", j.workflow, j.name),
                r,
                None,
                format!(
                    "{} › {}: {} of {} run(s) failed",
                    j.workflow, j.name, j.failed, j.runs
                ),
            ))
        })
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(12);
    if rows.is_empty() {
        h.push_str("<p class=\"note\">No job results: export jobs (`--jobs`, or `ci fetch`) to see them.</p>");
    } else {
        d.stage_bars = rows.len();
        hbars(h, "fail", "failure rate by stage", &rows, true);
    }
    h.push_str("</section>");
}

fn slowest_steps(h: &mut String, s: &Stats, d: &mut Drawn) {
    h.push_str("<section class=\"card\" id=\"steps\"><h2>Slowest steps (p50, whisker to p95)</h2>");
    let rows: Vec<HBar> = s
        .slowest
        .iter()
        .filter_map(|st| {
            let p50 = st.duration_p50_secs?;
            Some((
                format!("{} › {}", st.job, st.name),
                p50,
                st.duration_p95_secs,
                format!(
                    "{} › {} › {}: p50 {}, p95 {}, {} run(s)",
                    st.workflow,
                    st.job,
                    st.name,
                    human_secs(p50),
                    opt_secs(st.duration_p95_secs),
                    st.runs
                ),
            ))
        })
        .collect();
    if rows.is_empty() {
        h.push_str("<p class=\"note\">No step timings: export jobs (`--jobs`, or `ci fetch`) to see them.</p>");
    } else {
        d.step_bars = rows.len();
        hbars(h, "step", "slowest steps", &rows, false);
    }
    h.push_str("</section>");
}

fn queue(h: &mut String, s: &Stats, d: &mut Drawn) {
    h.push_str(
        "<section class=\"card\" id=\"queue\"><h2>Queue time per job (p50, whisker to p95)</h2>",
    );
    let mut rows: Vec<HBar> = s
        .jobs
        .iter()
        .filter_map(|j| {
            let q = j.queue_p50_secs?;
            Some((
                format!("{} › {}", j.workflow, j.name),
                q,
                j.queue_p95_secs,
                format!(
                    "{} › {}: waited p50 {}, p95 {} for a runner",
                    j.workflow,
                    j.name,
                    human_secs(q),
                    opt_secs(j.queue_p95_secs)
                ),
            ))
        })
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    rows.truncate(12);
    if rows.is_empty() {
        h.push_str("<p class=\"note\">No queue times: they need the jobs' created_at, which REST exports (`ci fetch`) have and `gh run view` output has not.</p>");
    } else {
        d.queue_bars = rows.len();
        hbars(h, "queue", "queue time per job", &rows, false);
    }
    h.push_str("</section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_axes_are_round() {
        assert_eq!(
            esc("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(nice(7.3), 10.0);
        assert_eq!(nice(130.0), 200.0);
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(50.0), 50.0);
    }
}
