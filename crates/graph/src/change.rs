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

use std::collections::BTreeMap;

use crate::{Desired, Graph, Image, Kind, ListenerAction, NodeId};

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
    let mut m = Inputs::new();
    let Some(desired) = &node.desired else { return m };
    let addr = |n: &NodeId| g.node(*n).address.to_string();
    let addrs = |ns: &[NodeId]| {
        let mut v: Vec<String> = ns.iter().map(addr).collect();
        v.sort();
        v.join(",")
    };
    let mut put = |k: &str, v: String| {
        m.insert(k.to_string(), v);
    };
    match desired {
        Desired::Vpc { cidr, dns_support, dns_hostnames } => {
            put("cidr", cidr.to_string());
            put("dns_support", dns_support.to_string());
            put("dns_hostnames", dns_hostnames.to_string());
        }
        Desired::Subnet { vpc, cidr, zone } => {
            put("vpc", addr(vpc));
            put("cidr", cidr.to_string());
            put("zone", zone.clone());
        }
        Desired::InternetGateway { vpc } => put("vpc", addr(vpc)),
        Desired::ElasticIp => {}
        Desired::NatGateway { subnet, eip } => {
            put("subnet", addr(subnet));
            put("eip", addr(eip));
        }
        Desired::RouteTable { vpc } => put("vpc", addr(vpc)),
        Desired::Route { table, destination, target } => {
            put("table", addr(table));
            put("destination", destination.to_string());
            put("target", addr(target));
        }
        Desired::RouteTableAssociation { table, subnet } => {
            put("table", addr(table));
            put("subnet", addr(subnet));
        }
        Desired::SecurityGroup { vpc, description } => {
            put("vpc", addr(vpc));
            put("description", description.clone());
        }
        Desired::SecurityGroupRules { group, rules } => {
            put("group", addr(group));
            for r in rules {
                let ports = match (r.from_port, r.to_port) {
                    (-1, _) => "all".to_string(),
                    (f, t) if f == t => f.to_string(),
                    (f, t) => format!("{f}-{t}"),
                };
                let description = r.description.clone().unwrap_or_default();
                let sources =
                    r.cidrs.iter().map(ToString::to_string).chain(r.groups.iter().map(|n| addr(n))).collect::<Vec<_>>();
                for source in sources {
                    put(&rule_key(&r.protocol, &ports, &source), description.clone());
                }
            }
        }
        Desired::KeyPair { public_key } => put("public_key", fingerprint(public_key)),
        Desired::Certificate { arn, domains } => {
            put("arn", arn.clone().unwrap_or_default());
            put("domains", domains.join(","));
        }
        Desired::InstanceRole { name, secrets, csr_challenge } => {
            put("name", name.clone());
            put("secrets", addrs(secrets));
            put("csr_challenge", csr_challenge.to_string());
        }
        Desired::DbSubnetGroup { description, subnets } => {
            put("description", description.clone());
            put("subnets", addrs(subnets));
        }
        Desired::DbInstance(d) => {
            put("identifier", d.identifier.clone());
            put("engine", d.engine.clone());
            put("engine_version", d.engine_version.clone());
            put("instance_class", d.instance_class.clone());
            put("storage_gb", d.storage_gb.to_string());
            put("storage_type", d.storage_type.clone());
            put("multi_az", d.multi_az.to_string());
            put("storage_encrypted", d.storage_encrypted.to_string());
            put("backup_retention_days", d.backup_retention_days.to_string());
            put("deletion_protection", d.deletion_protection.to_string());
            put("final_snapshot", d.final_snapshot.to_string());
            put("publicly_accessible", d.publicly_accessible.to_string());
            put("master_username", d.master_username.clone());
            put("master_secret_arn", d.master_secret_arn.clone().unwrap_or_default());
            put("subnet_group", addr(&d.subnet_group));
            put("security_groups", addrs(&d.security_groups));
            put("port", d.port.map(|p| p.to_string()).unwrap_or_default());
        }
        Desired::FileSystem { performance_mode, throughput_mode, encrypted, backup } => {
            put("performance_mode", performance_mode.clone());
            put("throughput_mode", throughput_mode.clone());
            put("encrypted", encrypted.to_string());
            put("backup", backup.to_string());
        }
        Desired::MountTarget { file_system, subnet, security_groups } => {
            put("file_system", addr(file_system));
            put("subnet", addr(subnet));
            put("security_groups", addrs(security_groups));
        }
        Desired::Instance(s) => {
            put("instance_type", s.instance_type.clone());
            put(
                "image",
                match &s.image {
                    Image::SsmParameter(p) => format!("ssm:{p}"),
                    Image::Ami(a) => a.clone(),
                },
            );
            put("subnet", addr(&s.subnet));
            put("private_ip", s.private_ip.map(|ip| ip.to_string()).unwrap_or_default());
            put("public_ip", s.public_ip.to_string());
            put("security_groups", addrs(&s.security_groups));
            put("key_pair", s.key_pair.as_ref().map(addr).unwrap_or_default());
            put("role", s.role.as_ref().map(addr).unwrap_or_default());
            put("root_size_gb", s.root_size_gb.map(|g| g.to_string()).unwrap_or_default());
            put("root_volume_type", s.root_volume_type.clone());
            put("root_encrypted", s.root_encrypted.to_string());
            if let Some(ud) = &s.user_data {
                let text = ud.render(|n, a| lookup(n, a));
                put("user_data", text.map_or_else(|_| UNKNOWN.to_string(), |t| fingerprint(&t)));
            }
            for (k, v) in &s.tags {
                put(&format!("tag:{k}"), v.clone());
            }
        }
        Desired::LoadBalancer { internet_facing, subnets, security_groups, idle_timeout, deletion_protection } => {
            put("internet_facing", internet_facing.to_string());
            put("subnets", addrs(subnets));
            put("security_groups", addrs(security_groups));
            put("idle_timeout", idle_timeout.map(|t| t.to_string()).unwrap_or_default());
            put("deletion_protection", deletion_protection.to_string());
        }
        Desired::TargetGroup(t) => {
            put("name", t.name.clone());
            put("vpc", addr(&t.vpc));
            put("protocol", t.protocol.clone());
            put("port", t.port.to_string());
            put("health_protocol", t.health_protocol.clone());
            put("health_path", t.health_path.clone());
            put("health_port", t.health_port.map(|p| p.to_string()).unwrap_or_default());
            put("health_interval", t.health_interval.to_string());
            put("health_timeout", t.health_timeout.to_string());
            put("healthy_threshold", t.healthy_threshold.to_string());
            put("unhealthy_threshold", t.unhealthy_threshold.to_string());
            put("matcher", t.matcher.clone());
            put("stickiness_seconds", t.stickiness_seconds.map(|s| s.to_string()).unwrap_or_default());
        }
        Desired::Listener { load_balancer, port, protocol, certificate, ssl_policy, action } => {
            put("load_balancer", addr(load_balancer));
            put("port", port.to_string());
            put("protocol", protocol.clone());
            put("certificate", certificate.as_ref().map(addr).unwrap_or_default());
            put("ssl_policy", ssl_policy.clone().unwrap_or_default());
            put(
                "action",
                match action {
                    ListenerAction::Forward(tg) => format!("forward {}", addr(tg)),
                    ListenerAction::Redirect { protocol, port, status_code } => format!(
                        "redirect {protocol}:{} {status_code}",
                        port.map(|p| p.to_string()).unwrap_or_else(|| "#{port}".into())
                    ),
                },
            );
        }
        Desired::ListenerRule { listener, priority, hosts, paths, forward } => {
            put("listener", addr(listener));
            put("priority", priority.to_string());
            put("hosts", hosts.join(","));
            put("paths", paths.join(","));
            put("forward", addr(forward));
        }
        Desired::TargetRegistration { target_group, instance } => {
            put("target_group", addr(target_group));
            put("instance", addr(instance));
        }
    }
    if taggable(node.kind) {
        for (k, v) in tags {
            m.entry(format!("tag:{k}")).or_insert_with(|| v.clone());
        }
    }
    m
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

