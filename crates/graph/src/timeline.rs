//! A run of provision or destroy as a Gantt chart: one row per object, a bar from the
//! moment its work started to the moment it finished (ready, or gone), a mark where it was
//! *created* (its id known) when that came before the end, failed and skipped work drawn
//! apart, a time axis, and the run's critical path highlighted.
//!
//! The critical path is the chain of tasks that decided how long the run took: from the
//! task that finished last, back through the dependency whose stage (created or ready, as
//! the dependent needed it) came last before each task started, until a task that waited
//! for nothing. Shortening anything off that chain would not have shortened the run.
//!
//! The input is a plain [`Timeline`] (names, kinds, offsets in seconds, outcomes,
//! dependencies as row indices): this module knows nothing of the engine or of clocks.

use std::fmt::Write as _;

use strato_spec::Stage;

use crate::svg::{esc, fit, FONT};
use crate::Kind;

/// What a run did, row by row.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    /// `provision wso2-network`.
    pub title: String,
    /// Seconds from the start of the run to its end.
    pub elapsed: f64,
    /// What the mark between start and end stands for: `created` (a provision: the id is
    /// known), `delete accepted` (a destroy: what is left is waiting until it is gone).
    pub mark: String,
    pub rows: Vec<Row>,
}

/// One task of the run.
#[derive(Clone, Debug)]
pub struct Row {
    /// The object's address (`subnet.app-a`), or the task's name.
    pub name: String,
    /// Its kind, for the colour; `None` draws it grey.
    pub kind: Option<Kind>,
    /// Seconds from the start of the run until the task started.
    pub start: Option<f64>,
    /// Until the object was created (its id known).
    pub created: Option<f64>,
    /// Until the task finished (or failed, or was skipped).
    pub end: Option<f64>,
    pub outcome: RowOutcome,
    /// What the task waited for.
    pub deps: Vec<Dep>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowOutcome {
    Done,
    Failed(String),
    /// A dependency failed: the root failure's row.
    Skipped {
        because: usize,
    },
    /// The run stopped before the task started.
    NotStarted,
    /// Started, but the run stopped before it finished.
    Unfinished,
}

/// A dependency of a row: the row it waited for, and until which stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dep {
    pub row: usize,
    pub needs: Stage,
}

impl Row {
    /// When the row let a dependent that needs `stage` start.
    fn gate(&self, stage: Stage) -> Option<f64> {
        match stage {
            Stage::Created => self.created.or(self.end),
            Stage::Ready => self.end,
        }
    }

    fn ran(&self) -> bool {
        matches!(self.outcome, RowOutcome::Done | RowOutcome::Failed(_) | RowOutcome::Unfinished)
    }
}

/// Seconds within which two instants count as one (the engine starts a dependent in the
/// same turn as its dependency's event).
const SAME: f64 = 1e-3;

/// The rows of the chain that decided the run's length, first to last: from the task that
/// finished last, back through the dependency whose gate (created or ready, as needed) came
/// last, up to the moment each task started.
pub fn critical_path(rows: &[Row]) -> Vec<usize> {
    let last = rows.iter().enumerate().filter(|(_, r)| r.ran()).filter_map(|(i, r)| Some((i, r.end?))).fold(
        None,
        |best: Option<(usize, f64)>, (i, end)| match best {
            Some((_, e)) if e >= end => best,
            _ => Some((i, end)),
        },
    );
    let mut path = Vec::new();
    let mut seen = vec![false; rows.len()];
    let mut cursor = last.map(|(i, _)| i);
    while let Some(i) = cursor {
        if seen[i] {
            break;
        }
        seen[i] = true;
        path.push(i);
        let Some(start) = rows[i].start else { break };
        cursor = rows[i]
            .deps
            .iter()
            .filter(|d| d.row < rows.len())
            .filter_map(|d| Some((d.row, rows[d.row].gate(d.needs)?)))
            .filter(|(_, gate)| *gate <= start + SAME)
            .fold(None, |best: Option<(usize, f64)>, (row, gate)| match best {
                Some((_, g)) if g >= gate => best,
                _ => Some((row, gate)),
            })
            .map(|(row, _)| row);
    }
    path.reverse();
    path
}

