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
//! Its bookkeeping is O(log n) per task and O(1) per edge (see [`Scheduler`]): 100,000
//! tasks schedule in well under a second (`cargo run --release -p strato-engine --example
//! scale`).

pub mod pace;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
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

/// Where a waiting task whose dependencies are all met is kept until it starts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Queued {
    /// Its dependencies are not met yet (or it is no longer waiting).
    No,
    /// In the ready heap.
    Ready,
    /// Parked with its service, whose limit was reached when the task's turn came.
    Parked,
}

/// A task in a heap: the longest remaining path first, then the lowest index (the heaps
/// are max-heaps, so the index is reversed).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    rank: Duration,
    index: Reverse<usize>,
}

/// Every edge, grouped by the dependency it comes from (compressed rows): the dependents of
/// task `d` are `edges[offsets[d]..offsets[d + 1]]`, in the order of the tasks and of their
/// `deps`.
struct Dependents {
    offsets: Vec<usize>,
    edges: Vec<(usize, Need)>,
}

impl Dependents {
    fn new(tasks: &[Task]) -> Dependents {
        let n = tasks.len();
        let mut offsets = vec![0usize; n + 1];
        for t in tasks {
            for (d, _) in t.deps.iter().filter(|(d, _)| d.0 < n) {
                offsets[d.0 + 1] += 1;
            }
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut edges = vec![(0usize, Need::Ready); offsets[n]];
        for (i, t) in tasks.iter().enumerate() {
            for &(d, need) in t.deps.iter().filter(|(d, _)| d.0 < n) {
                edges[fill[d.0]] = (i, need);
                fill[d.0] += 1;
            }
        }
        Dependents { offsets, edges }
    }

    fn of(&self, d: usize) -> &[(usize, Need)] {
        &self.edges[self.offsets[d]..self.offsets[d + 1]]
    }
}

/// Longest estimated path from each task to the end of the graph (its own estimate
/// included). Linear in tasks and edges: each task is finished once, each edge looked at
/// twice.
fn ranks(tasks: &[Task], dependents: &Dependents) -> Vec<Duration> {
    let n = tasks.len();
    let mut rank: Vec<Option<Duration>> = vec![None; n];
    // Iterative post-order DFS; a cycle (never produced by a validated graph) is cut.
    let mut on_stack = vec![false; n];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for start in 0..n {
        stack.push((start, 0));
        while let Some(&mut (i, ref mut next)) = stack.last_mut() {
            if rank[i].is_some() {
                stack.pop();
                continue;
            }
            on_stack[i] = true;
            if let Some(&(d, _)) = dependents.of(i).get(*next) {
                *next += 1;
                if rank[d].is_none() && !on_stack[d] {
                    stack.push((d, 0));
                }
                continue;
            }
            let tail = dependents.of(i).iter().filter_map(|&(d, _)| rank[d]).max().unwrap_or_default();
            rank[i] = Some(tasks[i].estimate + tail);
            on_stack[i] = false;
            stack.pop();
        }
    }
    rank.into_iter().map(Option::unwrap_or_default).collect()
}

/// The scheduler's bookkeeping, O(log n) per task started and O(1) per edge met.
///
/// A task's dependencies are counted, not rescanned: `unmet_created` and `unmet_ready`
/// count the edges not yet satisfied, and the dependents lists say whose counts drop when a
/// task is created or finishes. A task whose counts reach zero goes into the ready heap. A
/// task taken from the heap while its service is at its limit is parked with its service;
/// each slot of that service that frees re-offers its best parked task to the heap. Starting
/// tasks in heap order, skipping those whose service is full, is then exactly "among the
/// ready tasks whose service has room, the longest remaining path first, then the lowest
/// index": the heap holds, for every service, at least as many of its best waiting tasks as
/// it has free slots.
struct Scheduler {
    dependents: Dependents,
    rank: Vec<Duration>,
    state: Vec<State>,
    created: Vec<bool>,
    unmet_created: Vec<u32>,
    unmet_ready: Vec<u32>,
    queued: Vec<Queued>,
    ready: BinaryHeap<Entry>,
    /// Each task's service, as an index into `limit`, `busy` and `parked`.
    service: Vec<usize>,
    limit: Vec<usize>,
    busy: Vec<usize>,
    parked: Vec<BinaryHeap<Entry>>,
    /// Whether a running task still holds its global and service slots.
    holding: Vec<bool>,
    running: usize,
    parallelism: usize,
}

impl Scheduler {
    fn new(tasks: &[Task], options: &Options) -> Scheduler {
        let n = tasks.len();
        let dependents = Dependents::new(tasks);
        let rank = ranks(tasks, &dependents);
        let mut index_of: HashMap<&'static str, usize> = HashMap::new();
        let mut limit = Vec::new();
        let service = tasks
            .iter()
            .map(|t| {
                *index_of.entry(t.service).or_insert_with(|| {
                    limit.push(options.service_limits.get(t.service).copied().unwrap_or(usize::MAX));
                    limit.len() - 1
                })
            })
            .collect();
        let services = limit.len();
        let mut unmet_created = vec![0u32; n];
        let mut unmet_ready = vec![0u32; n];
        for (i, t) in tasks.iter().enumerate() {
            for (d, need) in &t.deps {
                // A dependency that is not in the graph can never be met: the task never
                // starts, as with a cycle.
                match need {
                    Need::Created if d.0 < n => unmet_created[i] += 1,
                    _ => unmet_ready[i] += 1,
                }
            }
        }
        let mut s = Scheduler {
            dependents,
            rank,
            state: vec![State::Waiting; n],
            created: vec![false; n],
            unmet_created,
            unmet_ready,
            queued: vec![Queued::No; n],
            ready: BinaryHeap::new(),
            service,
            limit,
            busy: vec![0; services],
            parked: vec![BinaryHeap::new(); services],
            holding: vec![false; n],
            running: 0,
            parallelism: options.parallelism.max(1),
        };
        for i in 0..n {
            s.offer_if_met(i);
        }
        s
    }

