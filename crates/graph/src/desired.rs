//! What each object should look like in AWS: the spec's settings for one node, with
//! references turned into node ids, so a driver needs nothing but the node and the ids of
//! its dependencies.
//!
//! User data is resolved as far as the spec allows: every reference known statically is
//! filled in here, and the others are listed with the node and attribute they come from, so
//! the instance driver renders the template from recorded attributes alone.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use strato_spec::model::{Action, Instance, Node, RouteTarget, Spec, SubnetSelector, DEFAULT_SSL_POLICY};
use strato_spec::names::{self, NO_LIMIT};
use strato_spec::net::Cidr;
use strato_spec::template::{attributes, references, Known};
use strato_spec::Document;

use crate::{Address, Graph, Kind, NodeId, Part};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Desired {
    Vpc {
        cidr: Cidr,
        dns_support: bool,
        dns_hostnames: bool,
    },
    Subnet {
        vpc: NodeId,
        cidr: Cidr,
        zone: String,
    },
    InternetGateway {
        vpc: NodeId,
    },
    ElasticIp,
    NatGateway {
        subnet: NodeId,
        eip: NodeId,
    },
    RouteTable {
        vpc: NodeId,
    },
    /// `target` is an internet gateway or a NAT gateway node.
    Route {
        table: NodeId,
        destination: Cidr,
        target: NodeId,
    },
    RouteTableAssociation {
        table: NodeId,
        subnet: NodeId,
    },
    SecurityGroup {
        vpc: NodeId,
        description: String,
    },
    SecurityGroupRules {
        group: NodeId,
        rules: Vec<Permission>,
    },
    KeyPair {
        public_key: String,
    },
    /// An existing ACM certificate, or a self-signed one strato generates and imports.
    Certificate {
        arn: Option<String>,
        domains: Vec<String>,
    },
    /// An IAM role for instances, with its instance profile of the same name and one inline
    /// policy that grants exactly what the spec lists.
    InstanceRole {
        /// The IAM name of the role and of its instance profile.
        name: String,
        /// Databases whose master-user secret the role may read
        /// (`secretsmanager:GetSecretValue` on each secret's ARN).
        secrets: Vec<NodeId>,
        /// The role may read the deployment's CSR challenge parameter (`ssm:GetParameter`).
        csr_challenge: bool,
    },
    DbSubnetGroup {
        description: String,
        subnets: Vec<NodeId>,
    },
    DbInstance(Box<DbInstance>),
    FileSystem {
        performance_mode: String,
        throughput_mode: String,
        encrypted: bool,
        /// AWS Backup's automatic daily backups (`CreateFileSystem` `Backup`).
        backup: bool,
    },
    MountTarget {
        file_system: NodeId,
        subnet: NodeId,
        security_groups: Vec<NodeId>,
    },
    Instance(Box<InstanceSpec>),
    LoadBalancer {
        internet_facing: bool,
        subnets: Vec<NodeId>,
        security_groups: Vec<NodeId>,
        idle_timeout: Option<i64>,
        deletion_protection: bool,
    },
    TargetGroup(Box<TargetGroupSpec>),
    Listener {
        load_balancer: NodeId,
        port: i64,
        protocol: String,
        certificate: Option<NodeId>,
        ssl_policy: Option<String>,
        action: ListenerAction,
    },
    ListenerRule {
        listener: NodeId,
        priority: i64,
        hosts: Vec<String>,
        paths: Vec<String>,
        forward: NodeId,
    },
    TargetRegistration {
        target_group: NodeId,
        instance: NodeId,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbInstance {
    /// The RDS identifier: the node's `aws_name`.
    pub identifier: String,
    pub engine: String,
    pub engine_version: String,
    pub instance_class: String,
    pub storage_gb: i64,
    pub storage_type: String,
    pub multi_az: bool,
    pub storage_encrypted: bool,
    pub backup_retention_days: i64,
    pub deletion_protection: bool,
    pub final_snapshot: bool,
    pub publicly_accessible: bool,
    pub master_username: String,
    /// An existing secret; `None` means RDS manages the password.
    pub master_secret_arn: Option<String>,
    pub subnet_group: NodeId,
    pub security_groups: Vec<NodeId>,
    pub port: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Image {
    /// Resolved at provision time from a public SSM parameter.
    SsmParameter(String),
    Ami(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceSpec {
    pub instance_type: String,
    pub image: Image,
    pub subnet: NodeId,
    pub private_ip: Option<Ipv4Addr>,
    pub public_ip: bool,
    pub security_groups: Vec<NodeId>,
    pub key_pair: Option<NodeId>,
    /// An instance-role node: the instance is launched with its instance profile.
    pub role: Option<NodeId>,
    pub root_size_gb: Option<i64>,
    pub root_volume_type: String,
    pub root_encrypted: bool,
    pub user_data: Option<UserData>,
    /// The entry's own tags, on top of the deployment's.
    pub tags: Vec<(String, String)>,
}

/// A user-data template with what is known of its references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserData {
    pub template: String,
    /// `${...}` text to value, for references known from the spec (variables included).
    pub statics: BTreeMap<String, String>,
    /// `${...}` text to the node and attribute it is read from once that node exists.
    pub dynamic: BTreeMap<String, (NodeId, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetGroupSpec {
    /// The AWS name: the node's `aws_name`, at most 32 characters.
    pub name: String,
    pub vpc: NodeId,
    pub protocol: String,
    pub port: i64,
    pub health_protocol: String,
    pub health_path: String,
    pub health_port: Option<i64>,
    pub health_interval: i64,
    pub health_timeout: i64,
    pub healthy_threshold: i64,
    pub unhealthy_threshold: i64,
    pub matcher: String,
    pub stickiness_seconds: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenerAction {
    Forward(NodeId),
    Redirect { protocol: String, port: Option<i64>, status_code: String },
}

/// One ingress permission: a protocol and port range from sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permission {
    /// `tcp`, `udp`, `icmp` or `-1` (all).
    pub protocol: String,
    /// -1 for every port (icmp, all).
    pub from_port: i32,
    pub to_port: i32,
    pub groups: Vec<NodeId>,
    pub cidrs: Vec<Cidr>,
    pub description: Option<String>,
}

pub(crate) fn attach(doc: &Document, g: &mut Graph) {
    let spec = &doc.spec;
    name_nodes(spec, g);
    let id = |g: &Graph, address: Address| g.find_address(&address);
    let set = |g: &mut Graph, address: Address, d: Desired| {
        if let Some(n) = g.find_address(&address) {
            g.nodes[n.0].desired = Some(d);
        }
    };
    for v in &spec.vpcs {
        let Some(cidr) = &v.cidr else { continue };
        let d = Desired::Vpc { cidr: cidr.value, dns_support: v.dns_support, dns_hostnames: v.dns_hostnames };
        set(g, Address::whole(Kind::Vpc, &v.name.value), d);
    }
    for s in &spec.subnets {
        let (Some(vpc), Some(cidr)) = (id(g, Address::whole(Kind::Vpc, &s.vpc.value)), &s.cidr) else {
            continue;
        };
        let d = Desired::Subnet { vpc, cidr: cidr.value, zone: s.zone.value.clone() };
        set(g, Address::whole(Kind::Subnet, &s.name.value), d);
    }
    for igw in &spec.internet_gateways {
        let Some(vpc) = id(g, Address::whole(Kind::Vpc, &igw.vpc.value)) else {
            continue;
        };
        set(g, Address::whole(Kind::InternetGateway, &igw.name.value), Desired::InternetGateway { vpc });
    }
    for nat in &spec.nat_gateways {
        set(g, Address::whole(Kind::ElasticIp, &nat.name.value), Desired::ElasticIp);
        let subnet = id(g, Address::whole(Kind::Subnet, &nat.subnet.value));
        let eip = id(g, Address::whole(Kind::ElasticIp, &nat.name.value));
        if let (Some(subnet), Some(eip)) = (subnet, eip) {
            set(g, Address::whole(Kind::NatGateway, &nat.name.value), Desired::NatGateway { subnet, eip });
        }
    }
    for rt in &spec.route_tables {
        let Some(vpc) = id(g, Address::whole(Kind::Vpc, &rt.vpc.value)) else {
            continue;
        };
        let table_address = Address::whole(Kind::RouteTable, &rt.name.value);
        set(g, table_address.clone(), Desired::RouteTable { vpc });
        let Some(table) = id(g, table_address) else {
            continue;
        };
        for route in &rt.routes {
            let Some(dest) = &route.destination else {
                continue;
            };
            let target = match &route.target {
                Some(RouteTarget::InternetGateway(n)) => id(g, Address::whole(Kind::InternetGateway, &n.value)),
                Some(RouteTarget::NatGateway(n)) => id(g, Address::whole(Kind::NatGateway, &n.value)),
                None => None,
            };
            let Some(target) = target else { continue };
            let d = Desired::Route { table, destination: dest.value, target };
            set(g, Address::route(&rt.name.value, dest.value), d);
        }
        for s in &rt.subnets {
            let Some(subnet) = id(g, Address::whole(Kind::Subnet, &s.value)) else {
                continue;
            };
            let d = Desired::RouteTableAssociation { table, subnet };
            set(g, Address::association(&rt.name.value, &s.value), d);
        }
    }
    for sg in &spec.security_groups {
        let Some(vpc) = id(g, Address::whole(Kind::Vpc, &sg.vpc.value)) else {
            continue;
        };
        let description =
            sg.description.as_ref().map_or_else(|| format!("strato: {}", sg.name.value), |d| d.value.clone());
        let group_address = Address::whole(Kind::SecurityGroup, &sg.name.value);
        set(g, group_address.clone(), Desired::SecurityGroup { vpc, description });
        let Some(group) = id(g, group_address) else {
            continue;
        };
        let rules = permissions(spec, g, &sg.ingress);
        set(g, Address::rules(&sg.name.value), Desired::SecurityGroupRules { group, rules });
    }
    for kp in &spec.key_pairs {
        let key = match (&kp.public_key_file, &kp.public_key) {
            (Some(f), _) => doc.file_text(&f.value).map(str::to_string),
            (None, Some(k)) => Some(k.value.clone()),
            _ => None,
        };
        if let Some(key) = key {
            let d = Desired::KeyPair { public_key: key.trim().to_string() };
            set(g, Address::whole(Kind::KeyPair, &kp.name.value), d);
        }
    }
    let ids = |g: &Graph, kind: Kind, names: &[strato_spec::Sp<String>]| -> Vec<NodeId> {
        names.iter().filter_map(|n| g.find_address(&Address::whole(kind, &n.value))).collect()
    };
    for c in &spec.certificates {
        let d = Desired::Certificate {
            arn: c.arn.as_ref().map(|a| a.value.clone()),
            domains: c.domains.iter().map(|d| d.value.clone()).collect(),
        };
        set(g, Address::whole(Kind::Certificate, &c.name.value), d);
    }
    for role in &spec.instance_roles {
        let address = Address::whole(Kind::InstanceRole, &role.name.value);
        let Some(node) = id(g, address.clone()) else { continue };
        let d = Desired::InstanceRole {
            name: g.node(node).aws_name.clone(),
            secrets: ids(g, Kind::DbInstance, &role.database_secrets),
            csr_challenge: role.csr_challenge,
        };
        set(g, address, d);
    }
    for dsg in &spec.db_subnet_groups {
        let subnets = selected(spec, g, &dsg.subnets);
        let description =
            dsg.description.as_ref().map_or_else(|| format!("strato: {}", dsg.name.value), |d| d.value.clone());
        set(g, Address::whole(Kind::DbSubnetGroup, &dsg.name.value), Desired::DbSubnetGroup { description, subnets });
    }
    for db in &spec.databases {
        let Some(subnet_group) = id(g, Address::whole(Kind::DbSubnetGroup, &db.subnet_group.value)) else { continue };
        let Some(node) = id(g, Address::whole(Kind::DbInstance, &db.name.value)) else { continue };
        let d = DbInstance {
            identifier: g.node(node).aws_name.clone(),
            engine: db.engine.value.clone(),
            engine_version: db.engine_version.value.clone(),
            instance_class: db.instance_class.value.clone(),
            storage_gb: db.storage_gb.as_ref().map_or(20, |s| s.value),
            storage_type: db.storage_type.value.clone(),
            multi_az: db.multi_az,
            storage_encrypted: db.storage_encrypted,
            backup_retention_days: db.backup_retention_days,
            deletion_protection: db.deletion_protection,
            final_snapshot: db.final_snapshot,
            publicly_accessible: db.publicly_accessible,
            master_username: db.master_username.value.clone(),
            master_secret_arn: db.master_secret_arn.as_ref().map(|a| a.value.clone()),
            subnet_group,
            security_groups: ids(g, Kind::SecurityGroup, &db.security_groups),
            port: db.port.as_ref().map(|p| p.value),
        };
        set(g, Address::whole(Kind::DbInstance, &db.name.value), Desired::DbInstance(Box::new(d)));
    }
    for fs in &spec.file_systems {
        let fs_address = Address::whole(Kind::FileSystem, &fs.name.value);
        let d = Desired::FileSystem {
            performance_mode: fs.performance_mode.value.clone(),
            throughput_mode: fs.throughput_mode.value.clone(),
            encrypted: fs.encrypted,
            backup: fs.backup,
        };
        set(g, fs_address.clone(), d);
        let Some(file_system) = id(g, fs_address) else { continue };
        let security_groups = ids(g, Kind::SecurityGroup, &fs.security_groups);
        for subnet in selected(spec, g, &fs.mount_targets) {
            let address = Address::mount_target(&fs.name.value, g.node(subnet).address.name());
            let d = Desired::MountTarget { file_system, subnet, security_groups: security_groups.clone() };
            set(g, address, d);
        }
    }
    for inst in &spec.instances {
        for node in inst.nodes() {
            if let Some(d) = instance(doc, g, inst, &node) {
                set(g, Address::whole(Kind::Instance, &node.name), Desired::Instance(Box::new(d)));
            }
        }
    }
    for tg in &spec.target_groups {
        let Some(vpc) = id(g, Address::whole(Kind::Vpc, &tg.vpc.value)) else { continue };
        let Some(node) = id(g, Address::whole(Kind::TargetGroup, &tg.name.value)) else { continue };
        let hc = &tg.health_check;
        let d = TargetGroupSpec {
            name: g.node(node).aws_name.clone(),
            vpc,
            protocol: tg.protocol.value.clone(),
            port: tg.port.as_ref().map_or(443, |p| p.value),
            health_protocol: hc.protocol.as_ref().map_or_else(|| tg.protocol.value.clone(), |p| p.value.clone()),
            health_path: hc.path.value.clone(),
            health_port: hc.port.as_ref().map(|p| p.value),
            health_interval: hc.interval,
            health_timeout: hc.timeout,
            healthy_threshold: hc.healthy_threshold,
            unhealthy_threshold: hc.unhealthy_threshold,
            matcher: hc.matcher.value.clone(),
            stickiness_seconds: tg.stickiness.as_ref().map(|s| s.value),
        };
        let tg_address = Address::whole(Kind::TargetGroup, &tg.name.value);
        set(g, tg_address.clone(), Desired::TargetGroup(Box::new(d)));
        let Some(target_group) = id(g, tg_address.clone()) else { continue };
        let registrations: Vec<(Address, NodeId)> = g
            .nodes()
            .iter()
            .filter_map(|n| {
                let Part::Target { instance } = n.address.part() else { return None };
                if n.address.parent().as_ref() != Some(&tg_address) {
                    return None;
                }
                Some((n.address.clone(), g.find_address(&Address::whole(Kind::Instance, instance))?))
            })
            .collect();
        for (address, instance) in registrations {
            set(g, address, Desired::TargetRegistration { target_group, instance });
        }
    }
    for lb in &spec.load_balancers {
        let lb_address = Address::whole(Kind::LoadBalancer, &lb.name.value);
        let d = Desired::LoadBalancer {
            internet_facing: lb.internet_facing(),
            subnets: selected(spec, g, &lb.subnets),
            security_groups: ids(g, Kind::SecurityGroup, &lb.security_groups),
            idle_timeout: lb.idle_timeout.as_ref().map(|t| t.value),
            deletion_protection: lb.deletion_protection,
        };
        set(g, lb_address.clone(), d);
        let Some(load_balancer) = id(g, lb_address.clone()) else { continue };
        for l in &lb.listeners {
            let (Some(port), Some(action)) = (&l.port, &l.action) else { continue };
            let action = match action {
                Action::Forward(tg) => match id(g, Address::whole(Kind::TargetGroup, &tg.value)) {
                    Some(t) => ListenerAction::Forward(t),
                    None => continue,
                },
                Action::Redirect { protocol, port, status_code } => ListenerAction::Redirect {
                    protocol: protocol.value.clone(),
                    port: port.as_ref().map(|p| p.value),
                    status_code: status_code.value.clone(),
                },
            };
            let listener_address = Address::listener(&lb.name.value, port.value);
            let d = Desired::Listener {
                load_balancer,
                port: port.value,
                protocol: l.protocol.value.clone(),
                certificate: l.certificate.as_ref().and_then(|c| id(g, Address::whole(Kind::Certificate, &c.value))),
                // HTTPS listeners get a current TLS policy unless the spec names one; HTTP
                // listeners have none.
                ssl_policy: (l.protocol.value == "HTTPS")
                    .then(|| l.ssl_policy.as_ref().map_or_else(|| DEFAULT_SSL_POLICY.to_string(), |p| p.value.clone())),
                action,
            };
            set(g, listener_address.clone(), d);
            let Some(listener) = id(g, listener_address.clone()) else { continue };
            for rule in &l.rules {
                let (Some(priority), Some(forward)) =
                    (&rule.priority, id(g, Address::whole(Kind::TargetGroup, &rule.forward.value)))
                else {
                    continue;
                };
                let d = Desired::ListenerRule {
                    listener,
                    priority: priority.value,
                    hosts: rule.hosts.iter().map(|h| static_text(spec, &h.value)).collect(),
                    paths: rule.paths.iter().map(|p| p.value.clone()).collect(),
                    forward,
                };
                set(g, Address::listener_rule(&lb.name.value, port.value, priority.value), d);
            }
        }
    }
}

/// Every node's name in AWS: `<deployment>-<rest of the address>`, shortened to fit where AWS
/// limits the length, or the name the spec gives.
fn name_nodes(spec: &Spec, g: &mut Graph) {
    let deployment = spec.deployment.name.value.as_str();
    for n in &mut g.nodes {
        n.aws_name = names::aws_name(deployment, n.address.path(), NO_LIMIT);
    }
    let mut name = |address: Address, aws_name: String| {
        if let Some(id) = g.find_address(&address) {
            g.nodes[id.0].aws_name = aws_name;
        }
    };
    for lb in &spec.load_balancers {
        name(Address::whole(Kind::LoadBalancer, &lb.name.value), lb.name_in_aws(deployment));
    }
    for tg in &spec.target_groups {
        name(Address::whole(Kind::TargetGroup, &tg.name.value), tg.name_in_aws(deployment));
    }
    for db in &spec.databases {
        name(Address::whole(Kind::DbInstance, &db.name.value), db.name_in_aws(deployment));
    }
    for role in &spec.instance_roles {
        let region = &spec.deployment.region.value;
        name(Address::whole(Kind::InstanceRole, &role.name.value), role.name_in_aws(deployment, region));
    }
}

/// The subnet nodes a selector picks.
fn selected(spec: &Spec, g: &Graph, sel: &SubnetSelector) -> Vec<NodeId> {
    let names: Vec<&str> = match sel {
        SubnetSelector::Names(n) => n.iter().map(|n| n.value.as_str()).collect(),
        SubnetSelector::Tier(t) => {
            spec.subnets.iter().filter(|s| s.tier.value == t.value).map(|s| s.name.value.as_str()).collect()
        }
    };
    names.into_iter().filter_map(|n| g.find_address(&Address::whole(Kind::Subnet, n))).collect()
}

/// A string whose references are all known from the spec (listener-rule hosts).
fn static_text(spec: &Spec, text: &str) -> String {
    strato_spec::template::render(text, |r| spec.deployment_value(r))
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

fn instance(doc: &Document, g: &Graph, inst: &Instance, node: &Node) -> Option<InstanceSpec> {
    let spec = &doc.spec;
    let image = match spec.images.iter().find(|i| i.name.value == inst.image.value) {
        Some(alias) => match (&alias.ssm_parameter, &alias.ami) {
            (Some(p), _) => Image::SsmParameter(p.value.clone()),
            (None, Some(a)) => Image::Ami(a.value.clone()),
            _ => return None,
        },
        None => Image::Ami(inst.image.value.clone()),
    };
    let user_data = match &inst.user_data {
        None => None,
        Some(ud) => {
            let file = doc.file(&ud.template.value)?;
            let template = doc.sources.get(file).text.clone();
            let mut statics = BTreeMap::new();
            let mut dynamic = BTreeMap::new();
            let var_refs = ud.vars.iter().flat_map(|v| doc.references_in_value(&v.value));
            for r in references(&template, file, 0).into_iter().chain(var_refs) {
                let text = r.text();
                let parts: Vec<&str> = text.split('.').collect();
                if let Some(v) = static_value(spec, inst, node, &parts) {
                    statics.insert(text, v);
                    continue;
                }
                if let [ns, name, attr] = parts[..] {
                    let known = attributes(ns).and_then(|a| a.iter().find(|(n, _)| *n == attr)).map(|(_, k)| *k);
                    let target = Address::of_namespace(ns, name).and_then(|a| g.find_address(&a));
                    if let (Some(Known::At(_)), Some(target)) = (known, target) {
                        dynamic.insert(text.clone(), (target, attr.to_string()));
                    }
                }
            }
            Some(UserData { template, statics, dynamic })
        }
    };
    Some(InstanceSpec {
        instance_type: inst.instance_type.value.clone(),
        image,
        subnet: g.find_address(&Address::whole(Kind::Subnet, &node.subnet.value))?,
        private_ip: inst.private_ip.as_ref().map(|ip| ip.value),
        public_ip: inst.public_ip,
        security_groups: inst
            .security_groups
            .iter()
            .filter_map(|n| g.find_address(&Address::whole(Kind::SecurityGroup, &n.value)))
            .collect(),
        key_pair: inst.key_pair.as_ref().and_then(|k| g.find_address(&Address::whole(Kind::KeyPair, &k.value))),
        role: inst.role.as_ref().and_then(|r| g.find_address(&Address::whole(Kind::InstanceRole, &r.value))),
        root_size_gb: inst.root_volume.size_gb.as_ref().map(|s| s.value),
        root_volume_type: inst.root_volume.volume_type.value.clone(),
        root_encrypted: inst.root_volume.encrypted,
        user_data,
        tags: inst.tags.iter().map(|t| (t.key.value.clone(), t.value.value.clone())).collect(),
    })
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

/// The permissions of a group's ingress rules: one per protocol and port range.
fn permissions(spec: &Spec, g: &Graph, rules: &[strato_spec::model::IngressRule]) -> Vec<Permission> {
    let mut out = Vec::new();
    for rule in rules {
        let groups: Vec<NodeId> = rule
            .from_groups
            .iter()
            .filter_map(|n| g.find_address(&Address::whole(Kind::SecurityGroup, &n.value)))
            .collect();
        let mut cidrs = Vec::new();
        for src in &rule.from_cidrs {
            match src.value.split_once('.') {
                Some(("vpc", name)) => cidrs.extend(
                    spec.vpcs.iter().filter(|v| v.name.value == name).filter_map(|v| v.cidr.as_ref().map(|c| c.value)),
                ),
                Some(("cidr_set", name)) => cidrs.extend(
                    spec.cidr_sets
                        .iter()
                        .filter(|s| s.name.value == name)
                        .flat_map(|s| s.blocks.iter().map(|b| b.value)),
                ),
                _ => cidrs.extend(src.value.parse::<Cidr>().ok()),
            }
        }
        let description = rule.description.as_ref().map(|d| d.value.clone());
        let protocol = match rule.protocol.value.as_str() {
            "all" => "-1".to_string(),
            p => p.to_string(),
        };
        let ranges: Vec<(i32, i32)> = if rule.ports.is_empty() {
            vec![(-1, -1)]
        } else {
            rule.ports.iter().map(|p| (i32::from(p.value.from), i32::from(p.value.to))).collect()
        };
        for (from_port, to_port) in ranges {
            out.push(Permission {
                protocol: protocol.clone(),
                from_port,
                to_port,
                groups: groups.clone(),
                cidrs: cidrs.clone(),
                description: description.clone(),
            });
        }
    }
    out
}
