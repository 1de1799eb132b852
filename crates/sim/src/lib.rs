//! A simulated AWS for benchmarks: strato's real engine ([`strato_engine::run`]) and real
//! plan (the task lists, limits, poll schedules, meter and retry policy of
//! [`strato_cloud`], which `strato-aws` uses too) against a cloud that behaves as AWS does,
//! on tokio's paused clock, so that a twenty-minute provision and destroy of the reference
//! architecture runs in milliseconds of real time.
//!
//! The cloud ([`cloud`]) draws each object's create, ready, delete and release times from
//! seeded distributions fitted to real AWS ([`model`]); throttles calls that find one of
//! AWS's token buckets empty (`RequestLimitExceeded`, `Throttling`), other clients of the
//! account using a share of every refill; refuses deletes that AWS refuses
//! (`DependencyViolation` while something uses the object or its network interfaces
//! linger after a load balancer, NAT gateway, mount target or database is gone); and counts
//! every call. The work ([`work`]) makes the calls each of strato's drivers makes and waits
//! as they wait; a Terraform-style policy is run on the same cloud for comparison, and the
//! critical path of the sampled times bounds both from below ([`bench`]).
//!
//! No AWS SDK here: the simulation is what the drivers would see, not what they are.

pub mod bench;
pub mod cloud;
pub mod model;
pub mod work;

use std::path::Path;

use strato_graph::Graph;

/// The graph of the spec at `path`, read and lowered as `strato plan` does; an error lists
/// the spec's problems.
pub fn load_graph(path: &Path) -> Result<Graph, String> {
    let doc = strato_spec::load(path).map_err(|e| format!("cannot read spec `{}`: {e}", path.display()))?;
    let graph = if doc.parsed { Graph::from_document(&doc) } else { Graph::default() };
    let mut problems: Vec<String> = doc
        .diagnostics
        .iter()
        .chain(strato_graph::check(&graph).iter())
        .filter(|d| d.severity == strato_spec::diag::Severity::Error)
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    if !doc.parsed && problems.is_empty() {
        problems.push("the spec is not valid TOML".into());
    }
    if problems.is_empty() {
        Ok(graph)
    } else {
        Err(format!("spec `{}` has errors:\n  {}", path.display(), problems.join("\n  ")))
    }
}
