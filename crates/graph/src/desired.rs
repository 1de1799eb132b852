//! What each object should look like in AWS: the spec's settings for one node, with
//! references turned into node ids, so a driver needs nothing but the node and the ids of
//! its dependencies.
//!
//! Kinds whose drivers do not exist yet carry no desired state; callers refuse to provision
//! a graph that contains them instead of half-building it.

use strato_spec::model::{RouteTarget, Spec};
use strato_spec::net::Cidr;
use strato_spec::Document;

use crate::{Graph, NodeId};

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
    let id = |g: &Graph, address: String| g.find(&address);
    let set = |g: &mut Graph, address: String, d: Desired| {
        if let Some(n) = g.find(&address) {
            g.nodes[n.0].desired = Some(d);
        }
    };
    for v in &spec.vpcs {
        let Some(cidr) = &v.cidr else { continue };
        let d = Desired::Vpc {
            cidr: cidr.value,
            dns_support: v.dns_support,
            dns_hostnames: v.dns_hostnames,
        };
        set(g, format!("vpc.{}", v.name.value), d);
    }
    for s in &spec.subnets {
        let (Some(vpc), Some(cidr)) = (id(g, format!("vpc.{}", s.vpc.value)), &s.cidr) else {
            continue;
        };
        let d = Desired::Subnet {
            vpc,
            cidr: cidr.value,
            zone: s.zone.value.clone(),
        };
        set(g, format!("subnet.{}", s.name.value), d);
    }
    for igw in &spec.internet_gateways {
        let Some(vpc) = id(g, format!("vpc.{}", igw.vpc.value)) else {
            continue;
        };
        set(
            g,
            format!("internet_gateway.{}", igw.name.value),
            Desired::InternetGateway { vpc },
        );
    }
    for nat in &spec.nat_gateways {
        set(
            g,
            format!("elastic_ip.{}", nat.name.value),
            Desired::ElasticIp,
        );
        let subnet = id(g, format!("subnet.{}", nat.subnet.value));
        let eip = id(g, format!("elastic_ip.{}", nat.name.value));
        if let (Some(subnet), Some(eip)) = (subnet, eip) {
            set(
                g,
                format!("nat_gateway.{}", nat.name.value),
                Desired::NatGateway { subnet, eip },
            );
        }
    }
    for rt in &spec.route_tables {
        let Some(vpc) = id(g, format!("vpc.{}", rt.vpc.value)) else {
            continue;
        };
        let table_address = format!("route_table.{}", rt.name.value);
        set(g, table_address.clone(), Desired::RouteTable { vpc });
        let Some(table) = id(g, table_address) else {
            continue;
        };
        for route in &rt.routes {
            let Some(dest) = &route.destination else {
                continue;
            };
            let target = match &route.target {
                Some(RouteTarget::InternetGateway(n)) => {
                    id(g, format!("internet_gateway.{}", n.value))
                }
                Some(RouteTarget::NatGateway(n)) => id(g, format!("nat_gateway.{}", n.value)),
                None => None,
            };
            let Some(target) = target else { continue };
            let d = Desired::Route {
                table,
                destination: dest.value,
                target,
            };
            set(
                g,
                format!("route_table.{}.route[{}]", rt.name.value, dest.value),
                d,
            );
        }
        for s in &rt.subnets {
            let Some(subnet) = id(g, format!("subnet.{}", s.value)) else {
                continue;
            };
            let d = Desired::RouteTableAssociation { table, subnet };
            set(
                g,
                format!("route_table.{}.association[{}]", rt.name.value, s.value),
                d,
            );
        }
    }
    for sg in &spec.security_groups {
        let Some(vpc) = id(g, format!("vpc.{}", sg.vpc.value)) else {
            continue;
        };
        let description = sg
            .description
            .as_ref()
            .map_or_else(|| format!("strato: {}", sg.name.value), |d| d.value.clone());
        let group_address = format!("security_group.{}", sg.name.value);
        set(
            g,
            group_address.clone(),
            Desired::SecurityGroup { vpc, description },
        );
        let Some(group) = id(g, group_address) else {
            continue;
        };
        let rules = permissions(spec, g, &sg.ingress);
        set(
            g,
            format!("security_group.{}.rules", sg.name.value),
            Desired::SecurityGroupRules { group, rules },
        );
    }
    for kp in &spec.key_pairs {
        let key = match (&kp.public_key_file, &kp.public_key) {
            (Some(f), _) => doc.file_text(&f.value).map(str::to_string),
            (None, Some(k)) => Some(k.value.clone()),
            _ => None,
        };
        if let Some(key) = key {
            let d = Desired::KeyPair {
                public_key: key.trim().to_string(),
            };
            set(g, format!("key_pair.{}", kp.name.value), d);
        }
    }
}

/// The permissions of a group's ingress rules: one per protocol and port range.
fn permissions(
    spec: &Spec,
    g: &Graph,
    rules: &[strato_spec::model::IngressRule],
) -> Vec<Permission> {
    let mut out = Vec::new();
    for rule in rules {
        let groups: Vec<NodeId> = rule
            .from_groups
            .iter()
            .filter_map(|n| g.find(&format!("security_group.{}", n.value)))
            .collect();
        let mut cidrs = Vec::new();
        for src in &rule.from_cidrs {
            match src.value.split_once('.') {
                Some(("vpc", name)) => cidrs.extend(
                    spec.vpcs
                        .iter()
                        .filter(|v| v.name.value == name)
                        .filter_map(|v| v.cidr.as_ref().map(|c| c.value)),
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
            rule.ports
                .iter()
                .map(|p| (i32::from(p.value.from), i32::from(p.value.to)))
                .collect()
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
