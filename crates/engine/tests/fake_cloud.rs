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

#[tokio::test(start_paused = true)]
async fn a_task_held_back_by_its_service_starts_when_a_slot_frees() {
    let mut c = Case::new();
    // One NAT slot: three NAT gateways, each created after a minute; the others wait their
    // turn in order of what is behind them, while EC2 work is not held up at all.
    let first = c.add("nat", MIN, 5 * MIN, &[]);
    let low = c.add("nat", MIN, 2 * MIN, &[]);
    let high = c.add("nat", MIN, 2 * MIN, &[]);
    let _tail = c.add("ec2", MIN, 10 * MIN, &[(high, Need::Ready)]);
    let free = c.add("ec2", MIN, MIN, &[]);
    let mut limits = HashMap::new();
    limits.insert("nat", 1);
    let options = Options { parallelism: 8, service_limits: limits, keep_going: false };
    let (report, log, events) = c.run(options, Cancel::default()).await;
    assert!(report.success());
    assert_eq!(log.max_by_service["nat"], 1);
    assert_eq!(log.start[&high], Duration::ZERO, "12 minutes behind it: the first NAT slot is its");
    assert_eq!(log.start[&free], Duration::ZERO, "another service's task is never held back by NAT's limit");
    // Each NAT gateway gives its slot back once created (a minute in), and the next starts then.
    assert_eq!(log.start[&first], MIN);
    assert_eq!(log.start[&low], 2 * MIN);
    let created_first = events.iter().position(|e| *e == Event::Created { task: TaskId(first) }).unwrap();
    let started_low = events.iter().position(|e| *e == Event::Started { task: TaskId(low) }).unwrap();
    assert!(created_first < started_low);
}

#[tokio::test(start_paused = true)]
async fn created_and_ready_edges_are_counted_apart() {
    let mut c = Case::new();
    let vpc = c.add("ec2", Duration::from_secs(2), Duration::from_secs(30), &[]);
    let db = c.add("rds", Duration::from_secs(5), Duration::from_secs(60), &[]);
    // Needs the VPC created and the database ready; the same dependency twice counts once
    // for each edge.
    let both = c.add(
        "ec2",
        Duration::from_secs(1),
        Duration::from_secs(1),
        &[(vpc, Need::Created), (db, Need::Ready), (vpc, Need::Created)],
    );
    // Needs the database only created, and the VPC ready.
    let mixed =
        c.add("ec2", Duration::from_secs(1), Duration::from_secs(1), &[(db, Need::Created), (vpc, Need::Ready)]);
    // A created edge on a task that reports nothing before it finishes: met when it finishes.
    let silent = c.add("ec2", Duration::from_secs(7), Duration::from_secs(7), &[]);
    let after_silent = c.add("ec2", Duration::from_secs(1), Duration::from_secs(1), &[(silent, Need::Created)]);
    let (report, log, _) = c.run(Options::default(), Cancel::default()).await;
    assert!(report.success());
    assert_eq!(log.start[&both], Duration::from_secs(60));
    assert_eq!(log.start[&mixed], Duration::from_secs(30));
    assert_eq!(log.start[&after_silent], Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn a_task_made_ready_by_a_created_edge_is_skipped_when_its_dependency_then_fails() {
    let mut c = Case::new();
    // One NAT slot, held by `busy` for five minutes. `nat` is created after a minute (its
    // slot goes back) and fails at ten; `child` needs it only created, so it is ready at one
    // minute, but waits for a NAT slot that frees only at five... by then `nat` has not
    // failed yet, so `child` starts. `late` needs the same slot and comes after it.
    let busy = c.add("nat", 5 * MIN, 6 * MIN, &[]);
    let nat = c.add("ec2", MIN, 10 * MIN, &[]);
    let child = c.add("nat", MIN, MIN, &[(nat, Need::Created)]);
    let late = c.add("nat", MIN, MIN, &[]);
    // And one that is still held back when the failure comes: skipped, its slot goes on.
    let nat2 = c.add("ec2", Duration::from_secs(30), 2 * MIN, &[]);
    let parked = c.add("efs", MIN, MIN, &[(nat2, Need::Created)]);
    let hog = c.add("efs", 3 * MIN, 3 * MIN, &[]);
    let next_efs = c.add("efs", MIN, MIN, &[]);
    c.fail(nat);
    c.fail(nat2);
    let mut limits = HashMap::new();
    limits.insert("nat", 1);
    limits.insert("efs", 1);
    let options = Options { parallelism: 8, service_limits: limits, keep_going: true };
    let (report, log, _) = c.run(options, Cancel::default()).await;
    assert_eq!(log.start[&busy], Duration::ZERO);
    assert_eq!(log.start[&child], 5 * MIN, "ready at one minute, started when the NAT slot freed");
    assert_eq!(log.start[&late], 6 * MIN);
    assert_eq!(report.outcomes[child], Outcome::Done, "it had started before its dependency failed");
    // `parked` was ready at 30 s and held back by `hog` until three minutes; `nat2` failed
    // at two: `parked` never starts, and the EFS slot goes to the next EFS task.
    assert_eq!(log.start[&hog], Duration::ZERO);
    assert_eq!(report.outcomes[parked], Outcome::Skipped { because: TaskId(nat2) });
    assert!(!log.start.contains_key(&parked));
    assert_eq!(log.start[&next_efs], 3 * MIN);
    assert_eq!(report.outcomes[next_efs], Outcome::Done);
}

#[tokio::test(start_paused = true)]
async fn cancellation_starts_nothing_that_was_held_back() {
    let mut c = Case::new();
    let hog = c.add("nat", 10 * MIN, 10 * MIN, &[]);
    let held = c.add("nat", MIN, MIN, &[]);
    let free = c.add("ec2", MIN, MIN, &[(hog, Need::Created)]);
    let mut limits = HashMap::new();
    limits.insert("nat", 1);
    let cancel = Cancel::default();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(5 * MIN).await;
        trigger.cancel();
    });
    let options = Options { parallelism: 8, service_limits: limits, keep_going: false };
    let (report, log, _) = c.run(options, cancel).await;
    assert!(report.interrupted);
    assert_eq!(report.outcomes[hog], Outcome::Done);
    assert_eq!(report.outcomes[held], Outcome::NotStarted, "its slot freed after the cancel");
    assert_eq!(report.outcomes[free], Outcome::NotStarted);
    assert_eq!(log.start.len(), 1);
}

