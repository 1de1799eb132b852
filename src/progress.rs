//! Live progress of a provision or destroy, rendered from the engine's events.
//!
//! On a terminal: finished objects scroll by as plain lines while a block at the bottom
//! shows every running object with its AWS status and elapsed time, redrawn every second.
//! Elsewhere (a pipe, a CI log): one plain line per finished, failed or skipped object and
//! per status change, nothing redrawn.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::{Duration, Instant};

use strato_engine::Event;

const MAX_RUNNING_LINES: usize = 20;

pub struct Renderer {
    tty: bool,
    quiet: bool,
    names: Vec<String>,
    /// What a finished task did: "created", "deleted".
    verb: &'static str,
    running: BTreeMap<usize, (Instant, String)>,
    drawn: usize,
}

impl Renderer {
    pub fn new(names: Vec<String>, verb: &'static str, tty: bool, quiet: bool) -> Renderer {
        Renderer { tty, quiet, names, verb, running: BTreeMap::new(), drawn: 0 }
    }

    pub fn event(&mut self, e: &Event) {
        if self.quiet {
            return;
        }
        let mut lines = Vec::new();
        match e {
            Event::Started { task } => {
                self.running.insert(task.0, (Instant::now(), "starting".into()));
            }
            Event::Status { task, status } => {
                if let Some(r) = self.running.get_mut(&task.0) {
                    r.1 = status.clone();
                }
                if !self.tty {
                    lines.push(format!("  … {}: {status}", self.names[task.0]));
                }
            }
            Event::Created { .. } => {}
            Event::Finished { task, elapsed } => {
                self.running.remove(&task.0);
                lines.push(format!("  ✓ {} {} ({})", self.names[task.0], self.verb, secs(*elapsed)));
            }
            Event::Failed { task, error, elapsed } => {
                self.running.remove(&task.0);
                lines.push(format!("  ✗ {} failed after {}: {error}", self.names[task.0], secs(*elapsed)));
            }
            Event::Skipped { task, because } => {
                lines.push(format!("  - {} skipped: {} failed", self.names[task.0], self.names[because.0]));
            }
        }
        self.draw(&lines);
    }

    /// Redraws the running block (elapsed times move on).
    pub fn tick(&mut self) {
        if self.tty && !self.quiet && !self.running.is_empty() {
            self.draw(&[]);
        }
    }

    /// Clears the running block for good.
    pub fn finish(&mut self) {
        if self.tty && !self.quiet {
            self.running.clear();
            self.draw(&[]);
        }
    }

    fn draw(&mut self, lines: &[String]) {
        let mut out = String::new();
        if self.tty && self.drawn > 0 {
            out += &format!("\x1b[{}A\x1b[J", self.drawn);
        }
        for l in lines {
            out += l;
            out.push('\n');
        }
        self.drawn = 0;
        if self.tty {
            let now = Instant::now();
            for (task, (started, status)) in self.running.iter().take(MAX_RUNNING_LINES) {
                out += &format!("    {} {} {}\n", self.names[*task], status, secs(now - *started));
                self.drawn += 1;
            }
            if self.running.len() > MAX_RUNNING_LINES {
                out += &format!("    … and {} more\n", self.running.len() - MAX_RUNNING_LINES);
                self.drawn += 1;
            }
        }
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(out.as_bytes());
        let _ = stderr.flush();
    }
}

pub fn secs(d: Duration) -> String {
    if d < Duration::from_secs(60) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}
