//! From spec to graph: one node per AWS object, one edge per thing it needs.
//!
//! The rules for which stage an edge needs live here, in one place:
//! - containers (VPC, subnet, route table, security group, load balancer, target group,
//!   listener) are needed *created*: AWS accepts children as soon as the id exists;
//! - a NAT gateway is needed *ready* by its routes (a route to a pending NAT gateway
//!   blackholes), a file system *ready* by its mount targets, an instance *ready* (running)
//!   by its target registrations, a certificate *ready* (issued) by listeners, an instance
//!   role *ready* (its instance profile usable by EC2) by its instances;
//! - an instance role needs the databases whose secrets it may read *created*: RDS answers
//!   CreateDBInstance with the ARN of the master-user secret it manages;
//! - template references need whatever stage their attribute is known at
//!   (`strato_spec::template::NAMESPACES`); attributes known from the spec alone make no
//!   edge, which is how WSO2 nodes reach the Puppet server's fixed address without waiting.

use std::collections::BTreeMap;

use strato_spec::model::{Action, Instance, RouteTarget, Spec, SubnetSelector};
use strato_spec::template::{attributes, references, Known};
use strato_spec::{Document, Span, Stage};

use crate::{Address, Graph, Kind, NodeId};

use Stage::{Created, Ready};