/// A seeded generator for the random schedules below.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Checks a run's events against the scheduling rule, replayed from the events alone:
/// every task that starts is, at that moment, the best of the tasks whose dependencies are
/// met and whose service has room (the longest remaining path first, then the lowest
/// index), the global limit has room, and nothing starts after a failure (without
/// `keep_going`).
fn check_schedule(tasks: &[Task], options: &Options, events: &[Event]) {
    let n = tasks.len();
    // Longest remaining path, own estimate included; the generated graphs point backwards.
    let mut rank = vec![Duration::ZERO; n];
    for i in (0..n).rev() {
        let tail = (0..n).filter(|&j| tasks[j].deps.iter().any(|(d, _)| d.0 == i)).map(|j| rank[j]).max();
        rank[i] = tasks[i].estimate + tail.unwrap_or_default();
    }
    let (mut created, mut finished, mut started, mut holding) =
        (vec![false; n], vec![false; n], vec![false; n], vec![false; n]);
    let mut failed_once = false;
    for (k, e) in events.iter().enumerate() {
        match *e {
            Event::Started { task } => {
                assert!(options.keep_going || !failed_once, "event {k}: {task:?} started after a failure");
                let running = holding.iter().filter(|h| **h).count();
                assert!(running < options.parallelism, "event {k}: over the global limit");
                let room = |s: &str| {
                    let busy = (0..n).filter(|&j| holding[j] && tasks[j].service == s).count();
                    busy < options.service_limits.get(s).copied().unwrap_or(usize::MAX)
                };
                let met = |i: usize| {
                    tasks[i].deps.iter().all(|(d, need)| match need {
                        Need::Created => created[d.0] || finished[d.0],
                        Need::Ready => finished[d.0],
                    })
                };
                let best = (0..n)
                    .filter(|&i| !started[i] && met(i) && room(tasks[i].service))
                    .max_by(|&a, &b| rank[a].cmp(&rank[b]).then(b.cmp(&a)));
                assert_eq!(best, Some(task.0), "event {k}: started {task:?}, the rule says {best:?}");
                started[task.0] = true;
                holding[task.0] = true;
            }
            Event::Created { task } => {
                created[task.0] = true;
                holding[task.0] = false;
            }
            Event::Finished { task, .. } => {
                finished[task.0] = true;
                created[task.0] = true;
                holding[task.0] = false;
            }
            Event::Failed { task, .. } => {
                holding[task.0] = false;
                failed_once = true;
            }
            // A skipped task never starts: count it as started so that it is no candidate.
            Event::Skipped { task, .. } => started[task.0] = true,
            Event::Status { .. } => {}
        }
    }
}

