//! The engine against an in-memory fake cloud on tokio's paused clock: every object takes a
//! set time to be created and to become ready, so ordering, parallelism, limits, failures and
//! cancellation can be checked in virtual minutes that pass in milliseconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strato_engine::{run, BoxFuture, Cancel, Event, Need, Options, Outcome, Progress, Task, TaskError, TaskId, Work};
use tokio::time::Instant;

const MIN: Duration = Duration::from_secs(60);

/// One fake object: how long until created, how long until ready, and whether it fails.
#[derive(Clone)]
struct Spec {
    created: Duration,
    ready: Duration,
    fail: bool,
}

#[derive(Default)]
struct Log {
    start: HashMap<usize, Duration>,
    end: HashMap<usize, Duration>,
    running: usize,
    max_running: usize,
    running_by_service: HashMap<&'static str, usize>,
    max_by_service: HashMap<&'static str, usize>,
}

struct FakeCloud {
    specs: Vec<Spec>,
    services: Vec<&'static str>,
    t0: Instant,
    log: Arc<Mutex<Log>>,
}

impl Work for FakeCloud {
    fn run(&self, id: TaskId, progress: Progress) -> BoxFuture<Result<(), TaskError>> {
        let spec = self.specs[id.0].clone();
        let service = self.services[id.0];
        let t0 = self.t0;
        let log = self.log.clone();
        Box::pin(async move {
            {
                let mut l = log.lock().unwrap();
                l.start.insert(id.0, t0.elapsed());
                l.running += 1;
                l.max_running = l.max_running.max(l.running);
                let n = l.running_by_service.entry(service).or_default();
                *n += 1;
                let n = *n;
                let m = l.max_by_service.entry(service).or_default();
                *m = (*m).max(n);
            }
            progress.status("pending");
            tokio::time::sleep(spec.created).await;
            // From here on the task only waits: it counts as working no longer.
            {
                let mut l = log.lock().unwrap();
                l.running -= 1;
                *l.running_by_service.get_mut(service).unwrap() -= 1;
            }
            progress.created();
            tokio::time::sleep(spec.ready - spec.created).await;
            log.lock().unwrap().end.insert(id.0, t0.elapsed());
            if spec.fail {
                Err(TaskError(format!("task {} failed", id.0)))
            } else {
                Ok(())
            }
        })
    }
}

struct Case {
    tasks: Vec<Task>,
    specs: Vec<Spec>,
}

impl Case {
    fn new() -> Case {
        Case { tasks: Vec::new(), specs: Vec::new() }
    }

    fn add(&mut self, service: &'static str, created: Duration, ready: Duration, deps: &[(usize, Need)]) -> usize {
        self.tasks.push(Task {
            name: format!("t{}", self.tasks.len()),
            service,
            estimate: ready,
            deps: deps.iter().map(|(d, n)| (TaskId(*d), *n)).collect(),
        });
        self.specs.push(Spec { created, ready, fail: false });
        self.tasks.len() - 1
    }

    fn fail(&mut self, i: usize) {
        self.specs[i].fail = true;
    }

    async fn run(&self, options: Options, cancel: Cancel) -> (strato_engine::Report, Log, Vec<Event>) {
        let log = Arc::new(Mutex::new(Log::default()));
        let cloud = FakeCloud {
            specs: self.specs.clone(),
            services: self.tasks.iter().map(|t| t.service).collect(),
            t0: Instant::now(),
            log: log.clone(),
        };
        let mut events = Vec::new();
        let report =
            run(&self.tasks, Arc::new(cloud), &options, &cancel, &mut |e: &Event| events.push(e.clone())).await;
        let log = std::mem::take(&mut *log.lock().unwrap());
        (report, log, events)
    }
}