pub(crate) fn build(doc: &Document) -> Graph {
    let spec = &doc.spec;
    let mut g = Graph::default();
    let mut b = Names::default();

    for vpc in &spec.vpcs {
        let id = g.add_node(Address::whole(Kind::Vpc, &vpc.name.value), vpc.name.span);
        b.vpc.insert(vpc.name.value.clone(), id);
    }
    for s in &spec.subnets {
        let id = g.add_node(Address::whole(Kind::Subnet, &s.name.value), s.name.span);
        b.subnet.insert(s.name.value.clone(), id);
        b.edge(&mut g, id, &b.vpc, &s.vpc.value, Created, s.vpc.span);
    }
    for igw in &spec.internet_gateways {
        let id = g.add_node(Address::whole(Kind::InternetGateway, &igw.name.value), igw.name.span);
        b.igw.insert(igw.name.value.clone(), id);
        b.igw_of_vpc.insert(igw.vpc.value.clone(), id);
        b.edge(&mut g, id, &b.vpc, &igw.vpc.value, Created, igw.vpc.span);
    }
    for nat in &spec.nat_gateways {
        let eip = g.add_node(Address::whole(Kind::ElasticIp, &nat.name.value), nat.name.span);
        let id = g.add_node(Address::whole(Kind::NatGateway, &nat.name.value), nat.name.span);
        b.nat.insert(nat.name.value.clone(), id);
        g.add_edge(id, eip, Created, nat.name.span);
        b.edge(&mut g, id, &b.subnet, &nat.subnet.value, Created, nat.subnet.span);
        // A public NAT gateway needs the internet gateway attached to its VPC.
        if let Some(igw) = b.subnet_vpc(spec, &nat.subnet.value).and_then(|v| b.igw_of_vpc.get(v)) {
            g.add_edge(id, *igw, Created, nat.subnet.span);
        }
    }
    for rt in &spec.route_tables {
        let table = g.add_node(Address::whole(Kind::RouteTable, &rt.name.value), rt.name.span);
        b.edge(&mut g, table, &b.vpc, &rt.vpc.value, Created, rt.vpc.span);
        let mut routes = Vec::new();
        for route in &rt.routes {
            let Some(dest) = &route.destination else {
                continue;
            };
            let id = g.add_node(Address::route(&rt.name.value, dest.value), route.span);
            g.add_edge(id, table, Created, route.span);
            match &route.target {
                Some(RouteTarget::InternetGateway(n)) => b.edge(&mut g, id, &b.igw, &n.value, Created, n.span),
                Some(RouteTarget::NatGateway(n)) => b.edge(&mut g, id, &b.nat, &n.value, Ready, n.span),
                None => {}
            }
            routes.push(id);
        }
        for s in &rt.subnets {
            let id = g.add_node(Address::association(&rt.name.value, &s.value), s.span);
            g.add_edge(id, table, Created, s.span);
            b.edge(&mut g, id, &b.subnet, &s.value, Created, s.span);
            // What an instance in this subnet needs before it boots with outbound access.
            let mut path = vec![id];
            path.extend(&routes);
            b.subnet_routing.insert(s.value.clone(), path);
        }
    }
    for sg in &spec.security_groups {
        let id = g.add_node(Address::whole(Kind::SecurityGroup, &sg.name.value), sg.name.span);
        b.group.insert(sg.name.value.clone(), id);
        b.edge(&mut g, id, &b.vpc, &sg.vpc.value, Created, sg.vpc.span);
    }
    for sg in &spec.security_groups {
        if sg.ingress.is_empty() {
            continue;
        }
        let span = sg.ingress[0].span;
        let id = g.add_node(Address::rules(&sg.name.value), span);
        b.edge(&mut g, id, &b.group, &sg.name.value, Created, sg.name.span);
        for rule in &sg.ingress {
            for src in &rule.from_groups {
                b.edge(&mut g, id, &b.group, &src.value, Created, src.span);
            }
        }
    }
    for kp in &spec.key_pairs {
        let id = g.add_node(Address::whole(Kind::KeyPair, &kp.name.value), kp.name.span);
        b.key_pair.insert(kp.name.value.clone(), id);
    }
    for c in &spec.certificates {
        let id = g.add_node(Address::whole(Kind::Certificate, &c.name.value), c.name.span);
        b.certificate.insert(c.name.value.clone(), id);
    }
    for dsg in &spec.db_subnet_groups {
        let id = g.add_node(Address::whole(Kind::DbSubnetGroup, &dsg.name.value), dsg.name.span);
        b.db_subnet_group.insert(dsg.name.value.clone(), id);
        for (name, span) in select(spec, &dsg.subnets) {
            b.edge(&mut g, id, &b.subnet, &name, Created, span);
        }
    }
    for db in &spec.databases {
        let id = g.add_node(Address::whole(Kind::DbInstance, &db.name.value), db.name.span);
        g.nodes[id.0].multi_az = db.multi_az;
        b.database.insert(db.name.value.clone(), id);
        b.edge(&mut g, id, &b.db_subnet_group, &db.subnet_group.value, Created, db.subnet_group.span);
        for sg in &db.security_groups {
            b.edge(&mut g, id, &b.group, &sg.value, Created, sg.span);
        }
    }
    for role in &spec.instance_roles {
        let id = g.add_node(Address::whole(Kind::InstanceRole, &role.name.value), role.name.span);
        b.role.insert(role.name.value.clone(), id);
        // The policy names each secret's ARN, which RDS gives when the database is created;
        // AWS does not tie the role to the database, so destroy need not wait for it.
        for db in &role.database_secrets {
            if let Some(&to) = b.database.get(&db.value) {
                g.add_edge_of(id, to, Created, db.span, true);
            }
        }
    }
    for fs in &spec.file_systems {
        let id = g.add_node(Address::whole(Kind::FileSystem, &fs.name.value), fs.name.span);
        b.file_system.insert(fs.name.value.clone(), id);
        for (subnet, span) in select(spec, &fs.mount_targets) {
            let mt = g.add_node(Address::mount_target(&fs.name.value, &subnet), span);
            g.add_edge(mt, id, Ready, span);
            b.edge(&mut g, mt, &b.subnet, &subnet, Created, span);
            for sg in &fs.security_groups {
                b.edge(&mut g, mt, &b.group, &sg.value, Created, sg.span);
            }
        }
    }
    // Instances first as nodes (templates may refer to each other), then their edges.
    for inst in &spec.instances {
        for node in inst.nodes() {
            let id = g.add_node(Address::whole(Kind::Instance, &node.name), inst.name.span);
            b.instance.insert(node.name.clone(), id);
        }
    }
    for lb in &spec.load_balancers {
        let id = g.add_node(Address::whole(Kind::LoadBalancer, &lb.name.value), lb.name.span);
        b.load_balancer.insert(lb.name.value.clone(), id);
    }
    for tg in &spec.target_groups {
        let id = g.add_node(Address::whole(Kind::TargetGroup, &tg.name.value), tg.name.span);
        b.target_group.insert(tg.name.value.clone(), id);
        b.edge(&mut g, id, &b.vpc, &tg.vpc.value, Created, tg.vpc.span);
    }
    for inst in &spec.instances {
        instance_edges(doc, &mut g, &b, inst);
    }
    for lb in &spec.load_balancers {
        let id = b.load_balancer[&lb.name.value];
        let subnets = select(spec, &lb.subnets);
        for (name, span) in &subnets {
            b.edge(&mut g, id, &b.subnet, name, Created, *span);
        }
        for sg in &lb.security_groups {
            b.edge(&mut g, id, &b.group, &sg.value, Created, sg.span);
        }
        if lb.internet_facing() {
            let igw = subnets.first().and_then(|(s, _)| b.subnet_vpc(spec, s)).and_then(|v| b.igw_of_vpc.get(v));
            if let Some(igw) = igw {
                g.add_edge(id, *igw, Created, lb.scheme.span);
            }
        }
        for l in &lb.listeners {
            let Some(port) = &l.port else { continue };
            let lid = g.add_node(Address::listener(&lb.name.value, port.value), l.span);
            g.add_edge(lid, id, Created, port.span);
            if let Some(Action::Forward(tg)) = &l.action {
                b.edge(&mut g, lid, &b.target_group, &tg.value, Created, tg.span);
            }
            if let Some(c) = &l.certificate {
                b.edge(&mut g, lid, &b.certificate, &c.value, Ready, c.span);
            }
            for rule in &l.rules {
                let Some(p) = &rule.priority else { continue };
                let rid = g.add_node(Address::listener_rule(&lb.name.value, port.value, p.value), rule.span);
                g.add_edge(rid, lid, Created, p.span);
                b.edge(&mut g, rid, &b.target_group, &rule.forward.value, Created, rule.forward.span);
            }
        }
    }
    for tg in &spec.target_groups {
        let id = b.target_group[&tg.name.value];
        for target in &tg.targets {
            let nodes: Vec<String> =
                match spec.instances.iter().find(|i| i.name.value == target.value && i.count.is_some()) {
                    Some(entry) => entry.nodes().into_iter().map(|n| n.name).collect(),
                    None => vec![target.value.clone()],
                };
            for node in nodes {
                let Some(&inst) = b.instance.get(&node) else {
                    continue;
                };
                let rid = g.add_node(Address::target(&tg.name.value, &node), target.span);
                g.add_edge(rid, id, Created, target.span);
                g.add_edge(rid, inst, Ready, target.span);
            }
        }
    }
    g
}

