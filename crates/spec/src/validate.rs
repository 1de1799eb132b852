//! Semantic checks: everything AWS would refuse, or an operator would regret, that can be seen
//! from the spec alone.
//!
//! Checks run after reading and never stop early: each pushes its diagnostics and moves on,
//! and values that already failed to read (empty names, absent CIDRs) are skipped so that one
//! mistake is reported once. Dependency cycles are the graph's business
//! (`strato_graph::check`), since only the graph knows every edge.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;

use crate::diag::{did_you_mean, Diagnostic, Diagnostics, Sp, Span};
use crate::model::*;
use crate::names;
use crate::net::Cidr;
use crate::template::{attributes, references, Reference};
use crate::Document;

/// Where a reference appears, which decides the namespaces it may use.
#[derive(Clone, Copy)]
enum RefContext<'a> {
    /// A user-data template rendered for this instance entry.
    UserData(&'a Instance),
    Output,
    HostHeader,
}

/// The resources of each kind by name (first definition wins; later ones are duplicates).
struct Index<'a> {
    vpcs: BTreeMap<&'a str, &'a Vpc>,
    subnets: BTreeMap<&'a str, &'a Subnet>,
    igws: BTreeMap<&'a str, &'a InternetGateway>,
    nats: BTreeMap<&'a str, &'a NatGateway>,
    groups: BTreeMap<&'a str, &'a SecurityGroup>,
    key_pairs: BTreeMap<&'a str, &'a KeyPair>,
    certificates: BTreeMap<&'a str, &'a Certificate>,
    roles: BTreeMap<&'a str, &'a InstanceRole>,
    db_subnet_groups: BTreeMap<&'a str, &'a DbSubnetGroup>,
    databases: BTreeMap<&'a str, &'a Database>,
    file_systems: BTreeMap<&'a str, &'a FileSystem>,
    /// `[[instance]]` entries by their own name.
    instances: BTreeMap<&'a str, &'a Instance>,
    /// Single EC2 instances by node name (`apim-1`), with their entry.
    nodes: BTreeMap<String, (&'a Instance, Node)>,
    load_balancers: BTreeMap<&'a str, &'a LoadBalancer>,
    target_groups: BTreeMap<&'a str, &'a TargetGroup>,
    cidr_sets: BTreeMap<&'a str, &'a CidrSet>,
    images: BTreeMap<&'a str, &'a Image>,
}

struct Checker<'a> {
    doc: &'a Document,
    ix: Index<'a>,
    diags: Diagnostics,
}

/// Runs every check on a document that was read without syntax errors.
pub fn check(doc: &Document) -> Diagnostics {
    let spec = &doc.spec;
    let mut diags = Diagnostics::default();
    // Route tables are never referenced by name, but their names must still be unique.
    unique(&mut diags, "route table", spec.route_tables.iter().map(|r| (&r.name, r)));
    let ix = Index {
        vpcs: unique(&mut diags, "vpc", spec.vpcs.iter().map(|r| (&r.name, r))),
        subnets: unique(&mut diags, "subnet", spec.subnets.iter().map(|r| (&r.name, r))),
        igws: unique(&mut diags, "internet gateway", spec.internet_gateways.iter().map(|r| (&r.name, r))),
        nats: unique(&mut diags, "NAT gateway", spec.nat_gateways.iter().map(|r| (&r.name, r))),
        groups: unique(&mut diags, "security group", spec.security_groups.iter().map(|r| (&r.name, r))),
        key_pairs: unique(&mut diags, "key pair", spec.key_pairs.iter().map(|r| (&r.name, r))),
        certificates: unique(&mut diags, "certificate", spec.certificates.iter().map(|r| (&r.name, r))),
        roles: unique(&mut diags, "instance role", spec.instance_roles.iter().map(|r| (&r.name, r))),
        db_subnet_groups: unique(&mut diags, "DB subnet group", spec.db_subnet_groups.iter().map(|r| (&r.name, r))),
        databases: unique(&mut diags, "database", spec.databases.iter().map(|r| (&r.name, r))),
        file_systems: unique(&mut diags, "file system", spec.file_systems.iter().map(|r| (&r.name, r))),
        instances: unique(&mut diags, "instance", spec.instances.iter().map(|r| (&r.name, r))),
        nodes: BTreeMap::new(),
        load_balancers: unique(&mut diags, "load balancer", spec.load_balancers.iter().map(|r| (&r.name, r))),
        target_groups: unique(&mut diags, "target group", spec.target_groups.iter().map(|r| (&r.name, r))),
        cidr_sets: unique(&mut diags, "cidr set", spec.cidr_sets.iter().map(|r| (&r.name, r))),
        images: unique(&mut diags, "image", spec.images.iter().map(|r| (&r.name, r))),
    };
    let mut c = Checker { doc, ix, diags };
    c.index_nodes();
    c.deployment();
    c.network();
    c.security_groups();
    c.key_pairs_and_certificates();
    c.data_tier();
    c.instance_roles();
    c.instances();
    c.load_balancers();
    c.target_groups();
    c.outputs();
    c.aws_names();
    c.tags();
    c.diags
}

fn unique<'a, T>(
    diags: &mut Diagnostics,
    kind: &str,
    items: impl Iterator<Item = (&'a Name, &'a T)>,
) -> BTreeMap<&'a str, &'a T> {
    let mut seen: BTreeMap<&'a str, (&'a Name, &'a T)> = BTreeMap::new();
    for (name, item) in items {
        if name.value.is_empty() {
            continue;
        }
        match seen.get(name.value.as_str()) {
            Some((first, _)) => diags.push(
                Diagnostic::error("duplicate-name", name.span, format!("{kind} `{}` is defined twice", name.value))
                    .note(first.span, "first defined here")
                    .help(format!("names are unique among {kind}s; rename one of them")),
            ),
            None => {
                seen.insert(&name.value, (name, item));
            }
        }
    }
    seen.into_iter().map(|(k, (_, v))| (k, v)).collect()
}

/// Looks a name up, reporting a dangling reference with the closest existing name.
fn lookup<'m, T: ?Sized>(
    diags: &mut Diagnostics,
    map: &BTreeMap<&str, &'m T>,
    kind: &str,
    name: &Name,
    user: &str,
) -> Option<&'m T> {
    if name.value.is_empty() {
        return None;
    }
    if let Some(found) = map.get(name.value.as_str()) {
        return Some(*found);
    }
    diags.push(dangling(kind, name, user, map.keys().copied()));
    None
}

fn dangling<'k>(kind: &str, name: &Name, user: &str, known: impl Iterator<Item = &'k str> + Clone) -> Diagnostic {
    let d = Diagnostic::error(
        "dangling-reference",
        name.span,
        format!("{user} refers to {kind} `{}`, which the spec does not define", name.value),
    );
    match did_you_mean(&name.value, known.clone()) {
        Some(s) => d.help(format!("did you mean `{s}`?")),
        None => {
            let all: Vec<_> = known.collect();
            if all.is_empty() {
                d.help(format!("the spec defines no {kind}"))
            } else {
                d.help(format!("defined {kind}s: {}", all.join(", ")))
            }
        }
    }
}

