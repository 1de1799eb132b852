//! The benchmark: for each seed, one provision and one destroy of a graph by strato (its
//! engine, its task lists, its limits, meter, retry policy and poll schedules), the same
//! by a Terraform-style policy, both on the simulated cloud with that seed's durations, and
//! the critical path of those durations: the lower bound no scheduler can beat.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use strato_cloud::limits::AWS_LIMITS;
use strato_cloud::waits::RETRY;
use strato_cloud::{destroy_tasks, explicit_destroy_tasks, provision_tasks, service_limits};
use strato_engine::pace::{Meter, RetryPolicy};
use strato_engine::{Cancel, Need, Options, Task};
use strato_graph::{Desired, Graph, Kind, NodeId};
use strato_state::{Object, State, Status};

use crate::cloud::{ClientPolicy, Cloud, Stats};
use crate::work::{Phase, Shared, SimWork, Waiting};

/// What a benchmark runs.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The share of every bucket's refill that other clients of the account use.
    pub background: f64,
    /// strato's engine parallelism (the CLI's default).
    pub parallelism: usize,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup { background: 0.2, parallelism: 32 }
    }
}

/// Terraform's defaults: 10 resources at once (`-parallelism=10`), 25 attempts of a
/// throttled call (the provider's `MaxRetries` for EC2), no client-side rate limit.
pub const TERRAFORM_PARALLELISM: usize = 10;
pub const TERRAFORM_RETRY: RetryPolicy = RetryPolicy { max_attempts: 25, ..RETRY };
/// Terraform's waiters check every 10 s once their delay has passed.
pub const TERRAFORM_POLL: Duration = Duration::from_secs(10);

/// One run of one policy.
#[derive(Clone, Debug)]
pub struct Run {
    pub makespan: Duration,
    pub stats: Stats,
    pub failures: Vec<String>,
}

/// Everything one seed measured.
#[derive(Clone, Debug)]
pub struct SeedResult {
    pub seed: u64,
    pub objects: usize,
    pub strato: (Run, Run),
    pub terraform: (Run, Run),
    /// The critical paths of provision and destroy.
    pub critical: (Duration, Duration),
}

/// The state a provision of `graph` records, as destroy reads it: each object's kind, what
/// it depends on in AWS, and the attributes the destroy order looks at.
pub fn recorded_state(graph: &Graph) -> State {
    let mut state = State::new("sim", "us-east-1");
    for (i, n) in graph.nodes().iter().enumerate() {
        let mut o = Object::new(n.kind.as_str());
        o.status = Status::Ready;
        o.id = Some(format!("{}-{i}", n.kind));
        o.depends_on = graph.uses(NodeId(i)).map(|d| graph.node(d).address.to_string()).collect();
        match &n.desired {
            Some(Desired::Instance(spec)) if spec.public_ip => {
                o.attributes.insert("public_ip".into(), format!("198.51.100.{}", i % 250));
            }
            Some(Desired::LoadBalancer { internet_facing, .. }) => {
                let scheme = if *internet_facing { "internet-facing" } else { "internal" };
                o.attributes.insert("scheme".into(), scheme.into());
            }
            _ => {}
        }
        state.objects.insert(n.address.to_string(), o);
    }
    state
}

/// The destroy tasks strato builds from that state, the node of each, and which nodes go
/// with another's delete (strato makes no call for them).
pub fn destroy_plan(graph: &Graph) -> (Vec<Task>, Vec<usize>, Vec<bool>) {
    let state = recorded_state(graph);
    let (tasks, addresses, implied_by) = destroy_tasks(&state);
    let index: HashMap<String, usize> =
        graph.nodes().iter().enumerate().map(|(i, n)| (n.address.to_string(), i)).collect();
    let objects = addresses.iter().map(|a| index[a]).collect();
    let mut implied = vec![false; graph.nodes().len()];
    for child in implied_by.keys() {
        implied[index[child]] = true;
    }
    (tasks, objects, implied)
}

/// Terraform's destroy: every object deleted by its own call, in the same order otherwise.
fn terraform_destroy(graph: &Graph) -> Vec<Task> {
    terraform_tasks(&explicit_destroy_tasks(&recorded_state(graph)).0)
}

