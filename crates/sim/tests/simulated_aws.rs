//! The reference architecture on the simulated AWS, for a handful of seeds: strato stays
//! within 2% of the critical path of the sampled durations at p50 and ahead of a
//! Terraform-style policy, provisioning and destroying; no call is retried beyond its
//! policy under AWS's rate limits (other clients using a fifth of them); AWS refuses none of
//! strato's deletes; and a seed replays exactly. A regression in scheduling, polling, the
//! meter or the destroy order fails here.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use strato_cloud::waits::RETRY;
use strato_engine::pace::Meter;
use strato_sim::bench::{run_seed, summarise, Setup};
use strato_sim::cloud::{ClientPolicy, Cloud};

fn reference() -> strato_graph::Graph {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy-specs/wso2-apim-ei.toml");
    strato_sim::load_graph(&spec).expect("the reference spec is valid")
}

#[test]
fn strato_keeps_to_the_critical_path_and_ahead_of_terraform() {
    let graph = reference();
    let setup = Setup::default();
    let results: Vec<_> = (1..=7).map(|seed| run_seed(&graph, seed, &setup)).collect();
    let s = summarise(&results, &setup);
    for (name, p) in [("provision", &s.provision), ("destroy", &s.destroy)] {
        assert!(p.strato_failures.is_empty(), "{name}: {:?}", p.strato_failures);
        assert!(p.terraform_failures.is_empty(), "{name}: {:?}", p.terraform_failures);
        assert!(p.strato_over_critical <= 1.02, "{name}: strato / critical path {:.4}", p.strato_over_critical);
        assert!(p.strato_over_terraform < 1.0, "{name}: strato / TF-style {:.4}", p.strato_over_terraform);
        let paired = p.paired_over_terraform.p50;
        assert!(paired < 1.0, "{name}: strato / TF-style seed by seed, p50 {paired:.4}");
        assert!(p.strato_max_retries < RETRY.max_attempts, "{name}: {} retries", p.strato_max_retries);
        assert_eq!(p.strato_refusals, 0, "{name}: AWS refused strato's order");
        // Polling that notices readiness soon without flooding the API.
        assert!(p.strato_calls_per_object < 15.0, "{name}: {:.1} calls per object", p.strato_calls_per_object);
    }
    for r in &results {
        // The critical path is a lower bound: a run that beats it measures nothing.
        assert!(r.strato.0.makespan >= r.critical.0, "seed {}: provision beat its critical path", r.seed);
        assert!(r.strato.1.makespan >= r.critical.1, "seed {}: destroy beat its critical path", r.seed);
        assert_eq!(r.strato.0.stats.exhausted + r.strato.1.stats.exhausted, 0, "seed {}", r.seed);
    }
}

#[test]
fn a_busy_account_throttles_and_strato_adapts() {
    // Other clients take half of every bucket's refill: strato's meter, set to nine tenths
    // of AWS's rates, is throttled, cuts its rate and retries within its policy.
    let graph = reference();
    let setup = Setup { background: 0.5, ..Setup::default() };
    let results: Vec<_> = (1..=5).map(|seed| run_seed(&graph, seed, &setup)).collect();
    let s = summarise(&results, &setup);
    assert!(s.provision.strato_throttled > 0, "no throttling at all: the buckets are not simulated");
    for (name, p) in [("provision", &s.provision), ("destroy", &s.destroy)] {
        assert!(p.strato_failures.is_empty(), "{name}: {:?}", p.strato_failures);
        assert!(p.strato_max_retries < RETRY.max_attempts, "{name}: {} retries", p.strato_max_retries);
        assert!(p.strato_over_critical <= 1.02, "{name}: strato / critical path {:.4}", p.strato_over_critical);
    }
}

#[test]
fn a_seed_replays_and_seeds_differ() {
    let graph = reference();
    let setup = Setup::default();
    let (a, b, c) = (run_seed(&graph, 3, &setup), run_seed(&graph, 3, &setup), run_seed(&graph, 4, &setup));
    assert_eq!(a.strato.0.makespan, b.strato.0.makespan);
    assert_eq!(a.strato.1.makespan, b.strato.1.makespan);
    assert_eq!(a.strato.0.stats.calls, b.strato.0.stats.calls);
    assert_ne!(a.critical, c.critical);
}

#[test]
fn a_full_lifecycle_takes_well_under_a_second() {
    let graph = reference();
    let started = std::time::Instant::now();
    let r = run_seed(&graph, 11, &Setup::default());
    let real = started.elapsed();
    // strato and the Terraform-style policy, each a provision and a destroy: twenty-odd
    // minutes of AWS's time each.
    assert!(r.strato.0.makespan > Duration::from_secs(600));
    assert!(real < Duration::from_secs(2), "{real:?} of real time for two simulated lifecycles");
}

#[tokio::test(start_paused = true)]
async fn the_cloud_refuses_what_aws_refuses() {
    let graph = reference();
    let policy = ClientPolicy { meter: Some(Meter::new(strato_cloud::limits::AWS_LIMITS)), retry: RETRY };
    let cloud = Arc::new(Cloud::new(&graph, 1, 0.0, policy));
    cloud.assume_provisioned();
    let find = |a: &str| graph.find(a).unwrap_or_else(|| panic!("{a}")).0;
    let (subnet, igw, lb) = (find("subnet.public-a"), find("internet_gateway.igw"), find("load_balancer.apim-public"));
    let now = tokio::time::Instant::now();
    // A subnet that a load balancer still sits in; an internet gateway with public
    // addresses still mapped.
    assert!(cloud.delete(subnet, now).unwrap_err().contains("DependencyViolation"));
    assert!(cloud.delete(igw, now).unwrap_err().contains("DependencyViolation"));
    // Once the load balancer is gone its interfaces still hold the subnet for a while.
    let mut doomed = vec![lb];
    while let Some(j) = (0..graph.nodes().len())
        .find(|&j| !doomed.contains(&j) && cloud.relations[j].uses.iter().any(|u| doomed.contains(u)))
    {
        doomed.push(j);
    }
    let mut deleted = vec![false; doomed.len()];
    for _ in 0..doomed.len() {
        for (k, &j) in doomed.iter().enumerate().rev() {
            if !deleted[k] && cloud.delete(j, tokio::time::Instant::now()).is_ok() {
                deleted[k] = true;
            }
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
        if deleted[0] {
            break;
        }
    }
    assert!(deleted[0], "the load balancer could not be deleted after its users");
    assert!(cloud.is_gone(lb) && cloud.holders(subnet).contains(&lb));
    tokio::time::sleep(cloud.samples[lb].linger).await;
    assert!(!cloud.holders(subnet).contains(&lb));
}