#[tokio::test(start_paused = true)]
async fn independent_objects_run_in_parallel() {
    let mut c = Case::new();
    c.add("rds", MIN, 10 * MIN, &[]);
    c.add("rds", MIN, 10 * MIN, &[]);
    let (report, log, _) = c.run(Options::default(), Cancel::default()).await;
    assert!(report.success());
    assert_eq!(report.elapsed, 10 * MIN, "two 10-minute objects take 10 virtual minutes, not 20");
    assert_eq!(log.max_running, 2);
}

#[tokio::test(start_paused = true)]
async fn created_edges_start_early_and_ready_edges_wait() {
    let mut c = Case::new();
    let nat = c.add("nat", Duration::from_secs(2), Duration::from_secs(100), &[]);
    let tag = c.add("ec2", Duration::from_secs(1), Duration::from_secs(1), &[(nat, Need::Created)]);
    let route = c.add("ec2", Duration::from_secs(1), Duration::from_secs(1), &[(nat, Need::Ready)]);
    let (report, log, events) = c.run(Options::default(), Cancel::default()).await;
    assert!(report.success());
    assert_eq!(log.start[&tag], Duration::from_secs(2), "a created edge starts once the id is known");
    assert_eq!(log.start[&route], Duration::from_secs(100), "a ready edge waits until available");
    assert_eq!(report.elapsed, Duration::from_secs(101));
    let created = events.iter().position(|e| *e == Event::Created { task: TaskId(nat) }).unwrap();
    let started = events.iter().position(|e| *e == Event::Started { task: TaskId(tag) }).unwrap();
    assert!(created < started);
}

#[tokio::test(start_paused = true)]
async fn dependencies_finish_before_dependents_start() {
    let mut c = Case::new();
    let a = c.add("ec2", MIN, 2 * MIN, &[]);
    let b = c.add("ec2", MIN, 3 * MIN, &[(a, Need::Ready)]);
    let d = c.add("ec2", MIN, MIN, &[(a, Need::Ready), (b, Need::Ready)]);
    let (report, log, _) = c.run(Options::default(), Cancel::default()).await;
    assert!(report.success());
    assert!(log.start[&b] >= log.end[&a]);
    assert!(log.start[&d] >= log.end[&b]);
    assert_eq!(report.elapsed, 6 * MIN);
}

#[tokio::test(start_paused = true)]
async fn the_longest_remaining_path_goes_first() {
    let mut c = Case::new();
    let short = c.add("ec2", MIN, MIN, &[]);
    let pole = c.add("rds", MIN, MIN, &[]);
    let _tail = c.add("rds", MIN, 10 * MIN, &[(pole, Need::Ready)]);
    let options = Options { parallelism: 1, ..Options::default() };
    let (report, log, _) = c.run(options, Cancel::default()).await;
    assert!(report.success());
    assert_eq!(log.start[&pole], Duration::ZERO, "the task with 11 minutes behind it starts first");
    assert!(log.start[&short] > log.start[&pole]);
}

#[tokio::test(start_paused = true)]
async fn limits_are_never_exceeded() {
    let mut c = Case::new();
    for i in 0..30 {
        let service = if i % 3 == 0 { "nat" } else { "ec2" };
        c.add(service, Duration::from_secs(1 + i % 4), Duration::from_secs(5 + i % 7), &[]);
    }
    let mut limits = HashMap::new();
    limits.insert("nat", 2);
    let options = Options { parallelism: 4, service_limits: limits, keep_going: false };
    let (report, log, _) = c.run(options, Cancel::default()).await;
    assert!(report.success());
    assert_eq!(log.max_running, 4);
    assert_eq!(log.max_by_service["nat"], 2);
}