fn instance_edges(doc: &Document, g: &mut Graph, b: &Names, inst: &Instance) {
    let spec = &doc.spec;
    for node in inst.nodes() {
        let id = b.instance[&node.name];
        b.edge(g, id, &b.subnet, &node.subnet.value, Created, node.subnet.span);
        if let Some(path) = b.subnet_routing.get(&node.subnet.value) {
            for &r in path {
                g.add_edge(id, r, Created, node.subnet.span);
            }
        }
        for sg in &inst.security_groups {
            b.edge(g, id, &b.group, &sg.value, Created, sg.span);
        }
        if let Some(kp) = &inst.key_pair {
            b.edge(g, id, &b.key_pair, &kp.value, Created, kp.span);
        }
        if let Some(role) = &inst.role {
            b.edge(g, id, &b.role, &role.value, Ready, role.span);
        }
        let Some(ud) = &inst.user_data else { continue };
        let mut refs: Vec<_> = ud.vars.iter().flat_map(|v| doc.references_in_value(&v.value)).collect();
        if let Some(file) = doc.file(&ud.template.value) {
            refs.extend(references(&doc.sources.get(file).text, file, 0));
        }
        for r in refs {
            template_edge(spec, g, b, id, &r.parts, r.span);
        }
    }
}

/// The edge a `${kind.name.attr}` reference makes, if its attribute is not known statically.
fn template_edge(spec: &Spec, g: &mut Graph, b: &Names, from: NodeId, parts: &[String], span: Span) {
    let [ns, name, attr] = parts else { return };
    let Some(known) = attributes(ns).and_then(|a| a.iter().find(|(n, _)| n == attr)).map(|(_, k)| *k) else {
        return;
    };
    let Known::At(stage) = known else { return };
    if ns == "instance" && attr == "private_ip" && fixed_ip(spec, name) {
        return;
    }
    let map = match ns.as_str() {
        "vpc" => &b.vpc,
        "subnet" => &b.subnet,
        "security_group" => &b.group,
        "nat_gateway" => &b.nat,
        "key_pair" => &b.key_pair,
        "certificate" => &b.certificate,
        "database" => &b.database,
        "file_system" => &b.file_system,
        "load_balancer" => &b.load_balancer,
        "target_group" => &b.target_group,
        "instance" => &b.instance,
        _ => return,
    };
    if let Some(&to) = map.get(name) {
        g.add_edge_of(from, to, stage, span, true);
    }
}