const INK: &str = "#0f172a";
const MUTED: &str = "#64748b";
/// The critical path's colour: nothing else in the chart uses it.
pub const CRITICAL: &str = "#dc2626";
const FAILED: &str = "#7f1d1d";
const SKIPPED: &str = "#94a3b8";
const NO_KIND: &str = "#e2e8f0";

const MARGIN: f64 = 24.0;
const LABEL_W: f64 = 330.0;
const CHART_W: f64 = 900.0;
const ROW_H: f64 = 20.0;
const BAR_H: f64 = 13.0;
const HEADER_H: f64 = 118.0;
const AXIS_H: f64 = 26.0;
/// Pixels between a created mark and the end of its bar, at least, for the mark to be drawn.
const MARK_GAP: f64 = 4.0;

fn mark_name(t: &Timeline) -> &str {
    if t.mark.is_empty() {
        "created"
    } else {
        &t.mark
    }
}

/// A step for the axis' ticks: 1, 2 or 5 times a power of ten, about eight ticks in all.
fn tick_step(span: f64) -> f64 {
    let raw = (span / 8.0).max(1e-3);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|s| *s >= raw).unwrap_or(10.0 * power)
}

/// `0.25s`, `40s`, `2m 30s`, with as many decimals as the step needs.
fn time_label(t: f64, step: f64) -> String {
    if step >= 60.0 || t >= 120.0 && step >= 1.0 {
        let whole = t.round() as u64;
        return format!("{}m {:02}s", whole / 60, whole % 60);
    }
    let decimals = if step >= 1.0 { 0 } else { (-step.log10().floor()) as usize };
    format!("{t:.decimals$}s")
}

/// Seconds, for tooltips and the heading: `0.412 s`, `12.3 s`, `3m 05s`.
fn duration(t: f64) -> String {
    if t >= 120.0 {
        let whole = t.round() as u64;
        format!("{}m {:02}s", whole / 60, whole % 60)
    } else if t >= 10.0 {
        format!("{t:.1} s")
    } else {
        format!("{t:.3} s")
    }
}

/// The order rows are drawn in: by start, then as the run listed them; what never started
/// last.
fn draw_order(rows: &[Row]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |i: usize| rows[i].start.unwrap_or(f64::INFINITY);
        key(a).total_cmp(&key(b)).then(a.cmp(&b))
    });
    order
}

