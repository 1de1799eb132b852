//! What each object was asked to be, as flat inputs, and which changes AWS applies in place.
//!
//! The inputs of an object are its [`Desired`] settings as `attribute → text`, with
//! references written as the address of the object referred to (`subnet.app-a`), user data
//! as a hash of the rendered text, and the spec's tags as `tag:<key>`. The state keeps them
//! per object, so a later run compares what was asked for with what is asked for now, and
//! with what AWS reports. Nothing secret is ever an input: strato never sees database
//! passwords, and user data holds no secret (instances fetch them at boot).
//!
//! [`effect`] says, per kind and attribute, whether AWS changes the attribute of a live
//! object (an update in place) or only a new object can have it (a replacement). The rules
//! are AWS's: each API reference lists what its `Modify*` call accepts, and
//! terraform-provider-aws marks the same attributes `ForceNew` (e.g. `instance_type` is
//! updatable with the instance stopped, `subnet_id` forces a new instance:
//! internal/service/ec2/ec2_instance.go). strato updates in place only what its drivers
//! can update; everything else is replaced.
//!
//! Both are each kind's own knowledge: its module under `kinds/` says how its desired
//! state reads as inputs and which of them change in place; this module holds what is
//! common (tags, the recorder, digests).

use std::collections::BTreeMap;

use crate::kinds::module_of;
use crate::{Graph, Kind, NodeId};

/// `attribute → value` of one object.
pub type Inputs = BTreeMap<String, String>;

/// What changing one attribute takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The live object is changed (`ModifyInstanceAttribute`, `ModifyDBInstance`, tags ...).
    InPlace,
    /// Only a new object can have it: the old one is deleted and a new one created.
    Replace,
}

/// The value of an input that is known only once another object exists again (it is being
/// replaced): such an input always counts as changed.
pub const UNKNOWN: &str = "(known after apply)";

/// Where a kind's module writes a node's inputs: values as text, references as the
/// address of the node referred to.
pub(crate) struct Recorder<'a> {
    g: &'a Graph,
    lookup: &'a dyn Fn(NodeId, &str) -> Option<String>,
    inputs: Inputs,
}

impl Recorder<'_> {
    pub(crate) fn put(&mut self, key: &str, value: impl ToString) {
        self.inputs.insert(key.to_string(), value.to_string());
    }

    pub(crate) fn address(&self, node: NodeId) -> String {
        self.g.node(node).address.to_string()
    }

    pub(crate) fn node(&mut self, key: &str, node: NodeId) {
        let a = self.address(node);
        self.put(key, a);
    }

    pub(crate) fn opt_node(&mut self, key: &str, node: Option<NodeId>) {
        let a = node.map(|n| self.address(n)).unwrap_or_default();
        self.put(key, a);
    }

    /// A set of references, in a stable order.
    pub(crate) fn nodes(&mut self, key: &str, nodes: &[NodeId]) {
        let mut v: Vec<String> = nodes.iter().map(|n| self.address(*n)).collect();
        v.sort();
        self.put(key, v.join(","));
    }

    /// A recorded attribute of another node, `None` while it is not known.
    pub(crate) fn lookup(&self, node: NodeId, attribute: &str) -> Option<String> {
        (self.lookup)(node, attribute)
    }
}

/// The inputs of node `id`: `tags` are the spec's tags for every object; `lookup` reads a
/// recorded attribute of another node (for user data that refers to one), `None` when it
/// is not known yet.
pub fn inputs(
    g: &Graph,
    id: NodeId,
    tags: &[(String, String)],
    lookup: &dyn Fn(NodeId, &str) -> Option<String>,
) -> Inputs {
    let node = g.node(id);
    let mut r = Recorder { g, lookup, inputs: Inputs::new() };
    let Some(desired) = &node.desired else { return r.inputs };
    (module_of(node.kind).inputs)(desired, &mut r);
    if taggable(node.kind) {
        for (k, v) in tags {
            r.inputs.entry(format!("tag:{k}")).or_insert_with(|| v.clone());
        }
    }
    r.inputs
}

/// The key of one ingress rule among a rules object's inputs: protocol, ports and one
/// source (a CIDR block or a group's address); its value is the rule's description.
pub fn rule_key(protocol: &str, ports: &str, source: &str) -> String {
    format!("rule[{protocol} {ports} from {source}]")
}

/// Whether strato tags objects of this kind (the spec's tags included). Routes, route-table
/// associations, mount targets and target registrations have no tags in AWS.
pub fn taggable(kind: Kind) -> bool {
    !matches!(kind, Kind::Route | Kind::RouteTableAssociation | Kind::MountTarget | Kind::TargetRegistration)
}

/// What changing `attribute` of an object of `kind` takes: tags change in place on every
/// kind (`CreateTags`, `AddTags`, `AddTagsToResource`, `TagResource`, `TagRole`); the rest
/// is the kind's own rule.
pub fn effect(kind: Kind, attribute: &str) -> Effect {
    if attribute.starts_with("tag:") || (module_of(kind).in_place)(kind, attribute) {
        Effect::InPlace
    } else {
        Effect::Replace
    }
}

/// A stable, short digest of a text (FNV-1a, 64 bits, hex): enough to tell whether it
/// changed, and it keeps the text itself out of the state.
pub fn fingerprint(text: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    format!("fnv1a:{h:016x}")
}