fn fixed_ip(spec: &Spec, node: &str) -> bool {
    spec.instances.iter().any(|i| i.count.is_none() && i.name.value == node && i.private_ip.is_some())
}

/// The subnet names a selector picks, each with the span to blame.
fn select(spec: &Spec, sel: &SubnetSelector) -> Vec<(String, Span)> {
    match sel {
        SubnetSelector::Names(names) => names.iter().map(|n| (n.value.clone(), n.span)).collect(),
        SubnetSelector::Tier(tier) => spec
            .subnets
            .iter()
            .filter(|s| s.tier.value == tier.value)
            .map(|s| (s.name.value.clone(), tier.span))
            .collect(),
    }
}

/// Node ids by spec name, per kind.
#[derive(Default)]
struct Names {
    vpc: BTreeMap<String, NodeId>,
    subnet: BTreeMap<String, NodeId>,
    igw: BTreeMap<String, NodeId>,
    igw_of_vpc: BTreeMap<String, NodeId>,
    nat: BTreeMap<String, NodeId>,
    group: BTreeMap<String, NodeId>,
    key_pair: BTreeMap<String, NodeId>,
    certificate: BTreeMap<String, NodeId>,
    db_subnet_group: BTreeMap<String, NodeId>,
    database: BTreeMap<String, NodeId>,
    role: BTreeMap<String, NodeId>,
    file_system: BTreeMap<String, NodeId>,
    instance: BTreeMap<String, NodeId>,
    load_balancer: BTreeMap<String, NodeId>,
    target_group: BTreeMap<String, NodeId>,
    /// Per subnet: its route-table association and the routes of that table.
    subnet_routing: BTreeMap<String, Vec<NodeId>>,
}

impl Names {
    fn edge(&self, g: &mut Graph, from: NodeId, map: &BTreeMap<String, NodeId>, name: &str, needs: Stage, span: Span) {
        if let Some(&to) = map.get(name) {
            g.add_edge(from, to, needs, span);
        }
    }

    fn subnet_vpc<'s>(&self, spec: &'s Spec, subnet: &str) -> Option<&'s String> {
        spec.subnets.iter().find(|s| s.name.value == subnet).map(|s| &s.vpc.value)
    }
}
