//! Live progress of a provision or destroy, rendered from the engine's events.
//!
//! Four renderings of the same events:
//! - **live**, on a terminal: finished objects scroll by as lines while a block at the
//!   bottom shows an overall bar (objects done, elapsed time, and the time left on the
//!   critical path of what remains) and every running object with its AWS status history
//!   (`creating → backing-up`) and elapsed time, redrawn a few times a second and fitted to
//!   the terminal's width;
//! - **plain**, elsewhere (a pipe, a CI log): one line per finished, failed or skipped object
//!   and per status change, nothing redrawn, no colour;
//! - **json** (`--output json`): one JSON object per line on stdout per event, each with the
//!   format's `version`, the `event` name, a UTC timestamp and the run's elapsed seconds
//!   (`docs/events.md`); the run's summary is the last line;
//! - **quiet** (`--quiet`): nothing but errors.
//!
//! Objects a provision leaves unchanged print nothing unless `-v`: a re-provision that
//! changes nothing ends with one line.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use strato_engine::{Event, Task};

/// The version of the JSON event format (`docs/events.md`): bumped when a field changes
/// meaning or goes away; new fields and events may be added without it.
pub const EVENTS_VERSION: u32 = 1;

/// The running block shows at most this many objects.
const MAX_RUNNING_LINES: usize = 20;
/// When the terminal does not say how wide it is.
const DEFAULT_WIDTH: usize = 80;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Live,
    Plain,
    Json,
    Quiet,
}

/// How to render: the mode, `-v`, and colour (on a terminal, unless `NO_COLOR`).
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub mode: Mode,
    pub verbose: bool,
    pub color: bool,
}

impl Style {
    /// The style for stderr as it is: a terminal gets the live view.
    pub fn detect(json: bool, quiet: bool, verbose: bool) -> Style {
        use std::io::IsTerminal as _;
        let tty = std::io::stderr().is_terminal();
        let mode = match (json, quiet, tty) {
            (true, _, _) => Mode::Json,
            (_, true, _) => Mode::Quiet,
            (_, _, true) => Mode::Live,
            _ => Mode::Plain,
        };
        Style { mode, verbose, color: mode == Mode::Live && color_allowed() }
    }
}

/// The `NO_COLOR` convention (https://no-color.org): set and not empty, no colour; nor on a
/// terminal that says it cannot show it.
fn color_allowed() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    !no_color && !dumb
}

/// What the renderer knows of each task.
struct Row {
    name: String,
    /// The address's kind (`vpc`, `database`, ...).
    kind: String,
    estimate: Duration,
    deps: Vec<usize>,
    /// What the plan does to it (`create`, `update`, `no change`, ...); `None` when the
    /// plan does not say (destroy).
    planned: Option<&'static str>,
    started: Option<Instant>,
    /// AWS statuses in the order seen.
    statuses: Vec<String>,
    end: Option<(End, Duration)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Done,
    Failed,
    Skipped,
}

pub struct Renderer {
    style: Style,
    /// What a finished task did: "created", "deleted".
    verb: &'static str,
    rows: Vec<Row>,
    /// Longest estimated path from each task to the end, its own estimate included.
    tail: Vec<Duration>,
    /// Estimates are of AWS; an endpoint that runs `scale` times faster finishes sooner.
    scale: f64,
    running: BTreeMap<usize, ()>,
    begun: Instant,
    drawn: usize,
    frame: usize,
}

impl Renderer {
    /// `planned[i]` is what the plan does to task `i`, when there is a plan.
    pub fn new(
        tasks: &[Task],
        planned: Vec<Option<&'static str>>,
        verb: &'static str,
        style: Style,
        scale: f64,
    ) -> Renderer {
        let rows: Vec<Row> = tasks
            .iter()
            .enumerate()
            .map(|(i, t)| Row {
                name: t.name.clone(),
                kind: t.name.split(['.', ' ']).next().unwrap_or_default().to_string(),
                estimate: t.estimate,
                deps: t.deps.iter().map(|(d, _)| d.0).collect(),
                planned: planned.get(i).copied().flatten(),
                started: None,
                statuses: Vec::new(),
                end: None,
            })
            .collect();
        let tail = tails(&rows);
        Renderer {
            style,
            verb,
            rows,
            tail,
            scale: scale.max(1.0),
            running: BTreeMap::new(),
            begun: Instant::now(),
            drawn: 0,
            frame: 0,
        }
    }

