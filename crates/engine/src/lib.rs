//! The engine: runs a dependency graph of tasks on tokio, each as soon as the dependencies it
//! needs have reached the stage it needs.
//!
//! It knows nothing about AWS. A task is a name, a service label (for per-service limits), an
//! estimated duration and its dependencies; the work itself comes from a [`Work`]
//! implementation that reports, through [`Progress`], when its object is *created* (its id is
//! known, enough for some dependents) and finishes when it is *ready*.
//!
//! Scheduling, in the manner of cargo's job queue:
//! - among tasks whose dependencies are satisfied, the one with the longest estimated path
//!   to the end goes first, so the long poles start early;
//! - a global concurrency limit and per-service limits are never exceeded; they count tasks
//!   that are working (making calls), not tasks that only wait: a task gives its slot back
//!   when it reports its object *created* or says it is [`Progress::waiting`], so a
//!   database's twelve-minute wait does not keep quick work from starting;
//! - on the first failure no new task starts (unless `keep_going`), running tasks finish,
//!   every task that depends on the failure is marked skipped because of it, and each root
//!   cause is reported once;
//! - on cancellation no new task starts, running tasks finish, and the report says so.
//!
//! One loop owns all state and emits every [`Event`]; workers only send messages to it.

pub mod pace;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Index of a task in the slice given to [`run`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub usize);

/// How far a dependency must have come before a dependent may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Need {
    /// The dependency reported [`Progress::created`] (or finished).
    Created,
    /// The dependency finished.
    Ready,
}

#[derive(Clone, Debug)]
pub struct Task {
    /// For events and reports (a logical address such as `subnet.app-a`).
    pub name: String,
    /// Tasks of one service share its concurrency limit (`ec2`, `nat`, `rds`, ...).
    pub service: &'static str,
    /// Expected duration, used only to order ready tasks (longest remaining path first).
    pub estimate: Duration,
    pub deps: Vec<(TaskId, Need)>,
}

/// Why a task failed: a message that already names the object, the call and the error code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskError(pub String);

impl std::fmt::Display for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a task does.
pub trait Work: Send + Sync + 'static {
    /// Runs task `id` to completion. Call `progress.created()` as soon as the object exists,
    /// and `progress.status(...)` whenever its remote status changes.
    fn run(&self, id: TaskId, progress: Progress) -> BoxFuture<Result<(), TaskError>>;
}

enum Msg {
    Created(TaskId),
    Waiting(TaskId),
    Status(TaskId, String),
}

/// A running task's line back to the engine.
#[derive(Clone)]
pub struct Progress {
    id: TaskId,
    tx: mpsc::UnboundedSender<Msg>,
}

impl Progress {
    /// A handle whose reports go nowhere, for work done outside an engine run.
    pub fn detached() -> Progress {
        let (tx, _) = mpsc::unbounded_channel();
        Progress { id: TaskId(usize::MAX), tx }
    }

    /// The object exists; dependents that only need it created may start. The task gives
    /// its slot back: what remains is waiting.
    pub fn created(&self) {
        let _ = self.tx.send(Msg::Created(self.id));
    }

    /// The task only waits for a condition from now on: its slot may go to other work.
    pub fn waiting(&self) {
        let _ = self.tx.send(Msg::Waiting(self.id));
    }

    /// The object's remote status changed (`pending`, `available`, ...).
    pub fn status(&self, status: impl Into<String>) {
        let _ = self.tx.send(Msg::Status(self.id, status.into()));
    }
}

/// A request to stop: nothing new starts, running tasks finish.
#[derive(Clone, Default)]
pub struct Cancel(Arc<(AtomicBool, Notify)>);

impl Cancel {
    pub fn cancel(&self) {
        self.0 .0.store(true, Ordering::SeqCst);
        self.0 .1.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0 .0.load(Ordering::SeqCst)
    }

    async fn cancelled(&self) {
        loop {
            let notified = self.0 .1.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    /// At most this many tasks run at once.
    pub parallelism: usize,
    /// At most this many tasks of a service run at once; services not listed share only
    /// the global limit.
    pub service_limits: HashMap<&'static str, usize>,
    /// Go on with independent tasks after a failure.
    pub keep_going: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options { parallelism: 32, service_limits: HashMap::new(), keep_going: false }
    }
}

/// What happened, as it happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Started {
        task: TaskId,
    },
    Status {
        task: TaskId,
        status: String,
    },
    Created {
        task: TaskId,
    },
    Finished {
        task: TaskId,
        elapsed: Duration,
    },
    Failed {
        task: TaskId,
        error: TaskError,
        elapsed: Duration,
    },
    /// Will not run because `because` failed.
    Skipped {
        task: TaskId,
        because: TaskId,
    },
}

