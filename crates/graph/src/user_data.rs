//! User data: an instance's template and its `vars`, with every `${...}` reference read
//! once. A reference is either known from the spec alone, and filled in here (which is how
//! WSO2 nodes reach the Puppet server's fixed address without waiting), or read from another
//! object once that object has reached the stage its attribute is known at
//! (`strato_spec::template::NAMESPACES`): then it is an edge that only passes a value, and
//! the instance driver renders the template from recorded attributes alone.

use std::collections::BTreeMap;

use strato_spec::model::{Instance, Node, Spec, UserData as SpecUserData};
use strato_spec::names::{self, NO_LIMIT};
use strato_spec::template::{attributes, references, Known, Reference};

use crate::lower::Lowering;
use crate::{Address, NodeId};

/// A user-data template with what is known of its references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserData {
    pub template: String,
    /// `${...}` text to value, for references known from the spec (variables included).
    pub statics: BTreeMap<String, String>,
    /// `${...}` text to the node and attribute it is read from once that node exists.
    pub dynamic: BTreeMap<String, (NodeId, String)>,
}

impl UserData {
    /// The rendered text, given the recorded attributes of other objects (`lookup(node,
    /// attribute)`). No secret is ever part of it: user data is readable through
    /// `DescribeInstanceAttribute` and the instance's metadata service, so instances fetch
    /// secrets at boot with their role. The error names the first reference that could not
    /// be resolved.
    pub fn render(&self, mut lookup: impl FnMut(NodeId, &str) -> Option<String>) -> Result<String, String> {
        let mut missing: Option<String> = None;
        let mut resolve = |r: &str| -> Option<String> {
            let v = match self.statics.get(r) {
                Some(v) => Some(v.clone()),
                None => self.dynamic.get(r).and_then(|(n, attr)| lookup(*n, attr)),
            };
            if v.is_none() && missing.is_none() {
                missing = Some(r.to_string());
            }
            v
        };
        // Variables may hold references themselves: their values are rendered too.
        let text = strato_spec::template::render(&self.template, |r| {
            let v = resolve(r)?;
            Some(if r.starts_with("var.") { strato_spec::template::render(&v, &mut resolve) } else { v })
        });
        match missing {
            Some(r) => Err(r),
            None => Ok(text),
        }
    }
}

/// The user data of the instance node `id` (`node` of the entry `inst`), with an edge from
/// the node for every reference that must wait for another object. `None` when the
/// template could not be read.
pub(crate) fn lower(
    lw: &mut Lowering,
    id: NodeId,
    inst: &Instance,
    node: &Node,
    ud: &SpecUserData,
) -> Option<UserData> {
    let doc = lw.doc();
    let spec = &doc.spec;
    let var_refs: Vec<Reference> = ud.vars.iter().flat_map(|v| doc.references_in_value(&v.value)).collect();
    let file = doc.file(&ud.template.value);
    let template_refs = file.map_or_else(Vec::new, |f| references(&doc.sources.get(f).text, f, 0));
    for r in var_refs.iter().chain(&template_refs) {
        if let Some((to, stage)) = waits_for(lw, &r.parts) {
            lw.value_edge(id, to, stage, r.span);
        }
    }
    let template = doc.sources.get(file?).text.clone();
    let mut statics = BTreeMap::new();
    let mut dynamic = BTreeMap::new();
    for r in template_refs.iter().chain(&var_refs) {
        let text = r.text();
        let parts: Vec<&str> = r.parts.iter().map(String::as_str).collect();
        if let Some(v) = static_value(spec, inst, node, &parts) {
            statics.insert(text, v);
        } else if let [ns, name, attr] = parts[..] {
            let target = Address::of_namespace(ns, name).and_then(|a| lw.find(&a));
            if let (Some(Known::At(_)), Some(target)) = (known(ns, attr), target) {
                dynamic.insert(text, (target, attr.to_string()));
            }
        }
    }
    Some(UserData { template, statics, dynamic })
}

/// When the attribute `attr` of objects in `namespace` is known.
fn known(namespace: &str, attr: &str) -> Option<Known> {
    attributes(namespace)?.iter().find(|(n, _)| *n == attr).map(|(_, k)| *k)
}

/// The node a `${namespace.name.attribute}` reference waits for and the stage it waits
/// until; `None` when the value is known without waiting.
fn waits_for(lw: &Lowering, parts: &[String]) -> Option<(NodeId, strato_spec::Stage)> {
    let [ns, name, attr] = parts else { return None };
    let Known::At(stage) = known(ns, attr)? else { return None };
    if ns == "instance" && attr == "private_ip" && fixed_ip(lw.spec(), name) {
        return None;
    }
    Some((lw.find(&Address::of_namespace(ns, name)?)?, stage))
}

/// The instance `node` has a fixed private address in the spec.
fn fixed_ip(spec: &Spec, node: &str) -> bool {
    spec.instances.iter().any(|i| i.count.is_none() && i.name.value == node && i.private_ip.is_some())
}

/// The value of a reference known from the spec alone, for the node being rendered.
fn static_value(spec: &Spec, inst: &Instance, node: &Node, parts: &[&str]) -> Option<String> {
    let deployment = &spec.deployment.name.value;
    let subnet = spec.subnets.iter().find(|s| s.name.value == node.subnet.value);
    match parts {
        ["deployment", _] => spec.deployment_value(&parts.join(".")),
        ["node", "name"] => Some(node.name.clone()),
        ["node", "index"] => Some(node.index.to_string()),
        ["node", "count"] => Some(node.count.to_string()),
        ["node", "subnet"] => Some(node.subnet.value.clone()),
        ["node", "zone"] => subnet.map(|s| s.zone.value.clone()),
        ["node", "os"] => spec.image_os(&inst.image.value),
        ["var", key] => {
            inst.user_data.as_ref()?.vars.iter().find(|v| v.key.value == *key).map(|v| v.value.value.clone())
        }
        ["vpc", name, "cidr"] => {
            spec.vpcs.iter().find(|v| v.name.value == *name)?.cidr.as_ref().map(|c| c.value.to_string())
        }
        ["subnet", name, "cidr"] => {
            spec.subnets.iter().find(|s| s.name.value == *name)?.cidr.as_ref().map(|c| c.value.to_string())
        }
        ["subnet", name, "zone"] => spec.subnets.iter().find(|s| s.name.value == *name).map(|s| s.zone.value.clone()),
        ["key_pair", name, "name"] => Some(names::aws_name(deployment, name, NO_LIMIT)),
        ["database", name, "identifier"] => {
            spec.databases.iter().find(|d| d.name.value == *name).map(|d| d.name_in_aws(deployment))
        }
        ["instance", name, "private_ip"] => spec
            .instances
            .iter()
            .find(|i| i.count.is_none() && i.name.value == *name)?
            .private_ip
            .as_ref()
            .map(|ip| ip.value.to_string()),
        _ => None,
    }
}