/// The chart as a standalone SVG document.
pub fn to_svg(t: &Timeline) -> String {
    let rows = &t.rows;
    let span = rows.iter().filter_map(|r| r.end.or(r.start)).fold(t.elapsed, f64::max).max(1e-3);
    let step = tick_step(span);
    let axis_end = (span / step).ceil() * step;
    let scale = CHART_W / axis_end;
    let x0 = MARGIN + LABEL_W;
    let y0 = MARGIN + HEADER_H + AXIS_H;
    let width = (x0 + CHART_W + 150.0).round();
    let height = (y0 + ROW_H * rows.len().max(1) as f64 + MARGIN).round();
    let critical = critical_path(rows);
    let on_path = {
        let mut v = vec![false; rows.len()];
        for &i in &critical {
            v[i] = true;
        }
        v
    };
    let order = draw_order(rows);
    let mut line_of = vec![0usize; rows.len()];
    for (line, &i) in order.iter().enumerate() {
        line_of[i] = line;
    }
    let x = |s: f64| x0 + s * scale;
    let row_y = |i: usize| y0 + line_of[i] as f64 * ROW_H;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}">"#
    );
    let _ = writeln!(out, "<title>{}</title>", esc(&format!("strato {}", t.title)));
    let _ = writeln!(
        out,
        r##"<defs><pattern id="failed" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fee2e2"/><line x1="0" y1="0" x2="0" y2="6" stroke="{FAILED}" stroke-width="3"/></pattern></defs>"##
    );
    let _ = writeln!(out, r##"<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>"##);

    // Heading.
    let count = |f: fn(&RowOutcome) -> bool| rows.iter().filter(|r| f(&r.outcome)).count();
    let done = count(|o| *o == RowOutcome::Done);
    let failed = count(|o| matches!(o, RowOutcome::Failed(_)));
    let skipped = count(|o| matches!(o, RowOutcome::Skipped { .. }));
    let not_started = count(|o| *o == RowOutcome::NotStarted);
    let unfinished = count(|o| *o == RowOutcome::Unfinished);
    let _ = writeln!(
        out,
        r#"<text x="{MARGIN}" y="{}" font-size="20" font-weight="bold" fill="{INK}">{}</text>"#,
        MARGIN + 20.0,
        esc(&format!("strato {}", t.title))
    );
    let mut summary = format!("{} tasks in {}: {done} done", rows.len(), duration(t.elapsed));
    for (n, what) in
        [(failed, "failed"), (skipped, "skipped"), (unfinished, "unfinished"), (not_started, "not started")]
    {
        if n > 0 {
            let _ = write!(summary, ", {n} {what}");
        }
    }
    let _ = writeln!(
        out,
        r#"<text x="{MARGIN}" y="{}" font-size="13" fill="{MUTED}">{}</text>"#,
        MARGIN + 42.0,
        esc(&summary)
    );
    let path_names: Vec<&str> = critical.iter().map(|&i| rows[i].name.as_str()).collect();
    let path_text = format!("critical path ({} tasks): {}", critical.len(), path_names.join(" → "));
    let _ = writeln!(
        out,
        r#"<text x="{MARGIN}" y="{}" font-size="13" fill="{CRITICAL}">{}</text>"#,
        MARGIN + 62.0,
        esc(&fit(&path_text, width - 2.0 * MARGIN, 13.0))
    );
    legend(&mut out, MARGIN, MARGIN + 80.0, rows, mark_name(t));

    // Axis and grid.
    let axis_y = y0 - 8.0;
    let _ = writeln!(
        out,
        r##"<line x1="{x0}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="#334155" stroke-width="1"/>"##,
        x(axis_end)
    );
    let ticks = (axis_end / step).round() as usize;
    for k in 0..=ticks {
        let s = k as f64 * step;
        let tx = x(s);
        let _ = writeln!(
            out,
            r##"<line class="tick" x1="{tx:.1}" y1="{}" x2="{tx:.1}" y2="{:.1}" stroke="#e2e8f0" stroke-width="1"/><text x="{tx:.1}" y="{}" font-size="11" fill="{MUTED}" text-anchor="middle">{}</text>"##,
            axis_y,
            height - MARGIN,
            axis_y - 6.0,
            time_label(s, step)
        );
    }

    // Rows: a stripe, the name, the bar.
    for &i in &order {
        let r = &rows[i];
        let y = row_y(i);
        if line_of[i] % 2 == 1 {
            let _ = writeln!(
                out,
                r##"<rect x="{MARGIN}" y="{y}" width="{}" height="{ROW_H}" fill="#f8fafc"/>"##,
                width - 2.0 * MARGIN
            );
        }
        let (weight, colour) = if on_path[i] { ("bold", CRITICAL) } else { ("normal", INK) };
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" font-size="12" font-weight="{weight}" fill="{colour}">{}</text>"#,
            MARGIN,
            y + 14.5,
            esc(&fit(&r.name, LABEL_W - 12.0, 12.0))
        );
        bar(&mut out, t, i, y, &x, on_path[i]);
    }

    // The critical path's hand-overs: from the stage a task waited for to its start.
    for pair in critical.windows(2) {
        let (dep, next) = (pair[0], pair[1]);
        let needs = rows[next].deps.iter().find(|d| d.row == dep).map_or(Stage::Ready, |d| d.needs);
        let (Some(gate), Some(start)) = (rows[dep].gate(needs), rows[next].start) else { continue };
        let (ya, yb) = (row_y(dep) + ROW_H / 2.0, row_y(next) + ROW_H / 2.0);
        let _ = writeln!(
            out,
            r#"<path class="critical-link" d="M{:.1},{ya:.1} L{:.1},{yb:.1} L{:.1},{yb:.1}" fill="none" stroke="{CRITICAL}" stroke-width="1.5" stroke-dasharray="3 2"/>"#,
            x(gate),
            x(gate),
            x(start)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// One row's bar, with its tooltip.
fn bar(out: &mut String, t: &Timeline, i: usize, y: f64, x: &dyn Fn(f64) -> f64, critical: bool) {
    let r = &t.rows[i];
    let fill = r.kind.map_or(NO_KIND, |k| k.info().colour);
    let kind = r.kind.map_or("task", |k| k.as_str());
    let by = y + (ROW_H - BAR_H) / 2.0;
    let mut tip = format!("{} ({kind})", r.name);
    let status = match &r.outcome {
        RowOutcome::Done => "done".to_string(),
        RowOutcome::Failed(e) => format!("failed: {e}"),
        RowOutcome::Skipped { because } => {
            format!("skipped: {} failed", t.rows.get(*because).map_or("a dependency", |b| b.name.as_str()))
        }
        RowOutcome::NotStarted => "not started".to_string(),
        RowOutcome::Unfinished => "unfinished: the run stopped".to_string(),
    };
    if let Some(s) = r.start {
        let _ = write!(tip, "\nstarted at {}", duration(s));
    }
    if let Some(c) = r.created {
        let _ = write!(tip, "\n{} at {}", mark_name(t), duration(c));
    }
    if let (Some(s), Some(e)) = (r.start, r.end) {
        let _ = write!(tip, "\nended at {} (took {})", duration(e), duration(e - s));
    }
    let _ = write!(tip, "\n{status}");
    if critical {
        tip.push_str("\non the critical path");
    }
    let class = match r.outcome {
        RowOutcome::Done => "bar done",
        RowOutcome::Failed(_) => "bar failed",
        RowOutcome::Skipped { .. } => "bar skipped",
        RowOutcome::NotStarted => "bar not-started",
        RowOutcome::Unfinished => "bar unfinished",
    };
    let _ = write!(out, r#"<g class="{class}" data-name="{}"><title>{}</title>"#, esc(&r.name), esc(&tip));
    let stroke = if critical { format!(r#"stroke="{CRITICAL}" stroke-width="2.5""#) } else { String::new() };
    match &r.outcome {
        RowOutcome::Done | RowOutcome::Failed(_) | RowOutcome::Unfinished => {
            let start = r.start.unwrap_or(0.0);
            let end = r.end.unwrap_or(t.elapsed).max(start);
            let (bx, bw) = (x(start), (x(end) - x(start)).max(3.0));
            let (fill, stroke, dash) = match r.outcome {
                RowOutcome::Failed(_) => {
                    ("url(#failed)".to_string(), format!(r#"stroke="{FAILED}" stroke-width="1.5""#), "")
                }
                RowOutcome::Unfinished => (
                    fill.to_string(),
                    if critical { stroke } else { format!(r#"stroke="{MUTED}" stroke-width="1""#) },
                    r#" stroke-dasharray="4 3" fill-opacity="0.6""#,
                ),
                _ => (
                    fill.to_string(),
                    if critical { stroke } else { r##"stroke="#475569" stroke-width="0.8""##.to_string() },
                    "",
                ),
            };
            let _ = write!(
                out,
                r#"<rect x="{bx:.1}" y="{by:.1}" width="{bw:.1}" height="{BAR_H}" rx="2" fill="{fill}" {stroke}{dash}/>"#
            );
            // The mark only where it is apart from the end: a created object that was ready
            // at once is simply done.
            if let Some(c) = r.created.filter(|c| r.end.is_some_and(|e| x(e) - x(*c) >= MARK_GAP) && *c >= start) {
                let cx = x(c);
                let _ = write!(
                    out,
                    r#"<path class="created" d="M{cx:.1},{:.1} l-4,-5 l8,0 z M{cx:.1},{:.1} L{cx:.1},{:.1}" fill="{INK}" stroke="{INK}" stroke-width="1.5"/>"#,
                    by,
                    by,
                    by + BAR_H
                );
            }
            let note = match &r.outcome {
                RowOutcome::Failed(_) => "failed",
                RowOutcome::Unfinished => "unfinished",
                _ => "",
            };
            if !note.is_empty() {
                let _ = write!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}" font-size="11" font-weight="bold" fill="{FAILED}">{note}</text>"#,
                    bx + bw + 6.0,
                    y + 14.0
                );
            }
        }
        RowOutcome::Skipped { because } => {
            let at = r.end.or(r.start).unwrap_or(0.0);
            let why = t.rows.get(*because).map_or("a failure", |b| b.name.as_str());
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{by:.1}" width="10" height="{BAR_H}" rx="2" fill="none" stroke="{SKIPPED}" stroke-width="1.5" stroke-dasharray="3 2"/><text x="{:.1}" y="{:.1}" font-size="11" font-style="italic" fill="{MUTED}">{}</text>"#,
                x(at),
                x(at) + 16.0,
                y + 14.0,
                esc(&fit(&format!("skipped: {why} failed"), 260.0, 11.0))
            );
        }
        RowOutcome::NotStarted => {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" font-size="11" font-style="italic" fill="{MUTED}">not started</text>"#,
                x(0.0) + 4.0,
                y + 14.0
            );
        }
    }
    out.push_str("</g>\n");
}

/// The colours of the kinds present, and the marks.
fn legend(out: &mut String, x: f64, y: f64, rows: &[Row], mark: &str) {
    let mut items: Vec<(String, &str)> = Vec::new();
    for tier in crate::Tier::ALL {
        if rows.iter().any(|r| r.kind.is_some_and(|k| k.tier() == tier)) {
            let swatch = format!(r##"fill="{}" stroke="#475569" stroke-width="0.8""##, tier.colour());
            items.push((swatch, tier.title()));
        }
    }
    items.push((String::new(), mark));
    items.push((format!(r#"fill="url(#failed)" stroke="{FAILED}" stroke-width="1.5""#), "failed"));
    items.push((format!(r#"fill="none" stroke="{SKIPPED}" stroke-width="1.5" stroke-dasharray="3 2""#), "skipped"));
    items.push((format!(r##"fill="#ffffff" stroke="{CRITICAL}" stroke-width="2.5""##), "critical path"));
    let mut at = x;
    for (style, label) in items {
        let swatch = if style.is_empty() {
            // The created mark, as on the bars.
            let cx = at + 9.0;
            format!(
                r#"<path d="M{cx:.1},{:.1} l-4,-5 l8,0 z M{cx:.1},{:.1} l0,12" fill="{INK}" stroke="{INK}" stroke-width="1.5"/>"#,
                y + 1.0,
                y + 1.0
            )
        } else {
            format!(r#"<rect x="{at:.1}" y="{y:.1}" width="18" height="12" rx="2" {style}/>"#)
        };
        let _ = writeln!(
            out,
            r#"<g class="legend">{swatch}<text x="{:.1}" y="{:.1}" font-size="12" fill="{INK}">{}</text></g>"#,
            at + 24.0,
            y + 11.0,
            esc(label)
        );
        at += 24.0 + crate::svg::text_width(label.chars().count(), 12.0) + 16.0;
    }
}

/// The chart in a self-contained HTML page: a title, the SVG, and a tooltip per bar (the
/// SVG's own `<title>` text, shown beside the pointer). No external script, style or font.
pub fn to_html(t: &Timeline) -> String {
    let title = esc(&format!("strato {}", t.title));
    let svg = to_svg(t);
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ margin: 0; padding: 16px; background: #ffffff; color: #0f172a; font-family: {FONT}; }}
svg {{ display: block; }}
#tip {{ position: fixed; display: none; pointer-events: none; white-space: pre; background: #0f172a; color: #f8fafc;
  font-size: 12px; line-height: 1.4; padding: 6px 8px; border-radius: 4px; max-width: 640px; overflow: hidden; }}
g.bar:hover rect {{ filter: brightness(0.9); }}
</style>
</head>
<body>
{svg}<div id="tip"></div>
<script>
(function () {{
  var tip = document.getElementById("tip");
  document.querySelectorAll("g.bar").forEach(function (g) {{
    var t = g.querySelector("title");
    if (!t) return;
    var text = t.textContent;
    t.remove();
    g.addEventListener("mousemove", function (e) {{
      tip.textContent = text;
      tip.style.display = "block";
      tip.style.left = (e.clientX + 14) + "px";
      tip.style.top = (e.clientY + 14) + "px";
    }});
    g.addEventListener("mouseleave", function () {{ tip.style.display = "none"; }});
  }});
}})();
</script>
</body>
</html>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, start: f64, created: Option<f64>, end: f64, deps: &[(usize, Stage)]) -> Row {
        Row {
            name: name.to_string(),
            kind: Some(Kind::Subnet),
            start: Some(start),
            created,
            end: Some(end),
            outcome: RowOutcome::Done,
            deps: deps.iter().map(|&(row, needs)| Dep { row, needs }).collect(),
        }
    }

    #[test]
    fn the_critical_path_follows_the_gate_that_came_last() {
        use Stage::*;
        let rows = vec![
            row("vpc", 0.0, Some(1.0), 2.0, &[]),
            // Needs the VPC created only: starts at 1.
            row("subnet", 1.0, None, 3.0, &[(0, Created)]),
            row("nat", 3.0, Some(4.0), 60.0, &[(1, Created)]),
            row("route", 60.0, None, 61.0, &[(2, Ready), (0, Ready)]),
            // A long task on its own, finishing before the route.
            row("lonely", 0.0, None, 50.0, &[]),
        ];
        assert_eq!(critical_path(&rows), vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_failure_that_ended_last_ends_the_path_and_nothing_run_is_no_path() {
        let mut rows = vec![row("a", 0.0, None, 1.0, &[]), row("b", 1.0, None, 5.0, &[(0, Stage::Ready)])];
        rows[1].outcome = RowOutcome::Failed("boom".into());
        assert_eq!(critical_path(&rows), vec![0, 1]);
        for r in &mut rows {
            r.outcome = RowOutcome::NotStarted;
        }
        assert!(critical_path(&rows).is_empty());
        // A dependency cycle in the input cannot loop forever.
        let rows =
            vec![row("a", 1.0, None, 2.0, &[(1, Stage::Ready)]), row("b", 0.0, None, 1.0, &[(0, Stage::Created)])];
        assert!(critical_path(&rows).len() <= 2);
    }

    #[test]
    fn ticks_are_round() {
        let near = |a: f64, b: f64| (a - b).abs() < 1e-9 * b;
        assert!(near(tick_step(0.75), 0.1), "{}", tick_step(0.75));
        assert!(near(tick_step(16.0), 2.0), "{}", tick_step(16.0));
        assert!(near(tick_step(700.0), 100.0), "{}", tick_step(700.0));
        assert_eq!(time_label(0.25, 0.05), "0.25s");
        assert_eq!(time_label(40.0, 5.0), "40s");
        assert_eq!(time_label(150.0, 50.0), "2m 30s");
    }
}
