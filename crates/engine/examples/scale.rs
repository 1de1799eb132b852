//! Benchmark (not a test) of the engine's own overhead at scale.
//!
//! ```text
//! cargo run --release -p strato-engine --example scale [TASKS...]   (default 10000 100000)
//! ```
//!
//! Builds a layered random DAG (seeded, so every run schedules the same graph): layers of
//! up to 1,000 tasks, each task with one to four dependencies on the three layers before it,
//! a mix of *created* and *ready* edges, five services of which four have limits. The work
//! completes at once (it yields, reports *created*, yields again and returns), so the wall
//! time of [`strato_engine::run`] is the engine's overhead: its bookkeeping, its events and
//! tokio's task spawning. Peak memory is the process's high-water mark (`VmHWM` in
//! `/proc/self/status`); run one size per process to read each size's own peak.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use strato_engine::{run, BoxFuture, Cancel, Event, Need, Options, Outcome, Progress, Task, TaskError, TaskId, Work};

const SERVICES: [&str; 5] = ["ec2", "nat", "rds", "elb", "efs"];
const LIMITS: [(&str, usize); 4] = [("nat", 2), ("rds", 4), ("elb", 3), ("efs", 1)];

/// xorshift64*: a seeded generator, enough for a synthetic graph.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn graph(n: usize, seed: u64) -> Vec<Task> {
    const LAYER: usize = 1000;
    let mut rng = Rng(seed | 1);
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let layer_start = i / LAYER * LAYER;
        let mut deps = Vec::new();
        if layer_start > 0 {
            // Dependencies on the (up to) three layers before this one.
            let lo = layer_start.saturating_sub(3 * LAYER);
            for _ in 0..1 + rng.below(4) {
                let d = lo + rng.below(layer_start - lo);
                let need = if rng.below(3) == 0 { Need::Created } else { Need::Ready };
                deps.push((TaskId(d), need));
            }
        }
        // Weighted towards ec2, as a real graph is.
        let service = SERVICES[[0, 0, 0, 0, 1, 2, 3, 4][rng.below(8)]];
        tasks.push(Task {
            name: format!("task.{i}"),
            service,
            estimate: Duration::from_millis(1 + rng.below(600_000) as u64),
            deps,
        });
    }
    tasks
}

/// Work that is done at once.
struct Instant0 {
    calls: AtomicUsize,
}

impl Work for Instant0 {
    fn run(&self, _id: TaskId, progress: Progress) -> BoxFuture<Result<(), TaskError>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            tokio::task::yield_now().await;
            progress.created();
            tokio::task::yield_now().await;
            Ok(())
        })
    }
}

/// The process's peak resident memory, in MiB.
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let sizes: Vec<usize> = {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.is_empty() {
            vec![10_000, 100_000]
        } else {
            match args.iter().map(|a| a.replace('_', "").parse()).collect::<Result<Vec<usize>, _>>() {
                Ok(sizes) => sizes,
                Err(_) => {
                    eprintln!("usage: scale [TASKS...]   (task counts, e.g. 10000 100000)");
                    std::process::exit(2);
                }
            }
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let options = Options {
        parallelism: 32,
        service_limits: LIMITS.iter().copied().collect::<HashMap<_, _>>(),
        keep_going: false,
    };
    println!("strato-engine scale: layered random DAG, 1-4 deps per task, limits {LIMITS:?}, parallelism 32");
    println!("{:>9} {:>10} {:>12} {:>10} {:>12}", "tasks", "edges", "engine", "events", "peak RSS");
    for n in sizes {
        let tasks = graph(n, 0x5eed_0000 + n as u64);
        let edges: usize = tasks.iter().map(|t| t.deps.len()).sum();
        let work = Arc::new(Instant0 { calls: AtomicUsize::new(0) });
        let mut events = 0usize;
        let t0 = Instant::now();
        let report = runtime.block_on(run(&tasks, work.clone(), &options, &Cancel::default(), &mut |e: &Event| {
            // Something a reporter would do with each event, kept cheap.
            if !matches!(e, Event::Status { .. }) {
                events += 1;
            }
        }));
        let elapsed = t0.elapsed();
        let done = report.outcomes.iter().filter(|o| **o == Outcome::Done).count();
        if done != n || work.calls.load(Ordering::Relaxed) != n {
            eprintln!("scale: only {done} of {n} tasks done");
            std::process::exit(1);
        }
        let peak = peak_mib().map_or("?".to_string(), |m| format!("{m:.1} MiB"));
        println!("{n:>9} {edges:>10} {:>10.3} s {events:>10} {peak:>12}", elapsed.as_secs_f64());
    }
}
