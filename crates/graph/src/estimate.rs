//! Wall-time estimates of a plan from typical AWS durations.
//!
//! Each object takes some time until it is *created* (its id is known) and some more until
//! it is *ready*. An object counts until the stage its dependents need: a NAT gateway until
//! it is available (routes need it), an ALB until it exists (listeners attach to a
//! provisioning ALB), and objects nothing waits on until their create call returns. With
//! unlimited parallelism the estimate is the longest such chain; one object at a time it is
//! the sum. The defaults are the p50 figures of real AWS; they are parameters, not promises.

use strato_spec::Stage;

use crate::{Graph, Kind, Node, NodeId};

/// Seconds until created and until ready: each kind's [`KindInfo::secs`](crate::KindInfo),
/// except where the spec changes them.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Durations {
    /// Ready time of a Multi-AZ database, which replaces the single-AZ one.
    pub multi_az_db_ready: u32,
}

impl Default for Durations {
    fn default() -> Durations {
        Durations { multi_az_db_ready: 720 }
    }
}

impl Durations {
    /// Seconds from start until `stage` for this node.
    pub fn until(&self, node: &Node, stage: Stage) -> u32 {
        let (created, ready) = node.kind.info().secs;
        match stage {
            Stage::Created => created,
            Stage::Ready if node.kind == Kind::DbInstance && node.multi_az => self.multi_az_db_ready,
            Stage::Ready => ready,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Estimate {
    /// Seconds with unlimited parallelism.
    pub parallel_secs: u32,
    /// Seconds creating one object at a time.
    pub serial_secs: u32,
    /// The chain that decides `parallel_secs`, first object first.
    pub critical_path: Vec<NodeId>,
}

impl Graph {
    /// The stage each node must reach before provisioning can go on without it.
    pub fn required_stages(&self) -> Vec<Stage> {
        let mut need = vec![Stage::Created; self.nodes.len()];
        for e in &self.edges {
            need[e.dependency.0] = need[e.dependency.0].max(e.needs);
        }
        need
    }

    /// `None` when the graph has a cycle.
    pub fn estimate(&self, d: &Durations) -> Option<Estimate> {
        let order = self.topological_order()?;
        let need = self.required_stages();
        let n = self.nodes.len();
        let mut start = vec![0u32; n];
        let mut via: Vec<Option<NodeId>> = vec![None; n];
        let at = |start: &[u32], id: NodeId, stage: Stage| start[id.0] + d.until(&self.nodes[id.0], stage);
        for &id in &order {
            for e in self.dependencies(id) {
                let t = at(&start, e.dependency, e.needs);
                if t > start[id.0] {
                    start[id.0] = t;
                    via[id.0] = Some(e.dependency);
                }
            }
        }
        let done = |id: NodeId| at(&start, id, need[id.0]);
        let last = order.iter().copied().max_by_key(|&id| (done(id), std::cmp::Reverse(id)));
        let mut critical_path = Vec::new();
        let mut cursor = last;
        while let Some(id) = cursor {
            critical_path.push(id);
            cursor = via[id.0];
        }
        critical_path.reverse();
        Some(Estimate {
            parallel_secs: last.map_or(0, done),
            serial_secs: order.iter().map(|&id| d.until(&self.nodes[id.0], need[id.0])).sum(),
            critical_path,
        })
    }
}

/// `12m 09s`.
pub fn minutes(secs: u32) -> String {
    format!("{}m {:02}s", secs / 60, secs % 60)
}
