//! `[[instance]]`: one EC2 instance per node of the entry (`<name>-1..N` with `count`).
//! An instance needs its subnet, security groups and key pair *created*, its role *ready*,
//! and, to boot with outbound access, its subnet's route-table association and the routes
//! of that table *created*. Its user data may refer to any object, other instances and load
//! balancers among them, so the nodes are added first and everything else once every kind
//! has added its nodes.

use strato_spec::model::{Instance, Node};
use strato_spec::Stage;

use super::{route_table, Module};
use crate::change::{fingerprint, Recorder, UNKNOWN};
use crate::lower::Lowering;
use crate::{user_data, Address, Desired, Image, InstanceSpec, Kind, UserData};

pub(super) const MODULE: Module = Module { declare, link: Some(link), kinds: &[Kind::Instance], inputs, in_place };

fn declare(lw: &mut Lowering) {
    for inst in &lw.spec().instances {
        for node in inst.nodes() {
            lw.add(Address::whole(Kind::Instance, &node.name), inst.name.span);
        }
    }
}

fn link(lw: &mut Lowering) {
    for inst in &lw.spec().instances {
        for node in inst.nodes() {
            let Some(id) = lw.id(Kind::Instance, &node.name) else { continue };
            lw.need(id, Kind::Subnet, &node.subnet.value, Stage::Created, node.subnet.span);
            for r in route_table::routing(lw, &node.subnet.value) {
                lw.edge(id, r, Stage::Created, node.subnet.span);
            }
            for sg in &inst.security_groups {
                lw.need(id, Kind::SecurityGroup, &sg.value, Stage::Created, sg.span);
            }
            if let Some(kp) = &inst.key_pair {
                lw.need(id, Kind::KeyPair, &kp.value, Stage::Created, kp.span);
            }
            if let Some(role) = &inst.role {
                lw.need(id, Kind::InstanceRole, &role.value, Stage::Ready, role.span);
            }
            let user_data = match &inst.user_data {
                None => None,
                Some(ud) => match user_data::lower(lw, id, inst, &node, ud) {
                    Some(u) => Some(u),
                    None => continue,
                },
            };
            if let Some(d) = desired(lw, inst, &node, user_data) {
                lw.desire(id, Desired::Instance(Box::new(d)));
            }
        }
    }
}

fn desired(lw: &Lowering, inst: &Instance, node: &Node, user_data: Option<UserData>) -> Option<InstanceSpec> {
    let image = match lw.spec().images.iter().find(|i| i.name.value == inst.image.value) {
        Some(alias) => match (&alias.ssm_parameter, &alias.ami) {
            (Some(p), _) => Image::SsmParameter(p.value.clone()),
            (None, Some(a)) => Image::Ami(a.value.clone()),
            _ => return None,
        },
        None => Image::Ami(inst.image.value.clone()),
    };
    Some(InstanceSpec {
        instance_type: inst.instance_type.value.clone(),
        image,
        subnet: lw.id(Kind::Subnet, &node.subnet.value)?,
        private_ip: inst.private_ip.as_ref().map(|ip| ip.value),
        public_ip: inst.public_ip,
        security_groups: lw.ids(Kind::SecurityGroup, &inst.security_groups),
        key_pair: inst.key_pair.as_ref().and_then(|k| lw.id(Kind::KeyPair, &k.value)),
        role: inst.role.as_ref().and_then(|r| lw.id(Kind::InstanceRole, &r.value)),
        root_size_gb: inst.root_volume.size_gb.as_ref().map(|s| s.value),
        root_volume_type: inst.root_volume.volume_type.value.clone(),
        root_encrypted: inst.root_volume.encrypted,
        user_data,
        tags: inst.tags.iter().map(|t| (t.key.value.clone(), t.value.value.clone())).collect(),
    })
}

fn inputs(d: &Desired, r: &mut Recorder<'_>) {
    let Desired::Instance(s) = d else { return };
    r.put("instance_type", &s.instance_type);
    r.put(
        "image",
        match &s.image {
            Image::SsmParameter(p) => format!("ssm:{p}"),
            Image::Ami(a) => a.clone(),
        },
    );
    r.node("subnet", s.subnet);
    r.put("private_ip", s.private_ip.map(|ip| ip.to_string()).unwrap_or_default());
    r.put("public_ip", s.public_ip);
    r.nodes("security_groups", &s.security_groups);
    r.opt_node("key_pair", s.key_pair);
    r.opt_node("role", s.role);
    r.put("root_size_gb", s.root_size_gb.map(|g| g.to_string()).unwrap_or_default());
    r.put("root_volume_type", &s.root_volume_type);
    r.put("root_encrypted", s.root_encrypted);
    if let Some(ud) = &s.user_data {
        let text = ud.render(|n, a| r.lookup(n, a));
        r.put("user_data", text.map_or_else(|_| UNKNOWN.to_string(), |t| fingerprint(&t)));
    }
    for (k, v) in &s.tags {
        r.put(&format!("tag:{k}"), v);
    }
}

/// `ModifyInstanceAttribute` changes the type (with the instance stopped: "Change the
/// instance type", Amazon EC2 User Guide) and the security groups of a live instance;
/// everything else is fixed at `RunInstances` (user data runs once, at first boot), as
/// terraform-provider-aws marks it `ForceNew` (internal/service/ec2/ec2_instance.go).
fn in_place(_kind: Kind, attribute: &str) -> bool {
    matches!(attribute, "instance_type" | "security_groups")
}