impl<'a> Checker<'a> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn err(&mut self, code: &'static str, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(code, span, msg));
    }

    fn index_nodes(&mut self) {
        let mut first: HashMap<String, Span> = HashMap::new();
        // File order, so that "first defined here" points at the first one written. Entries
        // whose own name is a duplicate are reported already.
        let doc: &'a Document = self.doc;
        let entries = doc
            .spec
            .instances
            .iter()
            .filter(|i| self.ix.instances.get(i.name.value.as_str()).is_some_and(|first| std::ptr::eq(*first, *i)));
        let entries: Vec<&'a Instance> = entries.collect();
        for inst in entries {
            for node in inst.nodes() {
                if let Some(prev) = first.get(&node.name) {
                    let msg = format!("instance `{}` is defined twice", node.name);
                    let d = Diagnostic::error("duplicate-name", inst.name.span, msg).note(*prev, "first defined here");
                    self.push(d.help("a `count` entry names its nodes `<name>-1`, `<name>-2`, ...; rename one"));
                    continue;
                }
                first.insert(node.name.clone(), inst.name.span);
                self.ix.nodes.insert(node.name.clone(), (inst, node));
            }
        }
    }

    fn deployment(&mut self) {
        let d = &self.doc.spec.deployment;
        let region = &d.region;
        let region_ok = !region.value.is_empty() && self.region(region);
        let mut seen = BTreeSet::new();
        for z in &d.zones {
            if region_ok && !is_zone_of(&z.value, &region.value) {
                let msg = format!("zone `{}` is not an availability zone of region `{}`", z.value, region.value);
                let help = format!("zones of this region look like `{}a`", region.value);
                self.push(Diagnostic::error("unknown-zone", z.span, msg).help(help));
            }
            if !seen.insert(z.value.as_str()) {
                self.err("duplicate-name", z.span, format!("zone `{}` is listed twice", z.value));
            }
        }
        if let Some(domain) = &d.domain {
            if !is_dns_name(&domain.value) {
                self.err("bad-value", domain.span, format!("`{}` is not a DNS domain name", domain.value));
            }
        }
    }

    /// Checks the region name; false when it is refused. A name of the right shape that is
    /// one letter away from a known region is taken for a typo; other well-formed names are
    /// accepted, so that a region newer than this list still works.
    fn region(&mut self, region: &Sp<String>) -> bool {
        let name = region.value.as_str();
        if is_region(name) && KNOWN_REGIONS.contains(&name) {
            return true;
        }
        let close = did_you_mean(name, KNOWN_REGIONS.iter().copied());
        if is_region(name) && close.is_none_or(|c| strsim::damerau_levenshtein(name, c) > 2) {
            return true;
        }
        let msg = format!("`{name}` is not an AWS region");
        let d = Diagnostic::error("bad-value", region.span, msg);
        self.push(match close {
            Some(c) => d.help(format!("did you mean `{c}`?")),
            None => d.help("regions look like `us-east-1` or `eu-west-2`"),
        });
        false
    }

    fn zone_known(&mut self, zone: &Sp<String>, user: &str) {
        let d = &self.doc.spec.deployment;
        let zones = &d.zones;
        // Without zones (or without a deployment) that problem is reported already.
        if zone.value.is_empty() || zones.is_empty() || zones.iter().any(|z| z.value == zone.value) {
            return;
        }
        let msg = format!("{user} is in zone `{}`, which is not one of the deployment's zones", zone.value);
        let listed = zones.iter().map(|z| z.value.as_str()).collect::<Vec<_>>().join(", ");
        let help = if is_zone_of(&zone.value, &d.region.value) {
            format!("add `{}` to `[deployment] zones` (now: {listed})", zone.value)
        } else if let Some(s) = did_you_mean(&zone.value, zones.iter().map(|z| z.value.as_str())) {
            format!("did you mean `{s}`? The deployment's zones are: {listed}")
        } else {
            format!("the deployment's zones are: {listed}")
        };
        self.push(Diagnostic::error("unknown-zone", zone.span, msg).help(help));
    }

    /// Whether a subnet routes `0.0.0.0/0` to an internet gateway; `None` when that cannot
    /// be told because a name involved is already reported as dangling.
    fn has_internet_route(&self, subnet: &str) -> Option<bool> {
        self.ix.subnets.get(subnet)?;
        let table = self.doc.spec.route_tables.iter().find(|rt| rt.subnets.iter().any(|s| s.value == subnet));
        let Some(table) = table else {
            return Some(false);
        };
        let mut unknown = false;
        for route in &table.routes {
            if let (Some(d), Some(RouteTarget::InternetGateway(igw))) = (&route.destination, &route.target) {
                if d.value.is_world() {
                    if self.ix.igws.contains_key(igw.value.as_str()) {
                        return Some(true);
                    }
                    unknown = true;
                }
            }
        }
        (!unknown).then_some(false)
    }

    /// Reports `user` in `subnet` when the subnet cannot reach the internet directly.
    fn needs_internet_route(&mut self, subnet: &Name, user: &str, why: &str) {
        if self.has_internet_route(&subnet.value) == Some(false) {
            let msg = format!("{user} is in subnet `{}`, which has no route to an internet gateway", subnet.value);
            let d = Diagnostic::error("no-internet-route", subnet.span, msg);
            self.push(
                d.help(format!("{why}; put it in a subnet whose route table sends 0.0.0.0/0 to the internet gateway")),
            );
        }
    }

    fn known_vpc(&self, name: &str) -> bool {
        self.ix.vpcs.contains_key(name)
    }

    /// The VPC of a subnet, when both exist: a subnet whose VPC is dangling is already
    /// reported, and comparing it with other VPCs would only repeat that.
    fn vpc_of_subnet(&self, subnet: &str) -> Option<&'a str> {
        let vpc = self.ix.subnets.get(subnet)?.vpc.value.as_str();
        self.ix.vpcs.contains_key(vpc).then_some(vpc)
    }

    fn network(&mut self) {
        let spec = &self.doc.spec;
        for vpc in &spec.vpcs {
            if let Some(c) = &vpc.cidr {
                if !(16..=28).contains(&c.value.prefix()) {
                    let msg =
                        format!("VPC block `{}` has a /{} prefix; AWS allows /16 to /28", c.value, c.value.prefix());
                    self.err("bad-cidr", c.span, msg);
                }
            }
        }
        let mut by_vpc: BTreeMap<&str, Vec<&Subnet>> = BTreeMap::new();
        for s in &spec.subnets {
            let user = format!("subnet `{}`", s.name.value);
            let vpc = lookup(&mut self.diags, &self.ix.vpcs, "vpc", &s.vpc, &user);
            self.zone_known(&s.zone, &user);
            if let (Some(vpc), Some(c)) = (vpc, &s.cidr) {
                if let Some(vc) = &vpc.cidr {
                    if !vc.value.contains(&c.value) {
                        let msg = format!(
                            "subnet `{}` block `{}` is outside its VPC `{}` (`{}`)",
                            s.name.value, c.value, vpc.name.value, vc.value
                        );
                        self.push(
                            Diagnostic::error("subnet-outside-vpc", c.span, msg).note(vc.span, "the VPC's block"),
                        );
                    }
                }
                if !(16..=28).contains(&c.value.prefix()) {
                    let msg =
                        format!("subnet block `{}` has a /{} prefix; AWS allows /16 to /28", c.value, c.value.prefix());
                    self.err("bad-cidr", c.span, msg);
                }
                by_vpc.entry(vpc.name.value.as_str()).or_default().push(s);
            }
        }
        for subnets in by_vpc.values() {
            for (i, a) in subnets.iter().enumerate() {
                for b in &subnets[i + 1..] {
                    let (Some(ca), Some(cb)) = (&a.cidr, &b.cidr) else {
                        continue;
                    };
                    if ca.value.overlaps(&cb.value) && a.name.value != b.name.value {
                        let msg = format!(
                            "subnet `{}` (`{}`) overlaps subnet `{}` (`{}`)",
                            b.name.value, cb.value, a.name.value, ca.value
                        );
                        self.push(
                            Diagnostic::error("overlapping-subnets", cb.span, msg).note(ca.span, "overlaps this block"),
                        );
                    }
                }
            }
        }
        let mut igw_of_vpc: BTreeMap<&str, &Name> = BTreeMap::new();
        for igw in &spec.internet_gateways {
            let user = format!("internet gateway `{}`", igw.name.value);
            if lookup(&mut self.diags, &self.ix.vpcs, "vpc", &igw.vpc, &user).is_some() {
                if let Some(prev) = igw_of_vpc.insert(&igw.vpc.value, &igw.name) {
                    let msg = format!("VPC `{}` gets a second internet gateway; AWS attaches only one", igw.vpc.value);
                    self.push(Diagnostic::error("bad-value", igw.vpc.span, msg).note(prev.span, "the first one"));
                }
            }
        }
        for nat in &spec.nat_gateways {
            let user = format!("NAT gateway `{}`", nat.name.value);
            let why = "a public NAT gateway reaches the internet through the internet gateway";
            self.needs_internet_route(&nat.subnet, &user, why);
            if let Some(subnet) = lookup(&mut self.diags, &self.ix.subnets, "subnet", &nat.subnet, &user) {
                if !igw_of_vpc.contains_key(subnet.vpc.value.as_str()) && !subnet.vpc.value.is_empty() {
                    let msg = format!(
                        "NAT gateway `{}` is in VPC `{}`, which has no internet gateway",
                        nat.name.value, subnet.vpc.value
                    );
                    self.push(
                        Diagnostic::error("bad-value", nat.subnet.span, msg)
                            .help("a public NAT gateway needs an internet gateway attached to its VPC"),
                    );
                }
            }
        }
        let mut associated: BTreeMap<&str, &Name> = BTreeMap::new();
        for rt in &spec.route_tables {
            let user = format!("route table `{}`", rt.name.value);
            lookup(&mut self.diags, &self.ix.vpcs, "vpc", &rt.vpc, &user);
            let mut destinations: BTreeMap<Cidr, Span> = BTreeMap::new();
            for route in &rt.routes {
                if let Some(d) = &route.destination {
                    if let Some(prev) = destinations.insert(d.value, d.span) {
                        let msg = format!("route table `{}` has two routes to `{}`", rt.name.value, d.value);
                        self.push(Diagnostic::error("bad-value", d.span, msg).note(prev, "the first route"));
                    }
                }
                let target_vpc = match &route.target {
                    Some(RouteTarget::InternetGateway(n)) => {
                        lookup(&mut self.diags, &self.ix.igws, "internet gateway", n, &user)
                            .map(|g| (n, g.vpc.value.as_str()))
                    }
                    Some(RouteTarget::NatGateway(n)) => lookup(&mut self.diags, &self.ix.nats, "NAT gateway", n, &user)
                        .and_then(|g| self.vpc_of_subnet(&g.subnet.value))
                        .map(|v| (n, v)),
                    None => None,
                };
                if let Some((n, v)) = target_vpc {
                    if v != rt.vpc.value && self.known_vpc(v) && self.known_vpc(&rt.vpc.value) {
                        let msg = format!(
                            "route table `{}` (VPC `{}`) routes to `{}` in VPC `{v}`",
                            rt.name.value, rt.vpc.value, n.value
                        );
                        self.err("bad-value", n.span, msg);
                    }
                }
            }
            for s in &rt.subnets {
                if let Some(subnet) = lookup(&mut self.diags, &self.ix.subnets, "subnet", s, &user) {
                    let subnet_vpc = self.vpc_of_subnet(&subnet.name.value);
                    if subnet_vpc.is_some_and(|v| v != rt.vpc.value) && self.ix.vpcs.contains_key(rt.vpc.value.as_str())
                    {
                        let msg = format!(
                            "subnet `{}` is in VPC `{}`, route table `{}` in VPC `{}`",
                            s.value, subnet.vpc.value, rt.name.value, rt.vpc.value
                        );
                        self.err("bad-value", s.span, msg);
                    }
                    if let Some(prev) = associated.insert(&s.value, s) {
                        let msg = format!("subnet `{}` is associated with two route tables", s.value);
                        self.push(
                            Diagnostic::error("bad-value", s.span, msg).note(prev.span, "already associated here"),
                        );
                    }
                }
            }
        }
    }

    /// Every block a `from_cidrs` entry stands for, each with where it is written.
    fn source_blocks(&mut self, src: &Sp<String>, user: &str) -> Vec<Sp<Cidr>> {
        let named = src.value.split_once('.').filter(|(ns, _)| matches!(*ns, "vpc" | "cidr_set"));
        if let Some((ns, name)) = named {
            let name = Sp::new(name.to_string(), src.span);
            return match ns {
                "vpc" => lookup(&mut self.diags, &self.ix.vpcs, "vpc", &name, user)
                    .and_then(|v| v.cidr.clone())
                    .into_iter()
                    .collect(),
                _ => lookup(&mut self.diags, &self.ix.cidr_sets, "cidr set", &name, user)
                    .map(|s| s.blocks.clone())
                    .unwrap_or_default(),
            };
        }
        match src.value.parse::<Cidr>() {
            Ok(c) => vec![Sp::new(c, src.span)],
            Err(e) => {
                let msg = format!("`{}` in {user} is not a CIDR block, `vpc.<name>` or `cidr_set.<name>`", src.value);
                self.push(Diagnostic::error("bad-cidr", src.span, msg).help(e.to_string()));
                Vec::new()
            }
        }
    }

    fn security_groups(&mut self) {
        let spec = &self.doc.spec;
        // Groups that front an internet-facing load balancer may take the world on 80 and 443.
        let public_lb_groups: BTreeSet<&str> = spec
            .load_balancers
            .iter()
            // A scheme that failed to read counts as public: that mistake is reported already.
            .filter(|lb| lb.internet_facing() || lb.scheme.value.is_empty())
            .flat_map(|lb| lb.security_groups.iter().map(|g| g.value.as_str()))
            .collect();
        for sg in &spec.security_groups {
            let user = format!("security group `{}`", sg.name.value);
            lookup(&mut self.diags, &self.ix.vpcs, "vpc", &sg.vpc, &user);
            if let Some(d) = &sg.description {
                self.ec2_description(d, "a security group description");
            }
            for rule in &sg.ingress {
                if let Some(d) = &rule.description {
                    self.ec2_description(d, "a rule description");
                }
                for g in &rule.from_groups {
                    if let Some(src) = lookup(&mut self.diags, &self.ix.groups, "security group", g, &user) {
                        if src.vpc.value != sg.vpc.value
                            && self.known_vpc(&src.vpc.value)
                            && self.known_vpc(&sg.vpc.value)
                        {
                            let msg = format!(
                                "{user} (VPC `{}`) takes traffic from group `{}` of VPC `{}`",
                                sg.vpc.value, g.value, src.vpc.value
                            );
                            self.err("bad-value", g.span, msg);
                        }
                    }
                }
                let mut world = None;
                for src in &rule.from_cidrs {
                    if let Some(block) = self.source_blocks(src, &user).into_iter().find(|b| b.value.is_world()) {
                        world = Some((src.span, block.span));
                    }
                }
                // A protocol that failed to read is reported already.
                let Some((world_span, block_span)) = world.filter(|_| !rule.protocol.value.is_empty()) else {
                    continue;
                };
                let web_only = !rule.ports.is_empty()
                    && rule.protocol.value == "tcp"
                    && rule.ports.iter().all(|p| p.value.from == p.value.to && matches!(p.value.from, 80 | 443));
                let allowed = web_only && public_lb_groups.contains(sg.name.value.as_str());
                let consented = rule.open_to_world.as_ref().is_some_and(|o| o.value);
                if allowed || consented {
                    continue;
                }
                let ports: Vec<_> = rule.ports.iter().map(|p| p.value.to_string()).collect();
                let what = match rule.protocol.value.as_str() {
                    "all" => "all traffic".to_string(),
                    _ if ports.is_empty() => format!("all {} traffic", rule.protocol.value),
                    _ => format!("port(s) {}", ports.join(", ")),
                };
                let msg = format!("{user} opens {what} to the whole internet (0.0.0.0/0)");
                let mut d = Diagnostic::error("open-to-world", world_span, msg);
                if block_span != world_span {
                    d = d.note(block_span, "0.0.0.0/0 comes from here");
                }
                self.push(d.help(
                    "only ports 80 and 443 of an internet-facing load balancer's group are open to the world by default; \
                     name a narrower CIDR, or add `open_to_world = true` to this rule if you mean it",
                ));
            }
        }
    }

    fn key_pairs_and_certificates(&mut self) {
        let spec = &self.doc.spec;
        for kp in &spec.key_pairs {
            let key = match (&kp.public_key_file, &kp.public_key) {
                (Some(file), _) => match (self.doc.file_text(&file.value), self.doc.file_error(&file.value)) {
                    (Some(text), _) => Some((text.to_string(), file.span)),
                    (None, Some(e)) => {
                        self.push(file_error("public key file", file, e));
                        None
                    }
                    (None, None) => None,
                },
                (None, Some(k)) => Some((k.value.clone(), k.span)),
                _ => None,
            };
            if let Some((text, span)) = key {
                if text.contains("PRIVATE KEY") {
                    let msg = format!("key pair `{}` points at a private key", kp.name.value);
                    self.push(
                        Diagnostic::error("bad-value", span, msg)
                            .help("give the public half (`.pub`); the private key never leaves your machine"),
                    );
                } else if !looks_like_public_key(&text) {
                    let msg = format!("key pair `{}` is not an OpenSSH public key", kp.name.value);
                    self.push(
                        Diagnostic::error("bad-value", span, msg)
                            .help("expected one line like `ssh-ed25519 AAAA... comment`"),
                    );
                }
            }
        }
        for cert in &spec.certificates {
            let self_signed = cert.self_signed.as_ref().is_some_and(|s| s.value);
            match (&cert.arn, self_signed) {
                (Some(arn), false) => {
                    if !is_acm_arn(&arn.value) {
                        let msg = format!("`{}` is not an ACM certificate ARN", arn.value);
                        self.push(
                            Diagnostic::error("bad-value", arn.span, msg)
                                .help("expected `arn:aws:acm:<region>:<account>:certificate/<id>`"),
                        );
                    }
                }
                (None, true) => {
                    if cert.domains.is_empty() {
                        let msg = format!("self-signed certificate `{}` has no `domains`", cert.name.value);
                        self.err("missing-field", cert.name.span, msg);
                    }
                }
                _ => {
                    let msg = format!(
                        "certificate `{}` needs exactly one of `arn` and `self_signed = true`",
                        cert.name.value
                    );
                    self.err("bad-value", cert.name.span, msg);
                }
            }
            for d in &cert.domains {
                let name = d.value.strip_prefix("*.").unwrap_or(&d.value);
                if !is_dns_name(name) {
                    self.err("bad-value", d.span, format!("`{}` is not a DNS name", d.value));
                }
            }
        }
    }

    /// The subnets a selector picks, reporting dangling names and empty tiers.
    fn select(&mut self, sel: &SubnetSelector, user: &str) -> Vec<&'a Subnet> {
        match sel {
            SubnetSelector::Names(names) => {
                names.iter().filter_map(|n| lookup(&mut self.diags, &self.ix.subnets, "subnet", n, user)).collect()
            }
            SubnetSelector::Tier(tier) => {
                let picked: Vec<&Subnet> =
                    self.ix.subnets.values().copied().filter(|s| s.tier.value == tier.value).collect();
                if picked.is_empty() && !tier.value.is_empty() {
                    let tiers: BTreeSet<&str> = self.ix.subnets.values().map(|s| s.tier.value.as_str()).collect();
                    let msg = format!("{user} selects subnet tier `{}`, which has no subnets", tier.value);
                    let mut d = Diagnostic::error("dangling-reference", tier.span, msg);
                    if let Some(s) = did_you_mean(&tier.value, tiers.iter().copied()) {
                        d = d.help(format!("did you mean `{s}`?"));
                    } else {
                        d = d.help(format!("tiers in the spec: {}", tiers.into_iter().collect::<Vec<_>>().join(", ")));
                    }
                    self.push(d);
                }
                picked
            }
        }
    }

    /// Subnets that must span two or more zones, one subnet per zone, all in one VPC.
    fn spread(&mut self, subnets: &[&Subnet], span: Span, user: &str, one_per_zone: bool) -> Option<&'a str> {
        let mut zones: BTreeMap<&str, &str> = BTreeMap::new();
        for s in subnets {
            if let Some(prev) = zones.insert(&s.zone.value, &s.name.value) {
                if one_per_zone {
                    let msg =
                        format!("{user} has two subnets in zone `{}`: `{prev}` and `{}`", s.zone.value, s.name.value);
                    self.push(
                        Diagnostic::error("bad-value", span, msg)
                            .help("AWS takes one subnet per availability zone here"),
                    );
                }
            }
        }
        if !subnets.is_empty() && zones.len() < 2 {
            let msg = format!("{user} spans {} availability zone(s); AWS requires at least two", zones.len());
            let list: Vec<_> = subnets.iter().map(|s| format!("{} ({})", s.name.value, s.zone.value)).collect();
            self.push(Diagnostic::error("too-few-zones", span, msg).help(format!("its subnets: {}", list.join(", "))));
        }
        self.one_vpc(subnets, span, user)
    }

    fn one_vpc(&mut self, subnets: &[&Subnet], span: Span, user: &str) -> Option<&'a str> {
        let vpcs: BTreeSet<&'a str> = subnets.iter().filter_map(|s| self.vpc_of_subnet(&s.name.value)).collect();
        if vpcs.len() > 1 {
            let msg =
                format!("{user} uses subnets of several VPCs: {}", vpcs.iter().copied().collect::<Vec<_>>().join(", "));
            self.err("bad-value", span, msg);
            return None;
        }
        vpcs.into_iter().next()
    }

    /// Security groups must exist and live in `vpc`.
    fn groups_in(&mut self, groups: &[Name], vpc: Option<&str>, user: &str) {
        for g in groups {
            if let Some(sg) = lookup(&mut self.diags, &self.ix.groups, "security group", g, user) {
                if let Some(vpc) = vpc {
                    if sg.vpc.value != vpc && self.known_vpc(&sg.vpc.value) {
                        let msg = format!(
                            "{user} is in VPC `{vpc}` but security group `{}` belongs to VPC `{}`",
                            g.value, sg.vpc.value
                        );
                        self.err("bad-value", g.span, msg);
                    }
                }
            }
        }
    }

    fn data_tier(&mut self) {
        let spec = &self.doc.spec;
        let mut group_vpc: BTreeMap<&str, Option<&str>> = BTreeMap::new();
        for g in &spec.db_subnet_groups {
            let user = format!("DB subnet group `{}`", g.name.value);
            let subnets = self.select(&g.subnets, &user);
            let vpc = self.spread(&subnets, g.subnets_span, &user, false);
            group_vpc.insert(&g.name.value, vpc);
        }
        for db in &spec.databases {
            let user = format!("database `{}`", db.name.value);
            if !db.instance_class.value.is_empty() && !is_db_class(&db.instance_class.value) {
                let msg = format!("`{}` is not an RDS instance class", db.instance_class.value);
                let class = &db.instance_class.value;
                let help = if is_instance_type(class) {
                    format!("DB classes start with `db.`: did you mean `db.{class}`?")
                } else if let Some(fixed) = class.strip_prefix("db.").and_then(size_typo) {
                    format!("did you mean `db.{fixed}`?")
                } else {
                    "DB classes look like `db.m5.large` or `db.r6g.xlarge`".to_string()
                };
                self.push(Diagnostic::error("bad-instance-class", db.instance_class.span, msg).help(help));
            }
            if !db.engine_version.value.is_empty() && !db.engine_version.value.starts_with(|c: char| c.is_ascii_digit())
            {
                let msg = format!("`{}` is not an engine version", db.engine_version.value);
                self.push(
                    Diagnostic::error("bad-value", db.engine_version.span, msg).help("for example `8.4` or `8.4.3`"),
                );
            } else if let Some(end) = past_standard_support(&db.engine.value, &db.engine_version.value, today()) {
                let msg = format!(
                    "{user} runs MySQL {}, whose RDS standard support ended on {}",
                    db.engine_version.value,
                    show_date(end)
                );
                let d = Diagnostic::warning("engine-past-standard-support", db.engine_version.span, msg)
                    .note(
                        db.name.span,
                        "RDS enrols a database past standard support in RDS Extended Support, which is paid (per vCPU-hour)",
                    )
                    .help(format!("use a supported version: `engine_version = \"{DEFAULT_MYSQL_VERSION}\"`"));
                self.push(d);
            }
            if let Some(arn) = &db.master_secret_arn {
                if !arn.value.starts_with("arn:") || !arn.value.contains(":secretsmanager:") {
                    self.err("bad-value", arn.span, format!("`{}` is not a Secrets Manager secret ARN", arn.value));
                }
            }
            let vpc = lookup(&mut self.diags, &self.ix.db_subnet_groups, "DB subnet group", &db.subnet_group, &user)
                .and_then(|g| group_vpc.get(g.name.value.as_str()).copied().flatten());
            self.groups_in(&db.security_groups, vpc, &user);
        }
        for fs in &spec.file_systems {
            let user = format!("file system `{}`", fs.name.value);
            let subnets = self.select(&fs.mount_targets, &user);
            let mut zones: BTreeMap<&str, &str> = BTreeMap::new();
            for s in &subnets {
                if let Some(prev) = zones.insert(&s.zone.value, &s.name.value) {
                    let msg = format!(
                        "{user} gets two mount targets in zone `{}` (`{prev}`, `{}`)",
                        s.zone.value, s.name.value
                    );
                    self.push(
                        Diagnostic::error("bad-value", fs.mount_targets_span, msg)
                            .help("EFS allows one mount target per availability zone"),
                    );
                }
            }
            let vpc = self.one_vpc(&subnets, fs.mount_targets_span, &user);
            self.groups_in(&fs.security_groups, vpc, &user);
        }
    }

    fn instance_roles(&mut self) {
        let spec = &self.doc.spec;
        for role in &spec.instance_roles {
            let user = format!("instance role `{}`", role.name.value);
            let mut listed: BTreeMap<&str, Span> = BTreeMap::new();
            for db in &role.database_secrets {
                if lookup(&mut self.diags, &self.ix.databases, "database", db, &user).is_none() {
                    continue;
                }
                if let Some(prev) = listed.insert(&db.value, db.span) {
                    let msg = format!("{user} lists database `{}` twice", db.value);
                    self.push(Diagnostic::error("bad-value", db.span, msg).note(prev, "first listed here"));
                }
            }
            // A duplicate role is reported already; the first of its name stands for both.
            let first = self.ix.roles.get(role.name.value.as_str()).is_some_and(|r| std::ptr::eq(*r, role));
            let used = spec.instances.iter().any(|i| i.role.as_ref().is_some_and(|r| r.value == role.name.value));
            if first && !used {
                let msg = format!("{user} is the role of no instance");
                let help = format!("give an instance `role = \"{}\"`, or remove the role", role.name.value);
                self.push(Diagnostic::warning("unused-instance-role", role.name.span, msg).help(help));
            }
        }
    }

    fn instances(&mut self) {
        let spec = &self.doc.spec;
        let mut fixed_ips: BTreeMap<Ipv4Addr, Span> = BTreeMap::new();
        for inst in &spec.instances {
            let user = format!("instance `{}`", inst.name.value);
            if !inst.instance_type.value.is_empty() && !is_instance_type(&inst.instance_type.value) {
                let msg = format!("`{}` is not an EC2 instance type", inst.instance_type.value);
                let help = match size_typo(&inst.instance_type.value) {
                    Some(fixed) => format!("did you mean `{fixed}`?"),
                    None => "instance types look like `t3.micro` or `c5.xlarge`".to_string(),
                };
                self.push(Diagnostic::error("bad-instance-type", inst.instance_type.span, msg).help(help));
            }
            let image = &inst.image;
            if !image.value.is_empty() && !is_ami_id(&image.value) && !self.ix.images.contains_key(image.value.as_str())
            {
                let aliases = self.ix.images.keys().copied();
                let msg = format!(
                    "{user} uses image `{}`, which is neither an AMI id nor an alias in `[image]`",
                    image.value
                );
                let mut d = Diagnostic::error("dangling-reference", image.span, msg);
                d = match did_you_mean(&image.value, aliases) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help("AMI ids look like `ami-0123456789abcdef0`; aliases are defined under `[image]`"),
                };
                self.push(d);
            }
            if let Some(kp) = &inst.key_pair {
                lookup(&mut self.diags, &self.ix.key_pairs, "key pair", kp, &user);
            }
            if let Some(role) = &inst.role {
                lookup(&mut self.diags, &self.ix.roles, "instance role", role, &user);
            }
            let names: Vec<&Name> = inst.subnet.iter().chain(inst.subnets.iter()).collect();
            let mut vpcs = BTreeSet::new();
            for n in names {
                if inst.public_ip {
                    let why = "a public IP is only reachable through an internet gateway";
                    self.needs_internet_route(n, &user, why);
                }
                if let Some(s) = lookup(&mut self.diags, &self.ix.subnets, "subnet", n, &user) {
                    vpcs.extend(self.vpc_of_subnet(&s.name.value));
                    if let (Some(ip), Some(c)) = (&inst.private_ip, &s.cidr) {
                        if !c.value.contains_ip(ip.value) {
                            let msg = format!(
                                "private IP `{}` of {user} is outside its subnet `{}` (`{}`)",
                                ip.value, s.name.value, c.value
                            );
                            self.push(
                                Diagnostic::error("ip-outside-subnet", ip.span, msg).note(c.span, "the subnet's block"),
                            );
                        } else if let Some(why) = c.value.reserved_reason(ip.value) {
                            let msg = format!("private IP `{}` of {user} is {why}", ip.value);
                            self.push(Diagnostic::error("reserved-ip", ip.span, msg).help(format!(
                                "AWS reserves the first four addresses and the last one of every subnet; pick one from {} on",
                                Ipv4Addr::from(u32::from(c.value.network()) + 4)
                            )));
                        }
                    }
                }
            }
            if let Some(ip) = &inst.private_ip {
                if let Some(prev) = fixed_ips.insert(ip.value, ip.span) {
                    let msg = format!("private IP `{}` is given to two instances", ip.value);
                    self.push(Diagnostic::error("bad-value", ip.span, msg).note(prev, "also given here"));
                }
            }
            if vpcs.len() > 1 {
                let msg = format!("{user} spreads over subnets of several VPCs");
                self.err("bad-value", inst.name.span, msg);
            }
            let vpc = if vpcs.len() == 1 { vpcs.into_iter().next() } else { None };
            self.groups_in(&inst.security_groups, vpc, &user);
            if let Some(ud) = &inst.user_data {
                self.user_data(inst, ud);
            }
        }
    }

    fn user_data(&mut self, inst: &'a Instance, ud: &UserData) {
        let mut refs = Vec::new();
        // Variable values may refer to other resources too, but not to other variables.
        for var in &ud.vars {
            for r in self.doc.references_in_value(&var.value) {
                if r.parts[0] == "var" {
                    let msg = format!("`${{{}}}`: a variable cannot refer to another variable", r.text());
                    self.err("unknown-template-reference", r.span, msg);
                } else {
                    self.reference(&r, RefContext::UserData(inst));
                    refs.push(r);
                }
            }
        }
        if let Some(text_refs) = self.template_references(ud) {
            for r in text_refs {
                self.reference(&r, RefContext::UserData(inst));
                refs.push(r);
            }
        }
        self.boot_reads(inst, &refs);
    }

    /// The references of a user-data template, once its file is known to be usable.
    fn template_references(&mut self, ud: &UserData) -> Option<Vec<Reference>> {
        if ud.template.value.is_empty() {
            return None;
        }
        let Some(file) = self.doc.file(&ud.template.value) else {
            if let Some(e) = self.doc.file_error(&ud.template.value) {
                self.push(file_error("user-data template", &ud.template, e));
            }
            return None;
        };
        let text = &self.doc.sources.get(file).text;
        if text.len() > 16 * 1024 {
            let msg = format!(
                "user-data template `{}` is {} bytes; EC2 accepts at most 16 KiB",
                ud.template.value,
                text.len()
            );
            self.err("bad-value", ud.template.span, msg);
        }
        Some(references(text, file, 0))
    }

    /// What an instance's user data reads at boot with the instance's credentials, against
    /// what its role grants: the CSR challenge parameter (without it the agent never gets a
    /// certificate: an error) and database secrets (perhaps read by other means: a warning).
    fn boot_reads(&mut self, inst: &'a Instance, refs: &[Reference]) {
        let role = match &inst.role {
            None => None,
            Some(name) => match self.ix.roles.get(name.value.as_str()) {
                Some(role) => Some(*role),
                // Dangling: reported already, and what it would grant is unknown.
                None => return,
            },
        };
        let user = format!("instance `{}`", inst.name.value);
        if let Some(r) = refs.iter().find(|r| r.parts == ["deployment", "csr_challenge_parameter"]) {
            let d = match role {
                None => {
                    let granting: Vec<&str> =
                        self.ix.roles.values().filter(|r| r.csr_challenge).map(|r| r.name.value.as_str()).collect();
                    let msg =
                        format!("{user} reads the CSR challenge parameter at boot, but has no `role` to read it with");
                    let help = match granting.as_slice() {
                        [] => "add an `[[instance_role]]` with `csr_challenge = true` and give it to the instance \
                               with `role = \"<name>\"`"
                            .to_string(),
                        [one] => format!("add `role = \"{one}\"` to {user}"),
                        many => format!("give {user} a role with `csr_challenge = true`: {}", many.join(", ")),
                    };
                    Some(Diagnostic::error("challenge-not-granted", r.span, msg).help(help))
                }
                Some(role) if !role.csr_challenge => {
                    let msg = format!(
                        "{user} reads the CSR challenge parameter at boot, but its role `{}` may not read it",
                        role.name.value
                    );
                    let d = Diagnostic::error("challenge-not-granted", r.span, msg)
                        .note(role.name.span, "this role has no `csr_challenge = true`");
                    Some(d.help(format!("add `csr_challenge = true` to instance role `{}`", role.name.value)))
                }
                Some(_) => None,
            };
            if let Some(d) = d {
                self.push(d);
            }
        }
        let mut seen = BTreeSet::new();
        for r in refs {
            let [ns, db, attr] = r.parts.as_slice() else { continue };
            if ns != "database" || attr != "master_secret_arn" || !self.ix.databases.contains_key(db.as_str()) {
                continue;
            }
            if !seen.insert(db.as_str())
                || role.is_some_and(|role| role.database_secrets.iter().any(|d| d.value == *db))
            {
                continue;
            }
            let d = match role {
                Some(role) => Diagnostic::warning(
                    "secret-not-granted",
                    r.span,
                    format!(
                        "{user} is told the ARN of database `{db}`'s master-user secret, but its role `{}` may not read the secret",
                        role.name.value
                    ),
                )
                .note(role.name.span, "the instance's role")
                .help(format!("add `\"{db}\"` to `database_secrets` of instance role `{}`", role.name.value)),
                None => Diagnostic::warning(
                    "secret-not-granted",
                    r.span,
                    format!("{user} is told the ARN of database `{db}`'s master-user secret, but has no `role` to read it with"),
                )
                .help(format!("give the instance a `role` whose `database_secrets` lists `{db}`")),
            };
            self.push(d);
        }
    }

    /// EC2 refuses security-group and rule descriptions outside its character set with
    /// `InvalidParameterValue` (EC2 API reference, `IpRange.Description` and
    /// `CreateSecurityGroup.GroupDescription`: at most 255 characters from `a-zA-Z0-9`, space
    /// and `._-:/()#,@[]+=&;{}!$*`).
    fn ec2_description(&mut self, d: &Sp<String>, what: &str) {
        if let Some(bad) = d.value.chars().find(|c| !is_ec2_description_char(*c)) {
            let msg = format!("{what} may not contain `{bad}`: EC2 refuses it");
            let help = format!("EC2 allows letters, digits, spaces and `{EC2_DESCRIPTION_PUNCTUATION}`");
            self.push(Diagnostic::error("bad-value", d.span, msg).help(help));
        } else if d.value.len() > 255 {
            self.err("bad-value", d.span, format!("{what} is at most 255 characters, not {}", d.value.len()));
        }
    }

    /// The names strato gives objects in AWS against the rules AWS applies to them and moto
    /// does not. A name the spec gives (`aws_name`) must pass them all: load balancer and
    /// target group names (`names::elb_name_problem`) and RDS identifiers
    /// (`names::rds_identifier_problem`). A derived name (`<deployment>-<name>`, shortened to
    /// fit) always fits, but its characters come from the spec: an RDS identifier must still
    /// start with a letter and have no two hyphens in a row, a security-group name must not
    /// start with `sg-` (`CreateSecurityGroup`) and a load balancer's not with `internal-`
    /// (`CreateLoadBalancer`). Names are unique per kind, spec-given and derived alike.
    fn aws_names(&mut self) {
        let spec = &self.doc.spec;
        let explicit = |n: &Option<Sp<String>>| n.clone().map(|n| (n.value.clone(), n.span));
        for lb in &spec.load_balancers {
            if let Some((n, span)) = explicit(&lb.aws_name) {
                self.bad_aws_name(&n, span, "load balancer", &lb.name, names::elb_name_problem(&n, true));
            }
        }
        for tg in &spec.target_groups {
            if let Some((n, span)) = explicit(&tg.aws_name) {
                self.bad_aws_name(&n, span, "target group", &tg.name, names::elb_name_problem(&n, false));
            }
        }
        for db in &spec.databases {
            if let Some((n, span)) = explicit(&db.aws_name) {
                self.bad_aws_name(&n, span, "database", &db.name, names::rds_identifier_problem(&n));
            }
        }
        let deployment = &spec.deployment.name;
        if deployment.value.is_empty() {
            return;
        }
        let d = deployment.value.as_str();
        for db in spec.databases.iter().filter(|db| db.aws_name.is_none() && !db.name.value.is_empty()) {
            let ident = db.name_in_aws(d);
            let why = if !ident.starts_with(|c: char| c.is_ascii_alphabetic()) {
                Some("starts with a digit; RDS identifiers start with a letter")
            } else if ident.contains("--") {
                Some("has two hyphens in a row, which RDS refuses")
            } else {
                None
            };
            if let Some(why) = why {
                let msg = format!("database `{}` is named `{ident}` in RDS, which {why}", db.name.value);
                let d = Diagnostic::error("bad-name", db.name.span, msg)
                    .note(deployment.span, "RDS names are `<deployment>-<database>`");
                self.push(d.help("rename the database or the deployment, or give the database an `aws_name`"));
            }
        }
        let ix = &self.ix;
        let lbs: Vec<_> = first_of_each(&spec.load_balancers, &ix.load_balancers, |l| &l.name)
            .into_iter()
            .map(|l| (l.name_in_aws(d), l.aws_name.as_ref().map_or(l.name.span, |n| n.span)))
            .collect();
        let tgs: Vec<_> = first_of_each(&spec.target_groups, &ix.target_groups, |t| &t.name)
            .into_iter()
            .map(|t| (t.name_in_aws(d), t.aws_name.as_ref().map_or(t.name.span, |n| n.span)))
            .collect();
        let dbs: Vec<_> = first_of_each(&spec.databases, &ix.databases, |db| &db.name)
            .into_iter()
            .map(|db| (db.name_in_aws(d), db.aws_name.as_ref().map_or(db.name.span, |n| n.span)))
            .collect();
        self.unique_in_aws("load balancer", lbs);
        self.unique_in_aws("target group", tgs);
        self.unique_in_aws("database", dbs);
        let reserved = [
            (
                "sg-",
                spec.security_groups.first().map(|g| names::aws_name(d, &g.name.value, names::NO_LIMIT)),
                "security group",
                "AWS reserves for group ids",
            ),
            (
                "internal-",
                spec.load_balancers.iter().find(|l| l.aws_name.is_none()).map(|l| l.name_in_aws(d)),
                "load balancer",
                "ELB refuses",
            ),
        ];
        for (prefix, name, kind, refusal) in reserved {
            let Some(name) = name else { continue };
            if name.starts_with(prefix) {
                let msg = format!(
                    "deployment `{}` makes {kind} names start with `{prefix}` (`{name}`), which {refusal}",
                    deployment.value
                );
                self.push(Diagnostic::error("bad-name", deployment.span, msg).help("choose another deployment name"));
            }
        }
    }

    fn bad_aws_name(&mut self, name: &str, span: Span, kind: &str, of: &Name, problem: Option<String>) {
        if let Some(why) = problem {
            let msg = format!("`aws_name` `{name}` of {kind} `{}` is refused by AWS: {why}", of.value);
            self.push(Diagnostic::error("bad-name", span, msg));
        }
    }

    /// Two objects of one kind may not share a name in AWS (compared as AWS does, ignoring
    /// case).
    fn unique_in_aws(&mut self, kind: &str, named: Vec<(String, Span)>) {
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        for (name, span) in named {
            match seen.get(&name.to_ascii_lowercase()) {
                Some(first) => {
                    let msg = format!("two {kind}s are named `{name}` in AWS");
                    let d = Diagnostic::error("duplicate-name", span, msg).note(*first, "the first one");
                    self.push(d.help(format!("{kind} names are unique in AWS; change `aws_name`")));
                }
                None => {
                    seen.insert(name.to_ascii_lowercase(), span);
                }
            }
        }
    }

    /// Tags every service accepts (AWS tagging rules, shared by EC2, RDS, ELB and EFS): keys up
    /// to 128 characters and values up to 256, letters, digits, spaces and `+ - = . _ : / @`,
    /// and no key starting with `aws:`, which AWS reserves.
    fn tags(&mut self) {
        let spec = &self.doc.spec;
        let all = spec
            .deployment
            .tags
            .iter()
            .chain(spec.vpcs.iter().flat_map(|v| &v.tags))
            .chain(spec.subnets.iter().flat_map(|s| &s.tags))
            .chain(spec.instances.iter().flat_map(|i| &i.tags));
        const CHARS: &str = "tags allow letters, digits, spaces and `+ - = . _ : / @` (AWS tagging rules)";
        const OURS: &str = "`Name` and the `strato:` tags say whose an object is; choose another key";
        let allowed = |c: char| c.is_alphanumeric() || c == ' ' || "+-=._:/@".contains(c);
        let mut problems = Vec::new();
        for tag in all {
            if tag.key.value.to_ascii_lowercase().starts_with("aws:") {
                problems.push((tag.key.span, CHARS, "tag keys starting with `aws:` are reserved by AWS".to_string()));
            } else if tag.key.value.starts_with("strato:") || tag.key.value == "Name" {
                // strato's own tags say whose an object is: a spec may not set them.
                problems.push((tag.key.span, OURS, format!("the tag `{}` is set by strato", tag.key.value)));
            } else if tag.key.value.chars().count() > 128 {
                problems.push((tag.key.span, CHARS, "a tag key is at most 128 characters".to_string()));
            } else if let Some(c) = tag.key.value.chars().find(|c| !allowed(*c)) {
                problems.push((tag.key.span, CHARS, format!("a tag key may not contain `{c}`")));
            }
            if tag.value.value.chars().count() > 256 {
                problems.push((tag.value.span, CHARS, "a tag value is at most 256 characters".to_string()));
            } else if let Some(c) = tag.value.value.chars().find(|c| !allowed(*c)) {
                problems.push((tag.value.span, CHARS, format!("a tag value may not contain `{c}`")));
            }
        }
        for (span, help, msg) in problems {
            self.push(Diagnostic::error("bad-value", span, msg).help(help));
        }
    }

    fn load_balancers(&mut self) {
        let spec = &self.doc.spec;
        for lb in &spec.load_balancers {
            let user = format!("load balancer `{}`", lb.name.value);
            let subnets = self.select(&lb.subnets, &user);
            let vpc = self.spread(&subnets, lb.subnets_span, &user, true);
            if lb.internet_facing() {
                let why = "an internet-facing load balancer answers from the internet";
                for s in &subnets {
                    // A subnet picked by tier is blamed at the selector.
                    let at = match &lb.subnets {
                        SubnetSelector::Names(names) => {
                            names.iter().find(|n| n.value == s.name.value).map_or(s.name.span, |n| n.span)
                        }
                        SubnetSelector::Tier(t) => t.span,
                    };
                    self.needs_internet_route(&Sp::new(s.name.value.clone(), at), &user, why);
                }
            }
            self.groups_in(&lb.security_groups, vpc, &user);
            let mut ports: BTreeMap<i64, Span> = BTreeMap::new();
            for l in &lb.listeners {
                let luser = match &l.port {
                    Some(p) => format!("listener {} of {user}", p.value),
                    None => format!("a listener of {user}"),
                };
                if let Some(p) = &l.port {
                    if let Some(prev) = ports.insert(p.value, p.span) {
                        let msg = format!("{user} has two listeners on port {}", p.value);
                        self.push(Diagnostic::error("bad-value", p.span, msg).note(prev, "the first one"));
                    }
                }
                match (&l.certificate, l.protocol.value.as_str()) {
                    (None, "HTTPS") => {
                        let msg = format!("HTTPS {luser} has no certificate");
                        self.push(
                            Diagnostic::error("https-without-certificate", l.protocol.span, msg)
                                .help("add `certificate = \"<name of a [[certificate]]>\"`"),
                        );
                    }
                    (Some(c), "HTTP") => {
                        let msg =
                            format!("HTTP {luser} names certificate `{}`, which only HTTPS listeners use", c.value);
                        self.push(
                            Diagnostic::error("bad-value", c.span, msg)
                                .help("set `protocol = \"HTTPS\"` or remove `certificate`"),
                        );
                    }
                    (Some(c), _) => {
                        lookup(&mut self.diags, &self.ix.certificates, "certificate", c, &luser);
                    }
                    _ => {}
                }
                if let Some(policy) = &l.ssl_policy {
                    self.ssl_policy(policy, l, &luser);
                }
                if let Some(Action::Forward(tg)) = &l.action {
                    self.forward(tg, vpc, &luser, &user);
                }
                let mut priorities: BTreeMap<i64, Span> = BTreeMap::new();
                for rule in &l.rules {
                    if let Some(p) = &rule.priority {
                        if let Some(prev) = priorities.insert(p.value, p.span) {
                            let msg = format!("{luser} has two rules with priority {}", p.value);
                            self.push(Diagnostic::error("bad-value", p.span, msg).note(prev, "the first one"));
                        }
                    }
                    self.forward(&rule.forward, vpc, &format!("a rule of {luser}"), &user);
                    for host in &rule.hosts {
                        for r in self.doc.references_in_value(host) {
                            self.reference(&r, RefContext::HostHeader);
                        }
                    }
                }
            }
        }
    }

    /// A listener's TLS policy: only HTTPS listeners have one, and Application Load Balancers
    /// take only the predefined `ELBSecurityPolicy-*` policies, no custom ones (Application
    /// Load Balancers guide, "Security policies for your Application Load Balancer").
    fn ssl_policy(&mut self, policy: &Sp<String>, l: &Listener, luser: &str) {
        if l.protocol.value == "HTTP" {
            let msg = format!("HTTP {luser} names TLS policy `{}`, which only HTTPS listeners use", policy.value);
            self.push(
                Diagnostic::error("bad-value", policy.span, msg)
                    .help("set `protocol = \"HTTPS\"` or remove `ssl_policy`"),
            );
        } else if !policy.value.starts_with("ELBSecurityPolicy-") {
            let msg = format!("`{}` is not an ELB security policy", policy.value);
            // `TLS13-1-2-2021-06` is most likely the policy of that name without its prefix.
            let prefixed = format!("ELBSecurityPolicy-{}", policy.value);
            let close = did_you_mean(&prefixed, KNOWN_SSL_POLICIES.iter().copied())
                .or_else(|| did_you_mean(&policy.value, KNOWN_SSL_POLICIES.iter().copied()));
            let help = match close {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "Application Load Balancers take the predefined policies `ELBSecurityPolicy-...`; \
                     without `ssl_policy` strato uses `{DEFAULT_SSL_POLICY}`"
                ),
            };
            self.push(Diagnostic::error("bad-value", policy.span, msg).help(help));
        }
    }

    fn forward(&mut self, tg: &Name, lb_vpc: Option<&str>, user: &str, lb: &str) {
        if let Some(t) = lookup(&mut self.diags, &self.ix.target_groups, "target group", tg, user) {
            if let Some(vpc) = lb_vpc {
                if t.vpc.value != vpc && self.known_vpc(&t.vpc.value) {
                    let msg = format!(
                        "{lb} is in VPC `{vpc}` but forwards to target group `{}` of VPC `{}`",
                        tg.value, t.vpc.value
                    );
                    self.err("bad-value", tg.span, msg);
                }
            }
        }
    }

    fn target_groups(&mut self) {
        let spec = &self.doc.spec;
        for tg in &spec.target_groups {
            let user = format!("target group `{}`", tg.name.value);
            lookup(&mut self.diags, &self.ix.vpcs, "vpc", &tg.vpc, &user);
            if tg.health_check.path.value.is_empty() || !tg.health_check.path.value.starts_with('/') {
                self.err("bad-value", tg.health_check.path.span, "a health check path starts with `/`");
            }
            let mut seen = BTreeSet::new();
            for target in &tg.targets {
                let nodes: Vec<(&Instance, Node)> = match self.ix.nodes.get(&target.value) {
                    Some((inst, node)) => vec![(*inst, node.clone())],
                    None => match self.ix.instances.get(target.value.as_str()) {
                        Some(inst) => inst.nodes().into_iter().map(|n| (*inst, n)).collect(),
                        None => {
                            let known: Vec<&str> = self
                                .ix
                                .nodes
                                .keys()
                                .map(String::as_str)
                                .chain(self.ix.instances.keys().copied())
                                .collect();
                            self.push(dangling("instance", target, &user, known.into_iter()));
                            continue;
                        }
                    },
                };
                let mut outside: Vec<(String, &str)> = Vec::new();
                for (_, node) in nodes {
                    if !seen.insert(node.name.clone()) {
                        let msg = format!("{user} lists instance `{}` twice", node.name);
                        self.err("bad-value", target.span, msg);
                        continue;
                    }
                    match self.vpc_of_subnet(&node.subnet.value) {
                        Some(vpc) if vpc != tg.vpc.value && self.known_vpc(&tg.vpc.value) => {
                            outside.push((node.name, vpc))
                        }
                        _ => {}
                    }
                }
                // One report per target entry, however many nodes it stands for.
                if let Some((_, vpc)) = outside.first() {
                    let names: Vec<&str> = outside.iter().map(|(n, _)| n.as_str()).collect();
                    let what = if names.len() == 1 {
                        format!("target `{}` is", names[0])
                    } else {
                        format!("targets `{}` are", names.join("`, `"))
                    };
                    let msg = format!("{what} in VPC `{vpc}`, outside the VPC `{}` of {user}", tg.vpc.value);
                    self.push(
                        Diagnostic::error("target-outside-vpc", target.span, msg)
                            .note(tg.vpc.span, "the target group's VPC"),
                    );
                }
            }
        }
    }

    fn outputs(&mut self) {
        let spec = &self.doc.spec;
        for out in &spec.outputs {
            for r in self.doc.references_in_value(&out.value) {
                self.reference(&r, RefContext::Output);
            }
        }
    }

    /// Checks one `${...}` reference: namespace, resource and attribute exist and fit where
    /// the reference is used.
    fn reference(&mut self, r: &Reference, cx: RefContext<'a>) {
        let ns = r.parts[0].as_str();
        let text = r.text();
        let bad = |msg: String| Diagnostic::error("unknown-template-reference", r.span, msg);
        let Some(attrs) = attributes(ns) else {
            let all: Vec<&str> = crate::template::NAMESPACES.iter().map(|(n, _)| *n).collect();
            let mut d = bad(format!("`${{{text}}}` refers to `{ns}`, which is not something a template can refer to"));
            d = match did_you_mean(ns, all.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("references start with one of: {}", all.join(", "))),
            };
            self.push(d);
            return;
        };
        match (ns, cx) {
            ("node" | "var", RefContext::UserData(_)) => {}
            ("node" | "var", _) => {
                self.push(bad(format!("`${{{text}}}` is only available inside user-data templates")));
                return;
            }
            ("deployment", _) => {}
            (_, RefContext::HostHeader) => {
                self.push(bad(format!("`${{{text}}}`: host names can only use `${{deployment.*}}`")));
                return;
            }
            _ => {}
        }
        if ns == "var" {
            let RefContext::UserData(inst) = cx else {
                return;
            };
            let vars = inst.user_data.as_ref().map(|u| u.vars.as_slice()).unwrap_or_default();
            if r.parts.len() != 2 || !vars.iter().any(|v| v.key.value == r.parts[1]) {
                let msg = format!("`${{{text}}}` is not one of the `vars` of instance `{}`", inst.name.value);
                let mut d = bad(msg);
                let keys: Vec<&str> = vars.iter().map(|v| v.key.value.as_str()).collect();
                d = match did_you_mean(r.parts.get(1).map_or("", String::as_str), keys.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `${{var.{s}}}`?")),
                    None => {
                        d.help(format!("its vars: {}", if keys.is_empty() { "none".into() } else { keys.join(", ") }))
                    }
                };
                self.push(d);
            }
            return;
        }
        let (name, attr) = match (ns, r.parts.len()) {
            ("deployment" | "node", 2) => (None, r.parts[1].as_str()),
            ("deployment" | "node", _) => {
                self.push(bad(format!("`${{{text}}}` should be `${{{ns}.<attribute>}}`")));
                return;
            }
            (_, 3) => (Some(r.parts[1].as_str()), r.parts[2].as_str()),
            _ => {
                self.push(bad(format!("`${{{text}}}` should be `${{{ns}.<name>.<attribute>}}`")));
                return;
            }
        };
        if let Some(name) = name {
            if let Err(known) = self.resource_exists(ns, name) {
                let kind = ns.replace('_', " ");
                let d = match (self.ix.instances.get(name), ns) {
                    (Some(inst), "instance") => {
                        let nodes: Vec<_> = inst.nodes().into_iter().map(|n| n.name).collect();
                        let msg = format!("`${{{text}}}`: `{name}` stands for {} instances, not one", nodes.len());
                        bad(msg).help(format!("name one of them: {}", nodes.join(", ")))
                    }
                    _ => {
                        let d = bad(format!("`${{{text}}}` refers to {kind} `{name}`, which the spec does not define"));
                        match did_you_mean(name, known.iter().map(String::as_str)) {
                            Some(s) => d.help(format!("did you mean `${{{ns}.{s}.{attr}}}`?")),
                            None if known.is_empty() => d.help(format!("the spec defines no {kind}")),
                            None => d.help(format!("defined {kind}s: {}", known.join(", "))),
                        }
                    }
                };
                self.push(d);
                return;
            }
        }
        if ns == "deployment" && attr == "csr_challenge" {
            let msg = match cx {
                RefContext::UserData(_) => {
                    "`${deployment.csr_challenge}` would write the deployment's CSR challenge into user data, which \
                     anyone allowed `ec2:DescribeInstanceAttribute` can read, and every process on the instance \
                     through its metadata service"
                }
                _ => "`${deployment.csr_challenge}` would write the deployment's CSR challenge in clear text",
            };
            self.push(Diagnostic::error("secret-in-user-data", r.span, msg).help(
                "fetch it at boot with the instance's role instead: `aws ssm get-parameter --with-decryption --name \
                 '${deployment.csr_challenge_parameter}'`, on an instance whose `role` has `csr_challenge = true`",
            ));
            return;
        }
        if !attrs.iter().any(|(a, _)| *a == attr) {
            let names: Vec<&str> = attrs.iter().map(|(a, _)| *a).collect();
            let mut d = bad(format!("`${{{text}}}`: {ns} has no attribute `{attr}`"));
            d = match did_you_mean(attr, names.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("its attributes: {}", names.join(", "))),
            };
            self.push(d);
            return;
        }
        if let (Some(name), "instance", "public_ip") = (name, ns, attr) {
            if let Some((inst, _)) = self.ix.nodes.get(name) {
                if !inst.public_ip {
                    let msg = format!("`${{{text}}}`: instance `{name}` has no public IP");
                    self.push(bad(msg).help(format!(
                        "set `public_ip = true` on instance `{}`, or use `private_ip`",
                        inst.name.value
                    )));
                }
            }
        }
        if ns == "deployment" && attr == "domain" && self.doc.spec.deployment.domain.is_none() {
            self.push(bad(format!("`${{{text}}}` is used but `[deployment] domain` is not set")));
        }
        if let (RefContext::UserData(inst), "node", "os") = (cx, ns, attr) {
            self.node_os(r, inst);
        }
    }

    /// `${node.os}` needs the operating system of the instance's image.
    fn node_os(&mut self, r: &Reference, inst: &Instance) {
        let image = inst.image.value.as_str();
        let d = match self.ix.images.get(image) {
            Some(alias) if alias.os().is_some() => return,
            Some(alias) => Diagnostic::error(
                "unknown-template-reference",
                r.span,
                format!("`${{node.os}}`: the operating system of image `{image}` is unknown"),
            )
            .note(alias.name.span, "the image alias")
            .help(format!(
                "add `os = \"...\"` to image `{image}`, e.g. `os = \"amazon-2023\"`; strato tells it by itself only \
                 for Amazon Linux 2023's public SSM parameters"
            )),
            None if is_ami_id(image) => Diagnostic::error(
                "unknown-template-reference",
                r.span,
                format!(
                    "`${{node.os}}`: instance `{}` uses AMI `{image}`, whose operating system strato cannot tell",
                    inst.name.value
                ),
            )
            .help("define an `[image]` alias with `ami = \"...\"` and `os = \"...\"`, and use the alias"),
            // A dangling image is reported already.
            None => return,
        };
        self.push(d);
    }

    /// Ok when `kind.name` names a resource; otherwise the names that do exist.
    fn resource_exists(&self, kind: &str, name: &str) -> Result<(), Vec<String>> {
        fn keys<T>(m: &BTreeMap<&str, T>, name: &str) -> Result<(), Vec<String>> {
            if m.contains_key(name) {
                Ok(())
            } else {
                Err(m.keys().map(|k| k.to_string()).collect())
            }
        }
        match kind {
            "vpc" => keys(&self.ix.vpcs, name),
            "subnet" => keys(&self.ix.subnets, name),
            "security_group" => keys(&self.ix.groups, name),
            "nat_gateway" => keys(&self.ix.nats, name),
            "key_pair" => keys(&self.ix.key_pairs, name),
            "certificate" => keys(&self.ix.certificates, name),
            "database" => keys(&self.ix.databases, name),
            "file_system" => keys(&self.ix.file_systems, name),
            "load_balancer" => keys(&self.ix.load_balancers, name),
            "target_group" => keys(&self.ix.target_groups, name),
            "instance" => {
                if self.ix.nodes.contains_key(name) {
                    Ok(())
                } else {
                    Err(self.ix.nodes.keys().cloned().collect())
                }
            }
            _ => Err(Vec::new()),
        }
    }
}