#[tokio::test(start_paused = true)]
async fn random_graphs_start_in_the_order_of_the_rule() {
    let services = ["ec2", "nat", "rds", "efs"];
    for seed in 1..=60u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut c = Case::new();
        let n = 20 + rng.below(40) as usize;
        for i in 0..n {
            let mut deps = Vec::new();
            if i > 0 {
                for _ in 0..rng.below(4) {
                    let need = if rng.below(2) == 0 { Need::Created } else { Need::Ready };
                    deps.push((rng.below(i as u64) as usize, need));
                }
            }
            let created = Duration::from_secs(1 + rng.below(30));
            let ready = created + Duration::from_secs(rng.below(300));
            let t = c.add(services[rng.below(4) as usize], created, ready, &deps);
            if rng.below(25) == 0 {
                c.fail(t);
            }
        }
        let mut limits = HashMap::new();
        limits.insert("nat", 1 + rng.below(2) as usize);
        limits.insert("rds", 1 + rng.below(3) as usize);
        limits.insert("efs", 1);
        let options =
            Options { parallelism: 2 + rng.below(6) as usize, service_limits: limits, keep_going: rng.below(2) == 0 };
        let (report, _, events) = c.run(options.clone(), Cancel::default()).await;
        check_schedule(&c.tasks, &options, &events);
        if report.failures().count() == 0 {
            assert!(report.success(), "seed {seed}: every task runs when nothing fails");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_slot_offered_to_a_task_that_is_then_skipped_goes_to_the_next_one() {
    let mut c = Case::new();
    // Three slots; one EFS slot, held by `hog` for its first minute.
    let hog = c.add("efs", MIN, 2 * MIN, &[]);
    let long = c.add("ec2", 10 * MIN, 10 * MIN, &[]);
    let doomed = c.add("ec2", Duration::from_secs(30), 5 * MIN, &[]);
    // Both held back by `hog` from 30 s on; `first` (the lower index) is offered the EFS slot
    // when `hog` is created, but `heavy` takes the last global slot at that moment, and
    // `doomed` fails before `first` can start.
    let first = c.add("efs", MIN, MIN, &[(doomed, Need::Created)]);
    let second = c.add("efs", MIN, MIN, &[]);
    let filler = c.add("ec2", 10 * MIN, 10 * MIN, &[]);
    c.tasks[filler].estimate = Duration::from_secs(10);
    let heavy = c.add("ec2", 20 * MIN, 20 * MIN, &[(hog, Need::Created)]);
    c.fail(doomed);
    let mut limits = HashMap::new();
    limits.insert("efs", 1);
    let options = Options { parallelism: 3, service_limits: limits, keep_going: true };
    let (report, log, events) = c.run(options.clone(), Cancel::default()).await;
    check_schedule(&c.tasks, &options, &events);
    assert_eq!([log.start[&hog], log.start[&long], log.start[&doomed]], [Duration::ZERO; 3]);
    assert_eq!(log.start[&filler], Duration::from_secs(30));
    assert_eq!(log.start[&heavy], MIN);
    assert_eq!(report.outcomes[first], Outcome::Skipped { because: TaskId(doomed) });
    // The EFS slot is free from one minute on; the first global slot frees at ten.
    assert_eq!(log.start.get(&second), Some(&(10 * MIN)));
    assert_eq!(report.outcomes[second], Outcome::Done);
}
