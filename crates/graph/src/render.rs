//! Drawing the graph: Graphviz DOT, Mermaid and JSON.
//!
//! Arrows point from a dependency to what waits for it, the order things are created in.
//! A solid arrow means the dependent waits until the dependency is *ready*; a dashed one
//! means *created* is enough.

use std::fmt::Write as _;

use strato_spec::Stage;

use crate::{Graph, Kind, Tier};

fn stage_name(s: Stage) -> &'static str {
    match s {
        Stage::Created => "created",
        Stage::Ready => "ready",
    }
}

/// A fill colour per tier, so the picture reads as network, data, compute and load balancing.
fn colour(kind: Kind) -> &'static str {
    kind.info().colour
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub fn to_dot(g: &Graph, title: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(title));
    out.push_str("  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n");
    out.push_str("  edge [color=\"#475569\"];\n");
    for (i, n) in g.nodes().iter().enumerate() {
        let _ = writeln!(
            out,
            "  n{i} [label=\"{}\\n({})\", fillcolor=\"{}\"];",
            dot_escape(n.address.as_str()),
            n.kind,
            colour(n.kind)
        );
    }
    for e in g.edges() {
        let style = match e.needs {
            Stage::Ready => "solid",
            Stage::Created => "dashed",
        };
        let _ = writeln!(out, "  n{} -> n{} [style={style}];", e.dependency.0, e.dependent.0);
    }
    out.push_str("}\n");
    out
}

fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;")
}

pub fn to_mermaid(g: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for (i, n) in g.nodes().iter().enumerate() {
        let _ = writeln!(
            out,
            "  n{i}[\"{}<br/><small>{}</small>\"]:::{}",
            mermaid_escape(n.address.as_str()),
            n.kind,
            tier(n.kind)
        );
    }
    for e in g.edges() {
        let arrow = match e.needs {
            Stage::Ready => "-->",
            Stage::Created => "-.->",
        };
        let _ = writeln!(out, "  n{} {arrow} n{}", e.dependency.0, e.dependent.0);
    }
    for t in Tier::ALL {
        let _ = writeln!(out, "  classDef {} fill:{},stroke:#475569", t.as_str(), t.colour());
    }
    out
}

fn tier(kind: Kind) -> &'static str {
    kind.tier().as_str()
}

pub fn to_json(g: &Graph) -> serde_json::Value {
    let nodes: Vec<_> = g
        .nodes()
        .iter()
        .map(|n| serde_json::json!({ "address": n.address.as_str(), "kind": n.kind.as_str() }))
        .collect();
    let edges: Vec<_> = g
        .edges()
        .iter()
        .map(|e| {
            serde_json::json!({
                "from": g.node(e.dependency).address.as_str(),
                "to": g.node(e.dependent).address.as_str(),
                "needs": stage_name(e.needs),
            })
        })
        .collect();
    serde_json::json!({ "version": 1, "nodes": nodes, "edges": edges })
}