/// What changing `attribute` of an object of `kind` takes.
pub fn effect(kind: Kind, attribute: &str) -> Effect {
    use Effect::{InPlace, Replace};
    if attribute.starts_with("tag:") {
        // CreateTags / AddTags / AddTagsToResource / TagResource / TagRole.
        return InPlace;
    }
    match (kind, attribute) {
        // ModifyVpcAttribute.
        (Kind::Vpc, "dns_support" | "dns_hostnames") => InPlace,
        // Authorized and revoked one rule at a time.
        (Kind::SecurityGroupRules, a) if a.starts_with("rule[") => InPlace,
        // PutRolePolicy rewrites the inline policy.
        (Kind::InstanceRole, "secrets" | "csr_challenge") => InPlace,
        // ModifyDBInstance (the engine and the master user are fixed; a new storage
        // encryption needs a new instance); whether a final snapshot is taken is strato's.
        (
            Kind::DbInstance,
            "instance_class"
            | "storage_gb"
            | "storage_type"
            | "multi_az"
            | "backup_retention_days"
            | "deletion_protection"
            | "final_snapshot"
            | "publicly_accessible"
            | "security_groups"
            | "engine_version",
        ) => InPlace,
        // ModifyDBSubnetGroup.
        (Kind::DbSubnetGroup, "description" | "subnets") => InPlace,
        // ModifyInstanceAttribute: the type with the instance stopped, the groups live.
        (Kind::Instance, "instance_type" | "security_groups") => InPlace,
        // SetSecurityGroups, SetSubnets, ModifyLoadBalancerAttributes.
        (Kind::LoadBalancer, "security_groups" | "subnets" | "idle_timeout" | "deletion_protection") => InPlace,
        // ModifyTargetGroup, ModifyTargetGroupAttributes.
        (
            Kind::TargetGroup,
            "health_protocol"
            | "health_path"
            | "health_port"
            | "health_interval"
            | "health_timeout"
            | "healthy_threshold"
            | "unhealthy_threshold"
            | "matcher"
            | "stickiness_seconds",
        ) => InPlace,
        // ModifyListener.
        (Kind::Listener, "protocol" | "certificate" | "ssl_policy" | "action") => InPlace,
        _ => Replace,
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