/// How each task ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed(TaskError),
    /// A dependency failed; `because` is the failure at the root.
    Skipped {
        because: TaskId,
    },
    /// Never started: the run stopped (a failure without `keep_going`, or cancellation), or
    /// its dependencies can never be met.
    NotStarted,
}

#[derive(Clone, Debug)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
    /// The run was cancelled before everything was done.
    pub interrupted: bool,
    pub elapsed: Duration,
}

impl Report {
    pub fn success(&self) -> bool {
        !self.interrupted && self.outcomes.iter().all(|o| *o == Outcome::Done)
    }

    /// The failed tasks: each root cause once.
    pub fn failures(&self) -> impl Iterator<Item = (TaskId, &TaskError)> {
        self.outcomes.iter().enumerate().filter_map(|(i, o)| match o {
            Outcome::Failed(e) => Some((TaskId(i), e)),
            _ => None,
        })
    }

    pub fn count(&self, pred: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|o| pred(o)).count()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Running,
    Finished,
    Failed,
    Skipped,
}

/// Longest estimated path from each task to the end of the graph (its own estimate included).
fn ranks(tasks: &[Task], dependents: &[Vec<usize>]) -> Vec<Duration> {
    let n = tasks.len();
    let mut rank: Vec<Option<Duration>> = vec![None; n];
    // Iterative post-order DFS; a cycle (never produced by a validated graph) is cut.
    let mut on_stack = vec![false; n];
    for start in 0..n {
        let mut stack = vec![(start, 0usize)];
        while let Some(&mut (i, ref mut next)) = stack.last_mut() {
            if rank[i].is_some() {
                stack.pop();
                continue;
            }
            on_stack[i] = true;
            if let Some(&d) = dependents[i].get(*next) {
                *next += 1;
                if rank[d].is_none() && !on_stack[d] {
                    stack.push((d, 0));
                }
                continue;
            }
            let tail = dependents[i].iter().filter_map(|&d| rank[d]).max().unwrap_or_default();
            rank[i] = Some(tasks[i].estimate + tail);
            on_stack[i] = false;
            stack.pop();
        }
    }
    rank.into_iter().map(Option::unwrap_or_default).collect()
}