    fn entry(&self, i: usize) -> Entry {
        Entry { rank: self.rank[i], index: Reverse(i) }
    }

    /// Puts task `i` into the ready heap once all it needs is met.
    fn offer_if_met(&mut self, i: usize) {
        if self.unmet_created[i] == 0
            && self.unmet_ready[i] == 0
            && self.state[i] == State::Waiting
            && self.queued[i] == Queued::No
        {
            self.queued[i] = Queued::Ready;
            self.ready.push(self.entry(i));
        }
    }

    /// The next task to start, its slots taken; `None` when the global limit is reached or
    /// no ready task's service has room.
    fn next_to_start(&mut self) -> Option<usize> {
        while self.running < self.parallelism {
            let i = self.ready.pop()?.index.0;
            if self.state[i] != State::Waiting {
                // Skipped since it was offered.
                continue;
            }
            let s = self.service[i];
            if self.busy[s] >= self.limit[s] {
                self.queued[i] = Queued::Parked;
                let e = self.entry(i);
                self.parked[s].push(e);
                continue;
            }
            self.busy[s] += 1;
            self.running += 1;
            self.holding[i] = true;
            self.queued[i] = Queued::No;
            self.state[i] = State::Running;
            return Some(i);
        }
        None
    }

    /// Moves service `s`'s best parked task back to the ready heap, if the service has room.
    fn reoffer(&mut self, s: usize) {
        if self.busy[s] >= self.limit[s] {
            return;
        }
        while let Some(e) = self.parked[s].pop() {
            let i = e.index.0;
            if self.state[i] == State::Waiting {
                self.queued[i] = Queued::Ready;
                self.ready.push(e);
                return;
            }
        }
    }

    /// Gives back task `i`'s slots, once.
    fn release(&mut self, i: usize) {
        if !std::mem::take(&mut self.holding[i]) {
            return;
        }
        self.running -= 1;
        let s = self.service[i];
        self.busy[s] -= 1;
        self.reoffer(s);
    }

    /// Task `i`'s object exists: dependents that need it created may be ready.
    fn mark_created(&mut self, i: usize) {
        if std::mem::replace(&mut self.created[i], true) {
            return;
        }
        for k in self.dependents.offsets[i]..self.dependents.offsets[i + 1] {
            let (d, need) = self.dependents.edges[k];
            if need == Need::Created {
                self.unmet_created[d] -= 1;
                self.offer_if_met(d);
            }
        }
    }

