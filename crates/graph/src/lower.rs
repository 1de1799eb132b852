//! From spec to graph: the context the kind modules ([`crate::kinds`]) lower a document into.
//!
//! Each kind module adds its nodes together with their edges and their desired state, and
//! finds the nodes it needs by typed address: the registry runs the modules in an order in
//! which everything a kind needs is already there, and the few kinds that need a later kind
//! (instances name load balancers in their user data, target groups register instances) do
//! that part in a second step, once every kind has added its nodes. Names that do not
//! resolve are skipped, never guessed: a document that failed validation still gives a
//! graph, for the cycle checks, but only a valid one is provisioned.

use strato_spec::model::{Name, Spec};
use strato_spec::names::{self, NO_LIMIT};
use strato_spec::{Document, Span, Stage};

use crate::{kinds, Address, Desired, Graph, Kind, NodeId};

/// The graph of `doc`.
pub(crate) fn lower(doc: &Document) -> Graph {
    let mut lw = Lowering { doc, graph: Graph::default() };
    for module in kinds::MODULES {
        (module.declare)(&mut lw);
    }
    for module in kinds::MODULES {
        if let Some(link) = module.link {
            link(&mut lw);
        }
    }
    lw.graph
}

/// The document being lowered and the graph so far.
pub(crate) struct Lowering<'d> {
    doc: &'d Document,
    graph: Graph,
}

impl<'d> Lowering<'d> {
    pub(crate) fn doc(&self) -> &'d Document {
        self.doc
    }

    pub(crate) fn spec(&self) -> &'d Spec {
        &self.doc.spec
    }

    pub(crate) fn deployment(&self) -> &'d str {
        &self.doc.spec.deployment.name.value
    }

    /// Adds the node at `address`, defined at `span`, with the name strato gives objects in
    /// AWS: `<deployment>-<address without its prefix>`. A second entry of the same name
    /// (which validation refuses) gets the first one's node.
    pub(crate) fn add(&mut self, address: Address, span: Span) -> NodeId {
        if let Some(id) = self.graph.find_address(&address) {
            return id;
        }
        let aws_name = names::aws_name(self.deployment(), address.path(), NO_LIMIT);
        let id = self.graph.add_node(address, span);
        self.graph.nodes[id.0].aws_name = aws_name;
        id
    }

    /// Gives the node the name the spec gives it, or one shortened to fit where AWS limits
    /// the length.
    pub(crate) fn name(&mut self, id: NodeId, aws_name: String) {
        self.graph.nodes[id.0].aws_name = aws_name;
    }

    pub(crate) fn aws_name(&self, id: NodeId) -> &str {
        &self.graph.nodes[id.0].aws_name
    }

    /// The spec asks for a Multi-AZ database (for the estimate).
    pub(crate) fn set_multi_az(&mut self, id: NodeId, multi_az: bool) {
        self.graph.nodes[id.0].multi_az = multi_az;
    }

    /// What the object should look like; a second entry of the same name replaces the first.
    pub(crate) fn desire(&mut self, id: NodeId, desired: Desired) {
        self.graph.nodes[id.0].desired = Some(desired);
    }

    pub(crate) fn has_desired(&self, id: NodeId) -> bool {
        self.graph.nodes[id.0].desired.is_some()
    }

    pub(crate) fn find(&self, address: &Address) -> Option<NodeId> {
        self.graph.find_address(address)
    }

    /// The node of the whole object of `kind` the spec names `name`.
    pub(crate) fn id(&self, kind: Kind, name: &str) -> Option<NodeId> {
        self.find(&Address::whole(kind, name))
    }

    /// The nodes of the named objects of `kind` that exist, in the spec's order.
    pub(crate) fn ids(&self, kind: Kind, names: &[Name]) -> Vec<NodeId> {
        names.iter().filter_map(|n| self.id(kind, &n.value)).collect()
    }

    /// `from` needs `to` to have reached `needs`; `origin` is the reference that says so.
    pub(crate) fn edge(&mut self, from: NodeId, to: NodeId, needs: Stage, origin: Span) {
        self.graph.add_edge(from, to, needs, origin);
    }

    /// An edge made only because `from` needs a value of `to` (see [`crate::Edge::value_only`]).
    pub(crate) fn value_edge(&mut self, from: NodeId, to: NodeId, needs: Stage, origin: Span) {
        self.graph.add_edge_of(from, to, needs, origin, true);
    }

    /// An edge to the object of `kind` named `name`, if there is one.
    pub(crate) fn need(&mut self, from: NodeId, kind: Kind, name: &str, needs: Stage, origin: Span) {
        if let Some(to) = self.id(kind, name) {
            self.edge(from, to, needs, origin);
        }
    }
}