/// Runs `tasks` to completion (or until stopped) and reports how each ended.
pub async fn run(
    tasks: &[Task],
    work: Arc<dyn Work>,
    options: &Options,
    cancel: &Cancel,
    on_event: &mut (dyn FnMut(&Event) + Send),
) -> Report {
    let started_at = Instant::now();
    let n = tasks.len();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, t) in tasks.iter().enumerate() {
        for (d, _) in &t.deps {
            dependents[d.0].push(i);
        }
    }
    let rank = ranks(tasks, &dependents);
    let mut state = vec![State::Waiting; n];
    let mut created = vec![false; n];
    let mut outcomes = vec![Outcome::NotStarted; n];
    let mut started: Vec<Option<Instant>> = vec![None; n];
    // Whether a running task still holds its global and service slots.
    let mut holding = vec![false; n];
    let mut running_per_service: HashMap<&'static str, usize> = HashMap::new();
    let mut running = 0usize;
    let mut stopping = false;
    let mut interrupted = false;
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut join: JoinSet<(TaskId, Result<(), TaskError>)> = JoinSet::new();
    let mut id_of_join: HashMap<tokio::task::Id, TaskId> = HashMap::new();
    let parallelism = options.parallelism.max(1);

    loop {
        if cancel.is_cancelled() && !interrupted {
            interrupted = true;
            stopping = true;
        }
        if !stopping {
            let mut ready: Vec<usize> = (0..n)
                .filter(|&i| state[i] == State::Waiting)
                .filter(|&i| {
                    tasks[i].deps.iter().all(|(d, need)| match need {
                        Need::Created => created[d.0] || state[d.0] == State::Finished,
                        Need::Ready => state[d.0] == State::Finished,
                    })
                })
                .collect();
            ready.sort_by(|&a, &b| rank[b].cmp(&rank[a]).then(a.cmp(&b)));
            for i in ready {
                if running >= parallelism {
                    break;
                }
                let service = tasks[i].service;
                let limit = options.service_limits.get(service).copied().unwrap_or(usize::MAX);
                let busy = running_per_service.entry(service).or_default();
                if *busy >= limit {
                    continue;
                }
                *busy += 1;
                running += 1;
                holding[i] = true;
                state[i] = State::Running;
                started[i] = Some(Instant::now());
                on_event(&Event::Started { task: TaskId(i) });
                let progress = Progress { id: TaskId(i), tx: tx.clone() };
                let fut = work.run(TaskId(i), progress);
                let handle = join.spawn(async move { (TaskId(i), fut.await) });
                id_of_join.insert(handle.id(), TaskId(i));
            }
        }
        if join.is_empty() {
            break;
        }
        let mut slots = Slots { holding: &mut holding, running: &mut running, per_service: &mut running_per_service };
        tokio::select! {
            biased;
            Some(msg) = rx.recv() => handle_msg(msg, tasks, &mut created, &state, &mut slots, on_event),
            Some(done) = join.join_next_with_id() => {
                // Messages sent before the task ended come first.
                while let Ok(msg) = rx.try_recv() {
                    handle_msg(msg, tasks, &mut created, &state, &mut slots, on_event);
                }
                let (id, result) = match done {
                    Ok((_, (id, result))) => (id, result),
                    Err(e) => {
                        let id = id_of_join.get(&e.id()).copied().unwrap_or(TaskId(0));
                        (id, Err(TaskError(format!("{}: internal error: the task panicked", tasks[id.0].name))))
                    }
                };
                let i = id.0;
                slots.release(i, tasks);
                let elapsed = started[i].map_or(Duration::ZERO, |s| s.elapsed());
                match result {
                    Ok(()) => {
                        state[i] = State::Finished;
                        created[i] = true;
                        outcomes[i] = Outcome::Done;
                        on_event(&Event::Finished { task: id, elapsed });
                    }
                    Err(error) => {
                        state[i] = State::Failed;
                        outcomes[i] = Outcome::Failed(error.clone());
                        on_event(&Event::Failed { task: id, error, elapsed });
                        skip_dependents(i, &dependents, &mut state, &mut outcomes, on_event);
                        if !options.keep_going {
                            stopping = true;
                        }
                    }
                }
            }
            _ = cancel.cancelled(), if !interrupted => {
                interrupted = true;
                stopping = true;
            }
        }
    }
    Report { outcomes, interrupted, elapsed: started_at.elapsed() }
}

/// The slots running tasks hold.
struct Slots<'a> {
    holding: &'a mut [bool],
    running: &'a mut usize,
    per_service: &'a mut HashMap<&'static str, usize>,
}

impl Slots<'_> {
    /// Gives back task `i`'s slots, once.
    fn release(&mut self, i: usize, tasks: &[Task]) {
        if !std::mem::take(&mut self.holding[i]) {
            return;
        }
        *self.running -= 1;
        if let Some(busy) = self.per_service.get_mut(tasks[i].service) {
            *busy -= 1;
        }
    }
}

fn handle_msg(
    msg: Msg,
    tasks: &[Task],
    created: &mut [bool],
    state: &[State],
    slots: &mut Slots<'_>,
    on_event: &mut (dyn FnMut(&Event) + Send),
) {
    match msg {
        Msg::Created(id) => {
            if !created[id.0] && state[id.0] == State::Running {
                created[id.0] = true;
                slots.release(id.0, tasks);
                on_event(&Event::Created { task: id });
            }
        }
        Msg::Waiting(id) => {
            if state[id.0] == State::Running {
                slots.release(id.0, tasks);
            }
        }
        Msg::Status(id, status) => {
            if state[id.0] == State::Running {
                on_event(&Event::Status { task: id, status });
            }
        }
    }
}

/// Marks every waiting task downstream of `root` as skipped because of it.
fn skip_dependents(
    root: usize,
    dependents: &[Vec<usize>],
    state: &mut [State],
    outcomes: &mut [Outcome],
    on_event: &mut (dyn FnMut(&Event) + Send),
) {
    let mut stack = dependents[root].clone();
    while let Some(i) = stack.pop() {
        if state[i] != State::Waiting {
            continue;
        }
        state[i] = State::Skipped;
        outcomes[i] = Outcome::Skipped { because: TaskId(root) };
        on_event(&Event::Skipped { task: TaskId(i), because: TaskId(root) });
        stack.extend(dependents[i].iter().copied());
    }
}