/// A file named in the spec that cannot be read: missing, or not text.
fn file_error(what: &str, path: &Sp<String>, e: &std::io::Error) -> Diagnostic {
    let (code, why) = match e.kind() {
        std::io::ErrorKind::NotFound => ("file-not-found", "no such file".to_string()),
        std::io::ErrorKind::InvalidData => ("unreadable-file", "it is not UTF-8 text".to_string()),
        _ => ("unreadable-file", e.to_string()),
    };
    let msg = format!("cannot read {what} `{}`: {why}", path.value);
    Diagnostic::error(code, path.span, msg).help("paths are relative to the spec file")
}

/// The entries of `items` that the index keeps for their name (the first of each name), in
/// file order.
fn first_of_each<'a, T>(items: &'a [T], index: &BTreeMap<&str, &'a T>, name: impl Fn(&T) -> &Name) -> Vec<&'a T> {
    items.iter().filter(|i| index.get(name(i).value.as_str()).is_some_and(|k| std::ptr::eq(*k, *i))).collect()
}

/// Predefined ELB security policies, for suggestions (Application Load Balancers guide,
/// "Security policies for your Application Load Balancer").
const KNOWN_SSL_POLICIES: &[&str] = &[
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
    "ELBSecurityPolicy-TLS-1-2-2017-01",
    "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
    "ELBSecurityPolicy-2016-08",
];

