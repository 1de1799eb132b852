//! The dependency graph of AWS objects that a deploy spec stands for.
//!
//! Every AWS object is a node, down to single routes, route-table associations, listener
//! rules and target registrations. An edge says that a dependent needs a dependency to have
//! reached a [`Stage`]: merely *created* (its id is known) or *ready* (available). Edges come
//! from the spec's references by name and from `${...}` references in templates; each keeps
//! the span of the reference that caused it, so a cycle can be shown in the spec.
//!
//! Architecture invariant: this crate knows nothing of AWS APIs or the terminal. It turns a
//! validated [`Document`] into a graph, orders it, estimates it and draws it (and draws the
//! timeline of a run, from plain rows).

mod address;
pub mod change;
pub mod cost;
mod desired;
mod estimate;
mod kinds;
mod lower;
pub mod plan;
mod render;
mod svg;
pub mod timeline;
mod user_data;

use std::collections::{BTreeSet, HashMap};

use strato_spec::{Diagnostic, Document, Span, Stage};

pub use address::{Address, Part};
pub use desired::{DbInstance, Desired, Image, InstanceSpec, ListenerAction, Permission, TargetGroupSpec};
pub use estimate::{minutes, Durations, Estimate};
pub use kinds::{Kind, KindInfo, Tier, KINDS};
pub use render::{to_dot, to_json, to_mermaid};
pub use svg::{to_svg, zone_of};
pub use user_data::UserData;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

#[derive(Clone, Debug)]
pub struct Node {
    pub address: Address,
    pub kind: Kind,
    /// Where the object is defined in the spec.
    pub span: Span,
    /// The spec asks for a Multi-AZ database (it takes twice as long).
    pub multi_az: bool,
    /// What the object should look like; `None` for kinds strato cannot provision yet.
    pub desired: Option<Desired>,
    /// The object's name in AWS (and its `Name` tag): `<deployment>-<name>`, shortened to
    /// fit where AWS limits the length (see [`strato_spec::names`]), or the spec's own.
    pub aws_name: String,
}

#[derive(Clone, Debug)]
pub struct Edge {
    /// The node that waits.
    pub dependent: NodeId,
    /// The node waited for.
    pub dependency: NodeId,
    pub needs: Stage,
    /// The reference that made this edge.
    pub origin: Span,
    /// Made only because the dependent needs a value of the dependency to be created (a
    /// reference in user data, a secret's ARN in a role's policy): nothing in AWS ties them
    /// together, and destroy ignores the edge (a database can go while an instance that
    /// was told its endpoint is still terminating, or before the role that could read its
    /// secret).
    pub value_only: bool,
}

/// Objects and their dependencies.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    by_address: HashMap<Address, NodeId>,
    /// Outgoing edges (to dependencies) per node, as indexes into `edges`.
    deps: Vec<Vec<usize>>,
}