#[tokio::test(start_paused = true)]
async fn a_task_that_only_waits_gives_its_slot_back() {
    let mut c = Case::new();
    // One slot: the database's create call takes a minute, then it waits ten more.
    let db = c.add("rds", MIN, 11 * MIN, &[]);
    let quick = c.add("ec2", MIN, MIN, &[]);
    let options = Options { parallelism: 1, service_limits: HashMap::new(), keep_going: false };
    let (report, log, _) = c.run(options, Cancel::default()).await;
    assert!(report.success());
    assert_eq!(log.start[&db], Duration::ZERO);
    // The quick one starts as soon as the database is created, not when it is ready.
    assert_eq!(log.start[&quick], MIN);
    assert_eq!(log.end[&quick], 2 * MIN);
    assert_eq!(log.max_running, 1);
}

#[tokio::test(start_paused = true)]
async fn a_failure_skips_its_dependents_and_stops_new_work() {
    let mut c = Case::new();
    let bad = c.add("ec2", MIN, MIN, &[]);
    let child = c.add("ec2", MIN, MIN, &[(bad, Need::Ready)]);
    let grandchild = c.add("ec2", MIN, MIN, &[(child, Need::Ready)]);
    let slow = c.add("ec2", MIN, 5 * MIN, &[]);
    let later = c.add("ec2", MIN, MIN, &[(slow, Need::Ready)]);
    c.fail(bad);
    let (report, _, events) = c.run(Options::default(), Cancel::default()).await;
    assert!(!report.success());
    assert_eq!(report.outcomes[bad], Outcome::Failed(TaskError("task 0 failed".into())));
    assert_eq!(report.outcomes[child], Outcome::Skipped { because: TaskId(bad) });
    assert_eq!(report.outcomes[grandchild], Outcome::Skipped { because: TaskId(bad) });
    assert_eq!(report.outcomes[slow], Outcome::Done, "running work finishes");
    assert_eq!(report.outcomes[later], Outcome::NotStarted, "nothing new starts after a failure");
    assert_eq!(report.failures().count(), 1, "one root cause, reported once");
    let failed = events.iter().filter(|e| matches!(e, Event::Failed { .. })).count();
    assert_eq!(failed, 1);
}

#[tokio::test(start_paused = true)]
async fn keep_going_runs_everything_independent_of_the_failure() {
    let mut c = Case::new();
    let bad = c.add("ec2", MIN, MIN, &[]);
    let child = c.add("ec2", MIN, MIN, &[(bad, Need::Ready)]);
    let slow = c.add("ec2", MIN, 5 * MIN, &[]);
    let later = c.add("ec2", MIN, MIN, &[(slow, Need::Ready)]);
    c.fail(bad);
    let options = Options { keep_going: true, ..Options::default() };
    let (report, _, _) = c.run(options, Cancel::default()).await;
    assert_eq!(report.outcomes[child], Outcome::Skipped { because: TaskId(bad) });
    assert_eq!(report.outcomes[later], Outcome::Done);
    assert_eq!(report.elapsed, 6 * MIN);
}

#[tokio::test(start_paused = true)]
async fn cancellation_lets_running_work_finish_and_starts_nothing_new() {
    let mut c = Case::new();
    let first = c.add("ec2", MIN, 10 * MIN, &[]);
    let second = c.add("ec2", MIN, MIN, &[(first, Need::Ready)]);
    let cancel = Cancel::default();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(5 * MIN).await;
        trigger.cancel();
    });
    let (report, log, _) = c.run(Options::default(), cancel).await;
    assert!(report.interrupted);
    assert!(!report.success());
    assert_eq!(report.outcomes[first], Outcome::Done);
    assert_eq!(log.end[&first], 10 * MIN, "the running task was not aborted");
    assert_eq!(report.outcomes[second], Outcome::NotStarted);
}

#[tokio::test(start_paused = true)]
async fn a_cancel_before_the_start_runs_nothing() {
    let mut c = Case::new();
    c.add("ec2", MIN, MIN, &[]);
    let cancel = Cancel::default();
    cancel.cancel();
    let (report, log, _) = c.run(Options::default(), cancel).await;
    assert!(report.interrupted);
    assert!(log.start.is_empty());
}