/// A calendar date, `(year, month, day)`; tuples order like dates.
pub type Date = (i32, u32, u32);

/// When RDS standard support of each MySQL major version ends. After that RDS does not stop
/// the database: it enrols it in RDS Extended Support, which is charged per vCPU-hour
/// (Amazon RDS User Guide, "Amazon RDS for MySQL release calendar" and "Amazon RDS Extended
/// Support").
const MYSQL_STANDARD_SUPPORT_END: &[(&str, Date)] = &[("5.7", (2024, 2, 29)), ("8.0", (2026, 7, 31))];

/// The day standard support of `engine` `version` ended, if it ended before `today`.
fn past_standard_support(engine: &str, version: &str, today: Date) -> Option<Date> {
    if engine != "mysql" {
        return None;
    }
    MYSQL_STANDARD_SUPPORT_END
        .iter()
        .find(|(major, _)| version == *major || version.strip_prefix(major).is_some_and(|r| r.starts_with('.')))
        .map(|(_, end)| *end)
        .filter(|end| today > *end)
}

/// Today's date (UTC) from the system clock.
fn today() -> Date {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    civil_from_days((secs / 86_400) as i64)
}

/// The date `days` after 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's
/// `civil_from_days`): (year, month, day).
pub fn civil_from_days(days: i64) -> Date {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

fn show_date((y, m, d): Date) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

/// The punctuation EC2 allows in security-group and rule descriptions, besides letters,
/// digits and spaces.
const EC2_DESCRIPTION_PUNCTUATION: &str = "._-:/()#,@[]+=&;{}!$*";

fn is_ec2_description_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ' ' || EC2_DESCRIPTION_PUNCTUATION.contains(c)
}