impl Graph {
    /// Builds the graph of a document. The document should have passed validation; names
    /// that do not resolve are skipped rather than guessed.
    pub fn from_document(doc: &Document) -> Graph {
        lower::lower(doc)
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0]
    }

    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// The node at the address written as `address`.
    pub fn find(&self, address: &str) -> Option<NodeId> {
        self.by_address.get(address).copied()
    }

    pub fn find_address(&self, address: &Address) -> Option<NodeId> {
        self.by_address.get(address).copied()
    }

    /// The edges from `id` to what it depends on, in the order they were added.
    pub fn dependencies(&self, id: NodeId) -> impl Iterator<Item = &Edge> {
        self.deps[id.0].iter().map(|&e| &self.edges[e])
    }

    /// The nodes `id` depends on in AWS (edges that only pass a value left out): what must
    /// outlive it, and what a destroy deletes after it. The converse of [`Graph::users`].
    pub fn uses(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.dependencies(id).filter(|e| !e.value_only).map(|e| e.dependency)
    }

    /// The nodes that depend on `id` in AWS (edges that only pass a value left out): what
    /// must let go of it before it can be deleted.
    pub fn users(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.edges.iter().filter(move |e| e.dependency == id && !e.value_only).map(|e| e.dependent)
    }

    /// The node at `address`, added unless an entry of the same name already made it.
    fn add_node(&mut self, address: Address, span: Span) -> NodeId {
        if let Some(id) = self.by_address.get(&address) {
            return *id;
        }
        let id = NodeId(self.nodes.len());
        let kind = address.kind();
        self.by_address.insert(address.clone(), id);
        self.nodes.push(Node { address, kind, span, multi_az: false, desired: None, aws_name: String::new() });
        self.deps.push(Vec::new());
        id
    }

    fn add_edge(&mut self, dependent: NodeId, dependency: NodeId, needs: Stage, origin: Span) {
        self.add_edge_of(dependent, dependency, needs, origin, false);
    }

    /// One edge per pair, keeping the strongest need; an edge is `value_only` only when
    /// every reference that made it only passes a value.
    fn add_edge_of(&mut self, dependent: NodeId, dependency: NodeId, needs: Stage, origin: Span, value_only: bool) {
        for &e in &self.deps[dependent.0] {
            let edge = &mut self.edges[e];
            if edge.dependency == dependency {
                edge.needs = edge.needs.max(needs);
                edge.value_only &= value_only;
                return;
            }
        }
        self.deps[dependent.0].push(self.edges.len());
        self.edges.push(Edge { dependent, dependency, needs, origin, value_only });
    }

    /// Nodes so that every node comes after everything it depends on; among nodes that are
    /// free at the same time, spec order. `None` when there is a cycle.
    pub fn topological_order(&self) -> Option<Vec<NodeId>> {
        let n = self.nodes.len();
        let mut waiting: Vec<usize> = self.deps.iter().map(Vec::len).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for e in &self.edges {
            dependents[e.dependency.0].push(e.dependent.0);
        }
        let mut free: BTreeSet<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = free.pop_first() {
            order.push(NodeId(i));
            for &d in &dependents[i] {
                waiting[d] -= 1;
                if waiting[d] == 0 {
                    free.insert(d);
                }
            }
        }
        (order.len() == n).then_some(order)
    }

    /// Every elementary cycle (up to `limit`), each as the list of its edges, each starting
    /// at its lowest node and sorted, so the same spec always reports them the same way.
    pub fn cycles(&self, limit: usize) -> Vec<Vec<usize>> {
        let n = self.nodes.len();
        let mut found = Vec::new();
        // Johnson-style search: cycles through `start` using only nodes >= start.
        for start in 0..n {
            let mut path: Vec<usize> = Vec::new();
            let mut on_path = vec![false; n];
            self.cycles_from(start, start, &mut path, &mut on_path, &mut found, limit);
            if found.len() >= limit {
                break;
            }
        }
        found
    }

    fn cycles_from(
        &self,
        start: usize,
        at: usize,
        path: &mut Vec<usize>,
        on_path: &mut [bool],
        found: &mut Vec<Vec<usize>>,
        limit: usize,
    ) {
        on_path[at] = true;
        for &e in &self.deps[at] {
            if found.len() >= limit {
                break;
            }
            let next = self.edges[e].dependency.0;
            if next < start {
                continue;
            }
            path.push(e);
            if next == start {
                found.push(path.clone());
            } else if !on_path[next] {
                self.cycles_from(start, next, path, on_path, found, limit);
            }
            path.pop();
        }
        on_path[at] = false;
    }
}

/// The graph-level checks of a spec: every dependency cycle, each shown at the references
/// that close it. Empty when the graph can be ordered.
pub fn check(graph: &Graph) -> Vec<Diagnostic> {
    const LIMIT: usize = 50;
    let cycles = graph.cycles(LIMIT + 1);
    let mut out = Vec::new();
    for cycle in cycles.iter().take(LIMIT) {
        let first = &graph.edges[cycle[0]];
        let mut names: Vec<String> =
            cycle.iter().map(|&e| graph.edges[e].dependent).map(|n| graph.node(n).address.to_string()).collect();
        names.push(graph.node(first.dependent).address.to_string());
        let mut d =
            Diagnostic::error("dependency-cycle", first.origin, format!("dependency cycle: {}", names.join(" -> ")));
        for &e in &cycle[1..] {
            let edge = &graph.edges[e];
            d = d.note(
                edge.origin,
                format!("{} needs {}", graph.node(edge.dependent).address, graph.node(edge.dependency).address),
            );
        }
        let help = if cycle.len() == 1 {
            "an object cannot wait for itself; use `${node.*}` for the instance's own name and index, or a fixed address"
        } else {
            "break the cycle: give one of these instances a fixed `private_ip` (a fixed address is known without waiting), or drop one reference"
        };
        out.push(d.help(help));
    }
    if cycles.len() > LIMIT {
        let span = graph.node(graph.edges[cycles[LIMIT][0]].dependent).span;
        out.push(Diagnostic::error(
            "dependency-cycle",
            span,
            format!("more than {LIMIT} dependency cycles; fix the ones above first"),
        ));
    }
    out
}