/// Terraform's view of the same tasks: a resource starts once everything it depends on is
/// complete, and resources that are free at the same time start in graph order.
fn terraform_tasks(tasks: &[Task]) -> Vec<Task> {
    tasks
        .iter()
        .map(|t| Task {
            estimate: Duration::ZERO,
            deps: t.deps.iter().map(|(d, _)| (*d, Need::Ready)).collect(),
            ..t.clone()
        })
        .collect()
}

/// The longest path through the provision tasks with the cloud's sampled times: each
/// object starts when its dependencies reach the stage it needs, is created after its
/// create call's answer and is ready after its sampled time.
pub fn critical_provision(tasks: &[Task], cloud: &Cloud) -> Duration {
    let n = tasks.len();
    let mut start = vec![Duration::ZERO; n];
    for _ in 0..=n {
        let mut changed = false;
        for i in 0..n {
            let s = tasks[i]
                .deps
                .iter()
                .map(|(d, need)| {
                    let base = start[d.0];
                    match need {
                        Need::Created => base + cloud.samples[d.0].create,
                        Need::Ready => base + cloud.samples[d.0].ready,
                    }
                })
                .max()
                .unwrap_or_default();
            if s > start[i] {
                start[i] = s;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    (0..n).map(|i| start[i] + cloud.samples[i].ready).max().unwrap_or_default()
}

/// The longest path through the destroy tasks with the cloud's sampled times, AWS's waits
/// included: a subnet or security group is deleted only once the network interfaces in it
/// are released, an internet gateway detached only once nothing maps a public address.
pub fn critical_destroy(tasks: &[Task], objects: &[usize], implied: &[bool], cloud: &Cloud) -> Duration {
    let n = tasks.len();
    let mut finish = vec![Duration::ZERO; n];
    let task_of: HashMap<usize, usize> = objects.iter().enumerate().map(|(t, &o)| (o, t)).collect();
    for _ in 0..=n {
        let mut changed = false;
        for t in 0..n {
            let obj = objects[t];
            let mut s = tasks[t].deps.iter().map(|(d, _)| finish[d.0]).max().unwrap_or_default();
            let kind = cloud.kinds[obj];
            for (j, r) in cloud.relations.iter().enumerate() {
                let holds = match kind {
                    Kind::Subnet | Kind::SecurityGroup => r.interfaces_in.contains(&obj),
                    Kind::InternetGateway => r.public,
                    _ => false,
                };
                if let (true, Some(&tj)) = (holds, task_of.get(&j)) {
                    s = s.max(finish[tj] + cloud.samples[j].linger);
                }
            }
            // What goes with another's delete takes no time of its own.
            let f = if implied[obj] { s } else { s + cloud.samples[obj].gone };
            if f > finish[t] {
                finish[t] = f;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    finish.into_iter().max().unwrap_or_default()
}

async fn run_phase(
    cloud: &Arc<Cloud>,
    tasks: &[Task],
    objects: Vec<usize>,
    phase: Phase,
    options: &Options,
    waiting: Waiting,
    implied: &[bool],
) -> Run {
    cloud.reset_stats();
    let work = Shared(Arc::new(SimWork { cloud: cloud.clone(), phase, objects, waiting, implied: implied.to_vec() }));
    let report = strato_engine::run(tasks, Arc::new(work), options, &Cancel::default(), &mut |_| {}).await;
    let mut failures: Vec<String> = report.failures().map(|(_, e)| e.0.clone()).collect();
    let not_done = report.count(|o| *o != strato_engine::Outcome::Done);
    if failures.is_empty() && not_done > 0 {
        failures.push(format!("{not_done} tasks did not finish"));
    }
    Run { makespan: report.elapsed, stats: cloud.stats(), failures }
}

/// A provision, the destroy after it, and their critical paths.
type Lifecycle = (Run, Run, (Duration, Duration));

/// Provision then destroy of `graph` on the cloud of `seed`, by one policy.
async fn lifecycle(graph: &Graph, seed: u64, setup: &Setup, terraform: bool) -> Lifecycle {
    let policy = if terraform {
        ClientPolicy { meter: None, retry: TERRAFORM_RETRY }
    } else {
        ClientPolicy { meter: Some(Meter::new(AWS_LIMITS)), retry: RETRY }
    };
    let cloud = Arc::new(Cloud::new(graph, seed, setup.background, policy));
    let mut provision = provision_tasks(graph);
    let (mut destroy, objects, mut implied) = destroy_plan(graph);
    let critical = (critical_provision(&provision, &cloud), critical_destroy(&destroy, &objects, &implied, &cloud));
    let (options, waiting) = if terraform {
        provision = terraform_tasks(&provision);
        destroy = terraform_destroy(graph);
        implied = vec![false; implied.len()];
        let options = Options { parallelism: TERRAFORM_PARALLELISM, service_limits: HashMap::new(), keep_going: false };
        (options, Waiting::Terraform { every: TERRAFORM_POLL })
    } else {
        let options = Options { parallelism: setup.parallelism, service_limits: service_limits(), keep_going: false };
        (options, Waiting::Strato)
    };
    let n = graph.nodes().len();
    let mut p =
        run_phase(&cloud, &provision, (0..n).collect(), Phase::Provision, &options, waiting.clone(), &implied).await;
    if p.failures.is_empty() && !cloud.all_ready() {
        p.failures.push("the provision ended with objects not ready".into());
    }
    if !p.failures.is_empty() {
        // Destroy what the provision left: as the state would record it, every object.
        cloud.assume_provisioned();
    }
    let mut d = run_phase(&cloud, &destroy, objects, Phase::Destroy, &options, waiting, &implied).await;
    if d.failures.is_empty() && !cloud.all_gone() {
        d.failures.push("the destroy left objects or network interfaces behind".into());
    }
    (p, d, critical)
}

/// One seed: strato and the Terraform-style policy, each on a fresh cloud of that seed.
pub fn run_seed(graph: &Graph, seed: u64, setup: &Setup) -> SeedResult {
    let rt = |f: std::pin::Pin<Box<dyn std::future::Future<Output = Lifecycle>>>| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime builds")
            .block_on(f)
    };
    let (sp, sd, critical) = rt(Box::pin(lifecycle(graph, seed, setup, false)));
    let (tp, td, _) = rt(Box::pin(lifecycle(graph, seed, setup, true)));
    SeedResult { seed, objects: graph.nodes().len(), strato: (sp, sd), terraform: (tp, td), critical }
}

/// The `q` quantile (nearest rank) of `xs`.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// The p50 and p90 of one measure over the seeds.
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    pub p50: f64,
    pub p90: f64,
}

impl Spread {
    fn of(xs: &[f64]) -> Spread {
        Spread { p50: quantile(xs, 0.5), p90: quantile(xs, 0.9) }
    }
}

/// One phase summarised over the seeds.
#[derive(Clone, Debug)]
pub struct PhaseSummary {
    pub strato: Spread,
    pub critical: Spread,
    pub terraform: Spread,
    /// strato's p50 over the critical path's p50, and over Terraform's.
    pub strato_over_critical: f64,
    pub strato_over_terraform: f64,
    /// The worst seed's strato / critical path.
    pub worst_over_critical: f64,
    /// strato / Terraform-style seed by seed (the same sampled cloud): p50 and worst.
    pub paired_over_terraform: Spread,
    pub worst_over_terraform: f64,
    pub strato_calls_per_object: f64,
    pub terraform_calls_per_object: f64,
    pub strato_throttled: u64,
    pub terraform_throttled: u64,
    pub strato_max_retries: u32,
    pub terraform_max_retries: u32,
    pub strato_refusals: usize,
    pub terraform_refusals: usize,
    pub strato_failures: Vec<String>,
    pub terraform_failures: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Summary {
    pub seeds: usize,
    pub objects: usize,
    pub background: f64,
    pub provision: PhaseSummary,
    pub destroy: PhaseSummary,
    /// The most retries strato's policy allows one call.
    pub retry_limit: u32,
}

pub fn summarise(results: &[SeedResult], setup: &Setup) -> Summary {
    let secs = |d: Duration| d.as_secs_f64();
    let phase = |pick: &dyn Fn(&SeedResult) -> (&Run, &Run, Duration)| {
        let rows: Vec<(&Run, &Run, Duration)> = results.iter().map(pick).collect();
        let s: Vec<f64> = rows.iter().map(|r| secs(r.0.makespan)).collect();
        let t: Vec<f64> = rows.iter().map(|r| secs(r.1.makespan)).collect();
        let c: Vec<f64> = rows.iter().map(|r| secs(r.2)).collect();
        let objects = results.first().map_or(1, |r| r.objects).max(1) as f64;
        let calls = |f: &dyn Fn(&(&Run, &Run, Duration)) -> u64| {
            rows.iter().map(f).sum::<u64>() as f64 / rows.len().max(1) as f64 / objects
        };
        let (strato, critical, terraform) = (Spread::of(&s), Spread::of(&c), Spread::of(&t));
        let failures = |terraform: bool| -> Vec<String> {
            rows.iter()
                .zip(results)
                .flat_map(|(r, res)| {
                    let run = if terraform { r.1 } else { r.0 };
                    run.failures.iter().map(move |e| format!("seed {}: {e}", res.seed))
                })
                .collect()
        };
        PhaseSummary {
            strato,
            critical,
            terraform,
            strato_over_critical: strato.p50 / critical.p50,
            strato_over_terraform: strato.p50 / terraform.p50,
            worst_over_critical: s.iter().zip(&c).map(|(a, b)| a / b).fold(0.0, f64::max),
            paired_over_terraform: Spread::of(&s.iter().zip(&t).map(|(a, b)| a / b).collect::<Vec<_>>()),
            worst_over_terraform: s.iter().zip(&t).map(|(a, b)| a / b).fold(0.0, f64::max),
            strato_calls_per_object: calls(&|r| r.0.stats.calls),
            terraform_calls_per_object: calls(&|r| r.1.stats.calls),
            strato_throttled: rows.iter().map(|r| r.0.stats.throttled).sum(),
            terraform_throttled: rows.iter().map(|r| r.1.stats.throttled).sum(),
            strato_max_retries: rows.iter().map(|r| r.0.stats.max_retries).max().unwrap_or(0),
            terraform_max_retries: rows.iter().map(|r| r.1.stats.max_retries).max().unwrap_or(0),
            strato_refusals: rows.iter().map(|r| r.0.stats.refusals.len()).sum(),
            terraform_refusals: rows.iter().map(|r| r.1.stats.refusals.len()).sum(),
            strato_failures: failures(false),
            terraform_failures: failures(true),
        }
    };
    Summary {
        seeds: results.len(),
        objects: results.first().map_or(0, |r| r.objects),
        background: setup.background,
        provision: phase(&|r| (&r.strato.0, &r.terraform.0, r.critical.0)),
        destroy: phase(&|r| (&r.strato.1, &r.terraform.1, r.critical.1)),
        retry_limit: RETRY.max_attempts - 1,
    }
}

/// The summary as a table.
pub fn table(s: &Summary) -> String {
    let mut out = format!(
        "strato on the simulated AWS: {} seeds, {} objects, other clients using {:.0}% of every API bucket's refill\n\n",
        s.seeds,
        s.objects,
        s.background * 100.0
    );
    out += &format!(
        "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}\n",
        "", "strato", "", "critical", "", "TF-style", "", "strato/", "strato/"
    );
    out += &format!(
        "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}\n",
        "phase", "p50", "p90", "p50", "p90", "p50", "p90", "critical", "TF"
    );
    for (name, p) in [("provision", &s.provision), ("destroy", &s.destroy)] {
        out += &format!(
            "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8.3} {:>8.3}\n",
            name,
            mmss(p.strato.p50),
            mmss(p.strato.p90),
            mmss(p.critical.p50),
            mmss(p.critical.p90),
            mmss(p.terraform.p50),
            mmss(p.terraform.p90),
            p.strato_over_critical,
            p.strato_over_terraform
        );
    }
    out += "\n";
    out += &format!(
        "{:<10} {:>14} {:>14} {:>10} {:>10} {:>12} {:>12}\n",
        "phase", "calls/object", "TF calls/obj", "throttled", "TF thrtl", "max retries", "refused"
    );
    for (name, p) in [("provision", &s.provision), ("destroy", &s.destroy)] {
        out += &format!(
            "{:<10} {:>14.2} {:>14.2} {:>10} {:>10} {:>12} {:>5} (TF {})\n",
            name,
            p.strato_calls_per_object,
            p.terraform_calls_per_object,
            p.strato_throttled,
            p.terraform_throttled,
            format!("{} of {}", p.strato_max_retries, s.retry_limit),
            p.strato_refusals,
            p.terraform_refusals
        );
    }
    out += &format!(
        "\nworst seed, strato / critical path: provision {:.3}, destroy {:.3}\n",
        s.provision.worst_over_critical, s.destroy.worst_over_critical
    );
    out += &format!(
        "seed by seed, strato / TF-style: provision p50 {:.3} (worst {:.3}), destroy p50 {:.3} (worst {:.3})\n",
        s.provision.paired_over_terraform.p50,
        s.provision.worst_over_terraform,
        s.destroy.paired_over_terraform.p50,
        s.destroy.worst_over_terraform
    );
    for (name, p) in [("provision", &s.provision), ("destroy", &s.destroy)] {
        for f in p.strato_failures.iter().take(5) {
            out += &format!("strato {name} failed: {f}\n");
        }
        for f in p.terraform_failures.iter().take(5) {
            out += &format!("TF-style {name} failed: {f}\n");
        }
    }
    out
}

/// `12:09.4`.
pub fn mmss(secs: f64) -> String {
    let tenths = (secs * 10.0).round() as u64;
    format!("{}:{:02}.{}", tenths / 600, tenths % 600 / 10, tenths % 10)
}

/// The summary and every seed as JSON (`"version": 1`).
pub fn json(s: &Summary, results: &[SeedResult]) -> serde_json::Value {
    use serde_json::json;
    let spread = |x: &Spread| json!({ "p50": x.p50, "p90": x.p90 });
    let phase = |p: &PhaseSummary| {
        json!({
            "strato_secs": spread(&p.strato),
            "critical_path_secs": spread(&p.critical),
            "terraform_secs": spread(&p.terraform),
            "strato_over_critical_path": p.strato_over_critical,
            "strato_over_terraform": p.strato_over_terraform,
            "worst_strato_over_critical_path": p.worst_over_critical,
            "paired_strato_over_terraform": spread(&p.paired_over_terraform),
            "worst_strato_over_terraform": p.worst_over_terraform,
            "strato_calls_per_object": p.strato_calls_per_object,
            "terraform_calls_per_object": p.terraform_calls_per_object,
            "strato_throttled": p.strato_throttled,
            "terraform_throttled": p.terraform_throttled,
            "strato_max_retries": p.strato_max_retries,
            "terraform_max_retries": p.terraform_max_retries,
            "strato_refusals": p.strato_refusals,
            "terraform_refusals": p.terraform_refusals,
            "strato_failures": p.strato_failures,
            "terraform_failures": p.terraform_failures,
        })
    };
    // One phase of one seed: strato's run, its critical path, the Terraform-style run.
    let seed_phase = |strato: &Run, critical: Duration, terraform: &Run| {
        json!({
            "strato_secs": strato.makespan.as_secs_f64(),
            "critical_path_secs": critical.as_secs_f64(),
            "terraform_secs": terraform.makespan.as_secs_f64(),
            "strato_calls": strato.stats.calls,
            "terraform_calls": terraform.stats.calls,
            "strato_throttled": strato.stats.throttled,
        })
    };
    let seeds: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            json!({
                "seed": r.seed,
                "provision": seed_phase(&r.strato.0, r.critical.0, &r.terraform.0),
                "destroy": seed_phase(&r.strato.1, r.critical.1, &r.terraform.1),
            })
        })
        .collect();
    json!({
        "version": 1,
        "seeds": s.seeds,
        "objects": s.objects,
        "background": s.background,
        "retry_limit": s.retry_limit,
        "provision": phase(&s.provision),
        "destroy": phase(&s.destroy),
        "per_seed": seeds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_and_times_read_right() {
        let xs = [5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(quantile(&xs, 0.5), 3.0);
        assert_eq!(quantile(&xs, 0.9), 5.0);
        assert_eq!(mmss(59.96), "1:00.0");
        assert_eq!(mmss(729.44), "12:09.4");
    }
}
