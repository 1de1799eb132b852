//! `--timeline FILE.svg|FILE.html` on `provision` and `destroy`: the run drawn as a Gantt
//! chart once it is over, whether it succeeded, failed or was interrupted.
//!
//! A [`Recorder`] is fed every engine event as it happens and notes, per task, when it
//! started, when its object was created and when it finished, on one monotonic clock from
//! the start of the run; [`Recorder::timeline`] turns that and the engine's report into the
//! plain rows that `strato_graph::timeline` draws.

use std::path::{Path, PathBuf};
use std::time::Instant;

use strato_engine::{Event, Need, Outcome, Report, Task};
use strato_graph::timeline::{Dep, Row, RowOutcome, Timeline};
use strato_graph::Address;
use strato_spec::Stage;

/// Where to draw the timeline, and as what (from the file's extension).
#[derive(Clone, Debug)]
pub struct TimelineFile {
    pub path: PathBuf,
    pub html: bool,
}

/// The `--timeline` argument: a path ending in `.svg` or `.html` in a directory that
/// exists. Anything else is a usage error, before any AWS call.
pub fn parse(raw: &str) -> Result<TimelineFile, String> {
    let path = PathBuf::from(raw);
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let html = match ext.as_deref() {
        Some("svg") => false,
        Some("html" | "htm") => true,
        _ => return Err(format!("`{raw}` must end in .svg or .html (the format is chosen by the extension)")),
    };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(format!("the directory `{}` does not exist", dir.display()));
    }
    Ok(TimelineFile { path, html })
}

#[derive(Clone, Copy, Default)]
struct Times {
    start: Option<f64>,
    created: Option<f64>,
    end: Option<f64>,
}

enum Field {
    Start,
    Created,
    End,
}

/// Every task's moments, as the engine's events report them.
pub struct Recorder {
    since: Instant,
    times: Vec<Times>,
}

impl Recorder {
    /// A recorder for `count` tasks, its clock started now (just before the engine runs).
    pub fn new(count: usize) -> Recorder {
        Recorder { since: Instant::now(), times: vec![Times::default(); count] }
    }

    pub fn event(&mut self, e: &Event) {
        let now = self.since.elapsed().as_secs_f64();
        let (task, field) = match e {
            Event::Started { task } => (task, Field::Start),
            Event::Created { task } => (task, Field::Created),
            // A skipped task never started: it is drawn where it was skipped.
            Event::Finished { task, .. } | Event::Failed { task, .. } | Event::Skipped { task, .. } => {
                (task, Field::End)
            }
            _ => return,
        };
        let Some(t) = self.times.get_mut(task.0) else { return };
        match field {
            Field::Start => t.start = Some(now),
            Field::Created => {
                t.created.get_or_insert(now);
            }
            Field::End => t.end = Some(now),
        }
    }

    /// The run as rows: one per task, with what it waited for and how it ended.
    pub fn timeline(&self, title: String, tasks: &[Task], report: &Report) -> Timeline {
        let rows = tasks
            .iter()
            .enumerate()
            .map(|(i, task)| {
                let t = self.times.get(i).copied().unwrap_or_default();
                let outcome = match report.outcomes.get(i) {
                    Some(Outcome::Done) => RowOutcome::Done,
                    Some(Outcome::Failed(e)) => RowOutcome::Failed(e.0.clone()),
                    Some(Outcome::Skipped { because }) => RowOutcome::Skipped { because: because.0 },
                    Some(Outcome::NotStarted) | None if t.start.is_some() => RowOutcome::Unfinished,
                    Some(Outcome::NotStarted) | None => RowOutcome::NotStarted,
                };
                Row {
                    name: task.name.clone(),
                    kind: kind_of(&task.name),
                    start: t.start,
                    created: t.created,
                    end: t.end,
                    outcome,
                    deps: task
                        .deps
                        .iter()
                        .map(|(id, need)| Dep {
                            row: id.0,
                            needs: match need {
                                Need::Created => Stage::Created,
                                Need::Ready => Stage::Ready,
                            },
                        })
                        .collect(),
                }
            })
            .collect();
        Timeline { title, elapsed: report.elapsed.as_secs_f64(), mark: String::new(), rows }
    }
}

/// The kind of a task's object, from its address (`instance.apim-1`, or
/// `instance.apim-1~retiring` for the old object of a rolling replacement).
fn kind_of(name: &str) -> Option<strato_graph::Kind> {
    let address = name.split_once('~').map_or(name, |(a, _)| a);
    address.parse::<Address>().ok().map(|a| a.kind())
}

/// Draws the run titled `title` (`provision wso2`, `destroy wso2`) into `file`, and says
/// where (or why not) on stderr, unless the run's output is JSON, where only a failure is
/// told.
pub fn draw(file: &TimelineFile, recorder: &Recorder, title: &str, tasks: &[Task], report: &Report, quiet: bool) {
    let mut timeline = recorder.timeline(title.to_string(), tasks, report);
    if title.starts_with("destroy") {
        // A destroy's task reports "created" once AWS accepted the delete.
        timeline.mark = "delete accepted".into();
    }
    match write(file, &timeline) {
        Ok(()) if !quiet => eprintln!("Timeline drawn in {}", file.path.display()),
        Ok(()) => {}
        Err(e) => eprintln!("error: {e}"),
    }
}

/// Draws the run into `file`; an error names the file.
pub fn write(file: &TimelineFile, timeline: &Timeline) -> Result<(), String> {
    let text =
        if file.html { strato_graph::timeline::to_html(timeline) } else { strato_graph::timeline::to_svg(timeline) };
    std::fs::write(&file.path, text).map_err(|e| format!("cannot write the timeline `{}`: {e}", file.path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_chooses_the_format() {
        assert!(!parse("run.svg").unwrap().html);
        assert!(parse("run.HTML").unwrap().html);
        assert!(parse("run.png").unwrap_err().contains(".svg or .html"));
        assert!(parse("run").is_err());
        assert!(parse("/no/such/dir/run.svg").unwrap_err().contains("does not exist"));
    }

    #[test]
    fn kinds_come_from_addresses() {
        assert_eq!(kind_of("subnet.app-a"), Some(strato_graph::Kind::Subnet));
        assert_eq!(kind_of("instance.apim-1~retiring"), Some(strato_graph::Kind::Instance));
        assert_eq!(kind_of("route_table.public.route[0.0.0.0/0]"), Some(strato_graph::Kind::Route));
        assert_eq!(kind_of("not an address"), None);
    }
}