    /// Task `i` finished: every dependent's edge on it is met.
    fn mark_finished(&mut self, i: usize) {
        self.state[i] = State::Finished;
        self.mark_created(i);
        for k in self.dependents.offsets[i]..self.dependents.offsets[i + 1] {
            let (d, need) = self.dependents.edges[k];
            if need == Need::Ready {
                self.unmet_ready[d] -= 1;
                self.offer_if_met(d);
            }
        }
    }

    /// Marks every waiting task downstream of `root` as skipped because of it.
    fn skip_dependents(&mut self, root: usize, outcomes: &mut [Outcome], on_event: &mut (dyn FnMut(&Event) + Send)) {
        let mut stack: Vec<usize> = self.dependents.of(root).iter().map(|&(d, _)| d).collect();
        while let Some(i) = stack.pop() {
            if self.state[i] != State::Waiting {
                continue;
            }
            self.state[i] = State::Skipped;
            // A skipped task left in the ready heap is dropped when it comes up; the slot
            // it would have been offered goes to its service's next parked task.
            if std::mem::replace(&mut self.queued[i], Queued::No) == Queued::Ready {
                self.reoffer(self.service[i]);
            }
            outcomes[i] = Outcome::Skipped { because: TaskId(root) };
            on_event(&Event::Skipped { task: TaskId(i), because: TaskId(root) });
            stack.extend(self.dependents.of(i).iter().map(|&(d, _)| d));
        }
    }

    fn handle_msg(&mut self, msg: Msg, on_event: &mut (dyn FnMut(&Event) + Send)) {
        let (Msg::Created(id) | Msg::Waiting(id) | Msg::Status(id, _)) = &msg;
        let i = id.0;
        if self.state.get(i) != Some(&State::Running) {
            return;
        }
        match msg {
            Msg::Created(id) => {
                if !self.created[i] {
                    self.release(i);
                    on_event(&Event::Created { task: id });
                    self.mark_created(i);
                }
            }
            Msg::Waiting(_) => self.release(i),
            Msg::Status(id, status) => on_event(&Event::Status { task: id, status }),
        }
    }
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
    let mut sched = Scheduler::new(tasks, options);
    let mut outcomes = vec![Outcome::NotStarted; n];
    let mut started: Vec<Option<Instant>> = vec![None; n];
    let mut stopping = false;
    let mut interrupted = false;
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut join: JoinSet<(TaskId, Result<(), TaskError>)> = JoinSet::new();
    let mut id_of_join: HashMap<tokio::task::Id, TaskId> = HashMap::new();

    loop {
        if cancel.is_cancelled() && !interrupted {
            interrupted = true;
            stopping = true;
        }
        if !stopping {
            while let Some(i) = sched.next_to_start() {
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
        tokio::select! {
            biased;
            Some(msg) = rx.recv() => sched.handle_msg(msg, on_event),
            Some(done) = join.join_next_with_id() => {
                // Messages sent before the task ended come first.
                while let Ok(msg) = rx.try_recv() {
                    sched.handle_msg(msg, on_event);
                }
                let (id, result) = match done {
                    Ok((join_id, (id, result))) => {
                        id_of_join.remove(&join_id);
                        (id, result)
                    }
                    Err(e) => {
                        let id = id_of_join.remove(&e.id()).unwrap_or(TaskId(0));
                        (id, Err(TaskError(format!("{}: internal error: the task panicked", tasks[id.0].name))))
                    }
                };
                let i = id.0;
                sched.release(i);
                let elapsed = started[i].map_or(Duration::ZERO, |s| s.elapsed());
                match result {
                    Ok(()) => {
                        outcomes[i] = Outcome::Done;
                        on_event(&Event::Finished { task: id, elapsed });
                        sched.mark_finished(i);
                    }
                    Err(error) => {
                        sched.state[i] = State::Failed;
                        outcomes[i] = Outcome::Failed(error.clone());
                        on_event(&Event::Failed { task: id, error, elapsed });
                        sched.skip_dependents(i, &mut outcomes, on_event);
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