/// Public AWS regions, to tell a typo from a region newer than this list.
const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// `us-east-1a` is a zone of `us-east-1`.
fn is_zone_of(zone: &str, region: &str) -> bool {
    zone.len() == region.len() + 1 && zone.starts_with(region) && zone.ends_with(|c: char| c.is_ascii_lowercase())
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

fn is_dns_name(s: &str) -> bool {
    s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// `t3.micro`, `c5.xlarge`, `m7i-flex.2xlarge`, `u-6tb1.metal`.
pub fn is_instance_type(s: &str) -> bool {
    let Some((family, size)) = s.split_once('.') else {
        return false;
    };
    let family_ok = family.starts_with(|c: char| c.is_ascii_lowercase())
        && family.chars().any(|c| c.is_ascii_digit())
        && family.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let size_ok = matches!(size, "nano" | "micro" | "small" | "medium" | "large" | "xlarge" | "metal")
        || size.strip_suffix("xlarge").is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        || size.strip_prefix("metal-").is_some_and(|n| n.ends_with("xl"));
    family_ok && size_ok
}

/// The type meant when only the size is misspelt (`t3.mirco` -> `t3.micro`).
fn size_typo(s: &str) -> Option<String> {
    let (family, size) = s.split_once('.')?;
    const SIZES: &[&str] = &["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge", "metal"];
    let fixed = format!("{family}.{}", did_you_mean(size, SIZES.iter().copied())?);
    is_instance_type(&fixed).then_some(fixed)
}

/// `db.m5.large`, `db.r6g.2xlarge`, `db.t4g.micro`.
pub fn is_db_class(s: &str) -> bool {
    s.strip_prefix("db.").is_some_and(is_instance_type)
}

/// `ami-0123456789abcdef0` (or the older 8-digit form).
pub fn is_ami_id(s: &str) -> bool {
    s.strip_prefix("ami-").is_some_and(|h| matches!(h.len(), 8 | 17) && h.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_acm_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "acm"
        && is_region(parts[3])
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].strip_prefix("certificate/").is_some_and(|id| !id.is_empty())
}

fn looks_like_public_key(text: &str) -> bool {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(line) = lines.next() else {
        return false;
    };
    let mut fields = line.split_whitespace();
    let kind = fields.next().unwrap_or("");
    let body = fields.next().unwrap_or("");
    lines.next().is_none() && (kind.starts_with("ssh-") || kind.starts_with("ecdsa-sha2-")) && body.starts_with("AAAA")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_instance_types_and_classes() {
        for ok in ["t3.micro", "c5.xlarge", "m5.24xlarge", "m7i-flex.large", "c6gn.metal", "t2.large"] {
            assert!(is_instance_type(ok), "{ok}");
        }
        for bad in ["t3", "t3.", "T3.micro", "t3.huge", "micro.t3", "c5.x2large", "db.m5.large"] {
            assert!(!is_instance_type(bad), "{bad}");
        }
        assert!(is_db_class("db.m5.large"));
        assert!(is_db_class("db.r6g.2xlarge"));
        assert!(!is_db_class("m5.large"));
        assert!(!is_db_class("db.m5"));
    }

    #[test]
    fn knows_which_mysql_versions_left_standard_support() {
        let today = (2026, 12, 1);
        assert_eq!(past_standard_support("mysql", "5.7", today), Some((2024, 2, 29)));
        assert_eq!(past_standard_support("mysql", "5.7.44", today), Some((2024, 2, 29)));
        assert_eq!(past_standard_support("mysql", "8.0.39", today), Some((2026, 7, 31)));
        assert_eq!(past_standard_support("mysql", "8.4", today), None);
        assert_eq!(past_standard_support("mysql", "8.01", today), None);
        assert_eq!(past_standard_support("mariadb", "5.7", today), None);
        // The last day of standard support is still supported.
        assert_eq!(past_standard_support("mysql", "8.0", (2026, 7, 31)), None);
        assert_eq!(past_standard_support("mysql", "8.0", (2026, 8, 1)), Some((2026, 7, 31)));
    }

    #[test]
    fn turns_days_into_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_788), (2026, 12, 1));
        assert_eq!(show_date((2026, 7, 31)), "2026-07-31");
    }

    #[test]
    fn recognises_regions_arns_and_amis() {
        assert!(is_region("us-east-1"));
        assert!(is_region("us-gov-west-1"));
        assert!(!is_region("us-east"));
        assert!(!is_region("useast1"));
        assert!(is_acm_arn("arn:aws:acm:us-east-1:123456789012:certificate/abcd-1234"));
        assert!(!is_acm_arn("arn:aws:acm:us-east-1:1234:certificate/abcd"));
        assert!(is_ami_id("ami-0123456789abcdef0"));
        assert!(!is_ami_id("ami-xyz"));
    }
}