    fn unchanged(&self, i: usize) -> bool {
        self.rows[i].planned == Some(strato_graph::plan::Action::NoChange.as_str())
    }

    /// What a finished task did, in one word.
    fn did(&self, i: usize) -> &'static str {
        use strato_graph::plan::Action;
        match self.rows[i].planned {
            Some(p) if p == Action::NoChange.as_str() => "unchanged",
            Some(p) if p == Action::Create.as_str() => "created",
            Some(p) if p == Action::Update.as_str() => "updated",
            Some(p) if p == Action::Replace.as_str() => "replaced",
            Some(p) if p == Action::Delete.as_str() => "deleted",
            _ => self.verb,
        }
    }

    pub fn event(&mut self, e: &Event) {
        let now = Instant::now();
        if self.style.mode == Mode::Json {
            self.json_event(e, now);
        }
        let mut lines = Vec::new();
        match e {
            Event::Started { task } => {
                self.rows[task.0].started = Some(now);
                self.running.insert(task.0, ());
            }
            Event::Status { task, status } => {
                let row = &mut self.rows[task.0];
                if row.statuses.last() != Some(status) {
                    row.statuses.push(status.clone());
                    if self.style.mode == Mode::Plain || (self.style.verbose && self.style.mode == Mode::Live) {
                        lines.push(format!("  … {}: {status}", row.name));
                    }
                }
            }
            Event::Created { .. } => {}
            Event::Finished { task, elapsed } => {
                self.running.remove(&task.0);
                self.rows[task.0].end = Some((End::Done, *elapsed));
                if self.style.verbose || !self.unchanged(task.0) {
                    let what = self.did(task.0);
                    let mark = self.paint("32", "✓");
                    lines.push(format!("  {mark} {} {what} ({})", self.rows[task.0].name, secs(*elapsed)));
                }
            }
            Event::Failed { task, error, elapsed } => {
                self.running.remove(&task.0);
                self.rows[task.0].end = Some((End::Failed, *elapsed));
                let mark = self.paint("31", "✗");
                lines.push(format!("  {mark} {} failed after {}: {error}", self.rows[task.0].name, secs(*elapsed)));
            }
            Event::Skipped { task, because } => {
                self.rows[task.0].end = Some((End::Skipped, Duration::ZERO));
                let mark = self.paint("33", "-");
                lines
                    .push(format!("  {mark} {} skipped: {} failed", self.rows[task.0].name, self.rows[because.0].name));
            }
        }
        if matches!(self.style.mode, Mode::Live | Mode::Plain) {
            self.draw(&lines);
        }
    }

    /// Redraws the running block (elapsed times move on).
    pub fn tick(&mut self) {
        if self.style.mode == Mode::Live {
            self.frame += 1;
            self.draw(&[]);
        }
    }

    /// Clears the running block for good.
    pub fn finish(&mut self) {
        if self.style.mode == Mode::Live {
            self.running.clear();
            self.drawn_clear();
        }
    }

    fn drawn_clear(&mut self) {
        if self.drawn > 0 {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\x1b[{}A\x1b[J", self.drawn);
            let _ = stderr.flush();
            self.drawn = 0;
        }
    }

    /// `text` in the SGR colour `code`, when colour is on.
    fn paint(&self, code: &str, text: &str) -> String {
        if self.style.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn draw(&mut self, lines: &[String]) {
        let live = self.style.mode == Mode::Live;
        let mut out = String::new();
        if live && self.drawn > 0 {
            out += &format!("\x1b[{}A\x1b[J", self.drawn);
        }
        for l in lines {
            out += l;
            out.push('\n');
        }
        self.drawn = 0;
        if live {
            let width = terminal_width();
            let block = self.block(width);
            self.drawn = block.len();
            for l in block {
                out += &l;
                out.push('\n');
            }
        }
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(out.as_bytes());
        let _ = stderr.flush();
    }

    /// The overall bar and the running objects, each line at most `width - 1` columns so
    /// that no terminal wraps it (a wrapped line would break the redraw).
    fn block(&self, width: usize) -> Vec<String> {
        let width = width.max(20) - 1;
        let now = Instant::now();
        let mut block = vec![self.bar(width, now)];
        const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
        for &task in self.running.keys().take(MAX_RUNNING_LINES) {
            let row = &self.rows[task];
            let elapsed = secs(row.started.map_or(Duration::ZERO, |s| now - s));
            let status = if row.statuses.is_empty() {
                "starting".to_string()
            } else {
                let from = row.statuses.len().saturating_sub(3);
                row.statuses[from..].join(" → ")
            };
            let spin = SPINNER[(self.frame + task) % SPINNER.len()];
            // `  ⠋ name  status` … elapsed, right-aligned.
            let room = width.saturating_sub(4 + 2 + elapsed.chars().count() + 1);
            let name = clip(&row.name, room.min(36));
            let status = clip(&status, room.saturating_sub(name.chars().count() + 2));
            let left = format!("  {spin} {name}  {status}");
            let pad = width.saturating_sub(left.chars().count() + elapsed.chars().count());
            block.push(format!("{left}{}{}", " ".repeat(pad), self.paint("2", &elapsed)));
        }
        if self.running.len() > MAX_RUNNING_LINES {
            block.push(format!("    … and {} more", self.running.len() - MAX_RUNNING_LINES));
        }
        block
    }

    /// `[████░░░░] 45/109 · 1m 12s · ~8m 20s left`
    fn bar(&self, width: usize, now: Instant) -> String {
        let total = self.rows.len();
        let done = self.rows.iter().filter(|r| r.end.is_some()).count();
        let mut text = format!(" {done}/{total} · {}", secs(now - self.begun));
        if let Some(left) = self.eta(now) {
            text += &format!(" · ~{} left", secs(left));
        }
        let cells = width.saturating_sub(text.chars().count() + 2).min(40);
        let filled = (cells * done).checked_div(total).unwrap_or(cells);
        let bar = "█".repeat(filled) + &"░".repeat(cells - filled);
        format!("[{}]{}", self.paint("36", &bar), clip(&text, width.saturating_sub(cells + 2)))
    }

    /// The time left on the critical path of what remains: each unfinished object's own
    /// remaining estimate (less what it has run) plus the longest path behind it.
    fn eta(&self, now: Instant) -> Option<Duration> {
        let mut left = Duration::ZERO;
        for (i, row) in self.rows.iter().enumerate() {
            if row.end.is_some() {
                continue;
            }
            let own = row.estimate.div_f64(self.scale);
            let ran = row.started.map_or(Duration::ZERO, |s| now - s);
            let behind = self.tail[i].saturating_sub(row.estimate).div_f64(self.scale);
            left = left.max(own.saturating_sub(ran) + behind);
        }
        (left > Duration::ZERO).then_some(left)
    }

    fn json_event(&self, e: &Event, now: Instant) {
        let (event, task, extra) = match e {
            Event::Started { task } => ("started", task, serde_json::json!({})),
            Event::Status { task, status } => ("status", task, serde_json::json!({ "status": status })),
            Event::Created { task } => ("created", task, serde_json::json!({})),
            Event::Finished { task, elapsed } => {
                let did = self.did(task.0);
                ("finished", task, serde_json::json!({ "result": did, "duration_seconds": elapsed.as_secs_f64() }))
            }
            Event::Failed { task, error, elapsed } => {
                ("failed", task, serde_json::json!({ "error": error.0, "duration_seconds": elapsed.as_secs_f64() }))
            }
            Event::Skipped { task, because } => {
                ("skipped", task, serde_json::json!({ "because": self.rows[because.0].name }))
            }
        };
        let row = &self.rows[task.0];
        let mut v = event_json(event, self.begun, now);
        v["address"] = row.name.clone().into();
        v["kind"] = row.kind.clone().into();
        if let (Some(planned), "started") = (row.planned, event) {
            v["planned"] = planned.into();
        }
        if let serde_json::Value::Object(extra) = extra {
            v.as_object_mut().expect("an object").extend(extra);
        }
        print_line(&v);
    }

    /// The table at the end of a run that changed something: per kind, how many objects,
    /// what became of them, and the slowest.
    pub fn summary_table(&self) -> Option<String> {
        if !matches!(self.style.mode, Mode::Live | Mode::Plain) {
            return None;
        }
        let changed = self.rows.iter().enumerate().any(|(i, r)| r.end.is_some() && !self.unchanged(i));
        if !changed {
            return None;
        }
        #[derive(Default)]
        struct Kind {
            objects: usize,
            done: usize,
            unchanged: usize,
            failed: usize,
            skipped: usize,
            slowest: Option<(Duration, usize)>,
        }
        let mut kinds: BTreeMap<&str, Kind> = BTreeMap::new();
        for (i, row) in self.rows.iter().enumerate() {
            let k = kinds.entry(row.kind.as_str()).or_default();
            k.objects += 1;
            match row.end {
                Some((End::Done, d)) if self.unchanged(i) => {
                    k.unchanged += 1;
                    let _ = d;
                }
                Some((End::Done, d)) => {
                    k.done += 1;
                    if k.slowest.is_none_or(|(s, _)| d > s) {
                        k.slowest = Some((d, i));
                    }
                }
                Some((End::Failed, _)) => k.failed += 1,
                Some((End::Skipped, _)) => k.skipped += 1,
                None => {}
            }
        }
        // Columns that would be empty everywhere are left out.
        let done_header = if self.verb == "deleted" { "deleted" } else { "changed" };
        type Count = fn(&Kind) -> usize;
        let columns: Vec<(&str, Count)> = [
            ("objects", (|k: &Kind| k.objects) as Count),
            (done_header, |k: &Kind| k.done),
            ("unchanged", |k: &Kind| k.unchanged),
            ("failed", |k: &Kind| k.failed),
            ("skipped", |k: &Kind| k.skipped),
        ]
        .into_iter()
        .enumerate()
        .filter(|(i, (_, count))| *i == 0 || kinds.values().any(|k| count(k) > 0))
        .map(|(_, c)| c)
        .collect();
        let kind_width = kinds.keys().map(|k| k.len()).max().unwrap_or(4).clamp(4, 22);
        let mut header = format!("{:<kind_width$}", "kind");
        for (name, _) in &columns {
            header += &format!(" {name:>9}");
        }
        header += "  slowest";
        let mut out = self.paint("1", &header) + "\n";
        for (name, k) in &kinds {
            let mut line = format!("{:<kind_width$}", clip(name, kind_width));
            for (_, count) in &columns {
                let n = count(k);
                line += &format!(" {:>9}", if n == 0 { "-".to_string() } else { n.to_string() });
            }
            if let Some((d, i)) = k.slowest {
                // The row names the kind: the object's own name is enough.
                let row = &self.rows[i];
                let own = row.name.strip_prefix(&format!("{}.", row.kind)).unwrap_or(&row.name);
                line += &format!("  {:>7} {own}", secs(d));
            }
            out += &clip(&line, DEFAULT_WIDTH - 1);
            out.push('\n');
        }
        Some(out)
    }
}

/// The start of every JSON event: format version, event name, UTC time, seconds since the
/// run began.
pub fn event_json(event: &str, begun: Instant, now: Instant) -> serde_json::Value {
    serde_json::json!({
        "version": EVENTS_VERSION,
        "event": event,
        "time": rfc3339(SystemTime::now()),
        "elapsed_seconds": (now - begun).as_secs_f64(),
    })
}

/// The last JSON line of a provision or destroy: its summary, as an event.
pub fn print_summary(summary: &serde_json::Value) {
    let mut v = serde_json::json!({
        "version": EVENTS_VERSION,
        "event": "summary",
        "time": rfc3339(SystemTime::now()),
    });
    if let serde_json::Value::Object(fields) = summary {
        v.as_object_mut().expect("an object").extend(fields.clone());
    }
    print_line(&v);
}

/// One JSON line on stdout. A reader that went away does not stop the run: the state is
/// what matters, and it is written elsewhere.
fn print_line(v: &serde_json::Value) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{v}");
    let _ = stdout.flush();
}

/// Longest estimated path from each task to the end of the graph (its own estimate
/// included), over the tasks' dependencies in reverse.
fn tails(rows: &[Row]) -> Vec<Duration> {
    let n = rows.len();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut pending: Vec<usize> = vec![0; n];
    for (i, r) in rows.iter().enumerate() {
        for &d in &r.deps {
            if d < n {
                dependents[d].push(i);
            }
        }
    }
    // Reverse topological order: a task's tail is known once all its dependents' are.
    for (i, deps) in dependents.iter().enumerate() {
        pending[i] = deps.len();
    }
    let mut tail: Vec<Duration> = rows.iter().map(|r| r.estimate).collect();
    let mut queue: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    while let Some(i) = queue.pop() {
        for &d in &rows[i].deps {
            if d >= n {
                continue;
            }
            tail[d] = tail[d].max(rows[d].estimate + tail[i]);
            pending[d] -= 1;
            if pending[d] == 0 {
                queue.push(d);
            }
        }
    }
    tail
}

/// The terminal's width, from the terminal itself, else `COLUMNS`, else 80.
fn terminal_width() -> usize {
    if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size_of(std::io::stderr()) {
        if w > 0 {
            return usize::from(w);
        }
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(DEFAULT_WIDTH)
}

/// `s` cut to `max` characters, the cut marked with `…`.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// A UTC time as RFC 3339 with milliseconds: `2026-12-01T20:01:02.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let (year, month, day) = strato_spec::validate::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

pub fn secs(d: Duration) -> String {
    if d < Duration::from_secs(60) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // 2024-02-29T12:34:56.789Z, a leap day.
        let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56.789Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_798_761_599);
        assert_eq!(rfc3339(t), "2026-12-31T23:59:59.000Z");
    }

    #[test]
    fn clip_marks_the_cut() {
        assert_eq!(clip("database.apim", 20), "database.apim");
        assert_eq!(clip("database.apim", 8), "databas…");
        assert_eq!(clip("x", 0), "");
    }

    fn task(name: &str, secs: u64, deps: &[usize]) -> Task {
        Task {
            name: name.into(),
            service: "ec2",
            estimate: Duration::from_secs(secs),
            deps: deps.iter().map(|&d| (strato_engine::TaskId(d), strato_engine::Need::Ready)).collect(),
        }
    }

    #[test]
    fn the_running_block_fits_the_width() {
        let tasks = vec![
            task("vpc.main", 5, &[]),
            task("database.a-very-long-database-name-that-goes-on-and-on", 720, &[0]),
            task("subnet.app-a", 2, &[0]),
        ];
        let style = Style { mode: Mode::Live, verbose: false, color: true };
        let mut r = Renderer::new(&tasks, vec![None; 3], "ready", style, 1.0);
        r.rows[1].started = Some(Instant::now());
        r.rows[1].statuses = vec!["creating".into(), "backing-up".into(), "modifying".into(), "available".into()];
        r.running.insert(1, ());
        r.rows[0].end = Some((End::Done, Duration::from_secs(3)));
        for width in [40, 80, 120] {
            for line in r.block(width) {
                let visible = strip_ansi(&line);
                assert!(visible.chars().count() < width, "{width}: {visible:?}");
            }
        }
        let block = r.block(80);
        assert!(block[0].contains("1/3"), "{block:?}");
        assert!(block[0].contains("left"), "an ETA from the critical path: {block:?}");
        // The last three statuses, cut at 80 columns, whole at 120.
        assert!(strip_ansi(&block[1]).contains("backing-up → modifying → a"), "{block:?}");
        assert!(strip_ansi(&r.block(120)[1]).contains("backing-up → modifying → available"), "{:?}", r.block(120));
    }

    #[test]
    fn the_eta_follows_the_critical_path() {
        // 0 → 1 (720 s) and 0 → 2 (2 s): with 0 done and nothing started, 720 s are left.
        let tasks = vec![task("vpc.main", 5, &[]), task("database.a", 720, &[0]), task("subnet.b", 2, &[0])];
        let style = Style { mode: Mode::Quiet, verbose: false, color: false };
        let mut r = Renderer::new(&tasks, vec![None; 3], "ready", style, 1.0);
        assert_eq!(r.tail[0], Duration::from_secs(725));
        r.rows[0].end = Some((End::Done, Duration::from_secs(5)));
        let eta = r.eta(Instant::now()).unwrap();
        assert!(eta <= Duration::from_secs(720) && eta > Duration::from_secs(719), "{eta:?}");
        // Ten times faster endpoint: a tenth of it.
        r.scale = 10.0;
        let eta = r.eta(Instant::now()).unwrap();
        assert!(eta <= Duration::from_secs(72), "{eta:?}");
    }

    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
