//! The kinds of AWS object strato makes, and everything the pipeline knows of each one in
//! one table ([`KINDS`]): its stable name, its address prefix, the AWS service that
//! throttles it, how long it takes and how it is drawn. A kind without a row is a test
//! failure, never a silent default.
//!
//! Below this module, one module per kind of spec entry turns the entries into nodes, with
//! their edges and their desired state, and says which stage each edge needs: containers
//! (VPC, subnet, route table, security group, load balancer, target group, listener) are
//! needed *created*, since AWS accepts children as soon as the id exists; what must be
//! available is needed *ready* (a NAT gateway by its routes, a file system by its mount
//! targets, an instance by its registrations, a certificate by its listeners, a role by its
//! instances). [`MODULES`] lists them in the order they run. Adding a kind means a module
//! here, a line in [`MODULES`], a [`Kind`] with its row in [`KINDS`] and its [`Desired`]
//! variant. Each module also says how its nodes' desired state reads as recorded inputs,
//! and which inputs AWS changes in place ([`crate::change`]).
//!
//! [`Desired`]: crate::Desired

mod certificate;
mod database;
mod db_subnet_group;
mod file_system;
mod instance;
mod instance_role;
mod internet_gateway;
mod key_pair;
mod load_balancer;
mod nat_gateway;
mod route_table;
mod security_group;
mod subnet;
mod target_group;
mod vpc;

use std::fmt;

use crate::lower::Lowering;

/// How the entries of one kind become nodes. `declare` adds the nodes, with the edges and
/// desired states it can give them from the kinds that ran before; `link`, for kinds that
/// need nodes of kinds that run after them, runs once every module has declared.
pub(crate) struct Module {
    pub(crate) declare: fn(&mut Lowering),
    pub(crate) link: Option<fn(&mut Lowering)>,
    /// The kinds of the nodes the module makes.
    pub(crate) kinds: &'static [Kind],
    /// A node's desired state as inputs ([`crate::change::inputs`]).
    pub(crate) inputs: fn(&crate::Desired, &mut crate::change::Recorder<'_>),
    /// Whether AWS changes `attribute` of a live object of the kind in place (else only a
    /// new object can have it).
    pub(crate) in_place: fn(Kind, &str) -> bool,
}

/// The module that makes nodes of `kind`.
pub(crate) fn module_of(kind: Kind) -> &'static Module {
    MODULES.iter().find(|m| m.kinds.contains(&kind)).expect("every kind has a module (checked by a test)")
}

/// Every kind of spec entry, in the order its nodes are added (which is also the order a
/// plan lists objects that are free at the same time). Each module finds what it needs
/// among the modules above it.
pub(crate) const MODULES: &[Module] = &[
    vpc::MODULE,
    subnet::MODULE,
    internet_gateway::MODULE,
    nat_gateway::MODULE,
    route_table::MODULE,
    security_group::MODULE,
    key_pair::MODULE,
    certificate::MODULE,
    db_subnet_group::MODULE,
    database::MODULE,
    instance_role::MODULE,
    file_system::MODULE,
    instance::MODULE,
    load_balancer::MODULE,
    target_group::MODULE,
];

use Kind::*;

/// The kinds of AWS object strato creates, in the order a plan lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Vpc,
    Subnet,
    InternetGateway,
    ElasticIp,
    NatGateway,
    RouteTable,
    Route,
    RouteTableAssociation,
    SecurityGroup,
    SecurityGroupRules,
    KeyPair,
    Certificate,
    InstanceRole,
    DbSubnetGroup,
    DbInstance,
    FileSystem,
    MountTarget,
    Instance,
    LoadBalancer,
    TargetGroup,
    Listener,
    ListenerRule,
    TargetRegistration,
}

/// What the pipeline knows of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindInfo {
    pub kind: Kind,
    /// The stable name used in plans, JSON and state: `db_instance`.
    pub name: &'static str,
    /// The first part of the kind's addresses: `database` for `database.apim-db`. Parts of
    /// another object (routes, listeners, mount targets, ...) use their owner's.
    pub prefix: &'static str,
    /// The concurrency class: AWS throttles some services much harder than others.
    pub service: &'static str,
    /// Typical seconds from the create call until the object is created (its id is known)
    /// and until it is ready (available): p50 figures of real AWS, parameters, not promises.
    pub secs: (u32, u32),
    /// Typical seconds a delete takes until the object is gone.
    pub destroy_secs: u32,
    /// The fill colour of its tier in drawings.
    pub colour: &'static str,
    /// AWS knows objects of this kind by the name strato gives them (an ALB, an RDS
    /// identifier, an IAM role), rather than by an id AWS assigns; for the others the name
    /// is only their `Name` tag.
    pub known_by_name: bool,
}

/// Tier colours: network, security, data, compute and load balancing.
const NETWORK: &str = "#dbeafe";
const SECURITY: &str = "#fde68a";
const DATA: &str = "#fecaca";
const COMPUTE: &str = "#bbf7d0";
const BALANCING: &str = "#e9d5ff";

/// The tier of a kind in drawings: network, security, data, compute, load balancing, the
/// order in which a platform is built. A kind's tier is its colour in [`KINDS`], so the
/// table stays the one place that says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    Network,
    Security,
    Data,
    Compute,
    Balancing,
}

impl Tier {
    /// Every tier, in build order.
    pub const ALL: [Tier; 5] = [Tier::Network, Tier::Security, Tier::Data, Tier::Compute, Tier::Balancing];

    /// The tier's fill colour: the colour of its kinds' rows in [`KINDS`].
    pub fn colour(self) -> &'static str {
        match self {
            Tier::Network => NETWORK,
            Tier::Security => SECURITY,
            Tier::Data => DATA,
            Tier::Compute => COMPUTE,
            Tier::Balancing => BALANCING,
        }
    }

    /// `network`, `security`, `data`, `compute`, `balancing`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Network => "network",
            Tier::Security => "security",
            Tier::Data => "data",
            Tier::Compute => "compute",
            Tier::Balancing => "balancing",
        }
    }

    /// For legends: `load balancing` rather than `balancing`.
    pub fn title(self) -> &'static str {
        match self {
            Tier::Balancing => "load balancing",
            t => t.as_str(),
        }
    }
}

/// A row of [`KINDS`], positional so that the table reads as one.
#[allow(clippy::too_many_arguments)]
const fn row(
    kind: Kind,
    name: &'static str,
    prefix: &'static str,
    service: &'static str,
    secs: (u32, u32),
    destroy_secs: u32,
    colour: &'static str,
    known_by_name: bool,
) -> KindInfo {
    KindInfo { kind, name, prefix, service, secs, destroy_secs, colour, known_by_name }
}

/// One row per kind, in [`Kind`] order.
#[rustfmt::skip]
pub const KINDS: &[KindInfo] = &[
    //  kind                   name                       prefix              svc    secs      del  colour     by name
    row(Vpc,                   "vpc",                     "vpc",              "ec2", (2, 2),   2,   NETWORK,   false),
    row(Subnet,                "subnet",                  "subnet",           "ec2", (2, 2),   2,   NETWORK,   false),
    row(InternetGateway,       "internet_gateway",        "internet_gateway", "ec2", (4, 4),   2,   NETWORK,   false),
    row(ElasticIp,             "elastic_ip",              "elastic_ip",       "ec2", (1, 1),   2,   NETWORK,   false),
    row(NatGateway,            "nat_gateway",             "nat_gateway",      "nat", (2, 100), 60,  NETWORK,   false),
    row(RouteTable,            "route_table",             "route_table",      "ec2", (2, 2),   2,   NETWORK,   false),
    row(Route,                 "route",                   "route_table",      "ec2", (2, 2),   2,   NETWORK,   false),
    row(RouteTableAssociation, "route_table_association", "route_table",      "ec2", (1, 1),   2,   NETWORK,   false),
    row(SecurityGroup,         "security_group",          "security_group",   "ec2", (2, 2),   2,   SECURITY,  false),
    row(SecurityGroupRules,    "security_group_rules",    "security_group",   "ec2", (2, 2),   2,   SECURITY,  false),
    row(KeyPair,               "key_pair",                "key_pair",         "ec2", (1, 1),   2,   SECURITY,  true),
    row(Certificate,           "certificate",             "certificate",      "acm", (2, 2),   2,   SECURITY,  false),
    row(InstanceRole,          "instance_role",           "instance_role",    "iam", (3, 10),  2,   SECURITY,  true),
    row(DbSubnetGroup,         "db_subnet_group",         "db_subnet_group",  "rds", (2, 2),   2,   DATA,      true),
    row(DbInstance,            "db_instance",             "database",         "rds", (2, 360), 420, DATA,      true),
    row(FileSystem,            "file_system",             "file_system",      "efs", (2, 10),  2,   DATA,      false),
    row(MountTarget,           "mount_target",            "file_system",      "efs", (2, 85),  45,  DATA,      false),
    row(Instance,              "instance",                "instance",         "ec2", (3, 30),  45,  COMPUTE,   false),
    row(LoadBalancer,          "load_balancer",           "load_balancer",    "elb", (2, 135), 60,  BALANCING, true),
    row(TargetGroup,           "target_group",            "target_group",     "elb", (2, 2),   2,   BALANCING, true),
    row(Listener,              "listener",                "load_balancer",    "elb", (2, 2),   2,   BALANCING, false),
    row(ListenerRule,          "listener_rule",           "load_balancer",    "elb", (2, 2),   2,   BALANCING, false),
    row(TargetRegistration,    "target_registration",     "target_group",     "elb", (2, 2),   2,   BALANCING, false),
];

// Row `i` is the kind with discriminant `i`, so `info` is an index; the test below checks
// that no kind is left without a row.
const _: () = {
    let mut i = 0;
    while i < KINDS.len() {
        assert!(KINDS[i].kind as usize == i, "KINDS must list every kind once, in `Kind` order");
        i += 1;
    }
};

impl Kind {
    /// Every kind, in plan order.
    pub const ALL: [Kind; KINDS.len()] = {
        let mut all = [Kind::Vpc; KINDS.len()];
        let mut i = 0;
        while i < KINDS.len() {
            all[i] = KINDS[i].kind;
            i += 1;
        }
        all
    };

    /// The kind's row of [`KINDS`].
    pub fn info(self) -> &'static KindInfo {
        &KINDS[self as usize]
    }

    /// The stable name used in plans, JSON and state.
    pub fn as_str(self) -> &'static str {
        self.info().name
    }

    /// Whether AWS knows objects of this kind by the name strato gives them (an ALB, an RDS
    /// identifier, an IAM role), rather than by an id AWS assigns; for the others the name is
    /// only their `Name` tag.
    pub fn known_by_name(self) -> bool {
        self.info().known_by_name
    }

    /// The concurrency class of the kind: `ec2`, `nat`, `rds`, `efs`, `elb`, `acm` or `iam`.
    pub fn service(self) -> &'static str {
        self.info().service
    }

    /// The kind's tier in drawings, read from its colour in [`KINDS`] (every row's colour is
    /// one tier's, checked by a test).
    pub fn tier(self) -> Tier {
        let colour = self.info().colour;
        Tier::ALL.into_iter().find(|t| t.colour() == colour).unwrap_or(Tier::Network)
    }

    /// Typical seconds until a deleted object of this kind is gone.
    pub fn destroy_secs(self) -> u32 {
        self.info().destroy_secs
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    /// The kind of a stable name, as written in plans and state files.
    fn from_str(s: &str) -> Result<Kind, String> {
        KINDS.iter().find(|k| k.name == s).map(|k| k.kind).ok_or_else(|| format!("unknown kind `{s}`"))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kind after `kind` in plan order. The match is exhaustive: a new variant does not
    /// compile until it is placed here, and then fails the test below until it has a row.
    fn next(kind: Kind) -> Option<Kind> {
        use Kind::*;
        Some(match kind {
            Vpc => Subnet,
            Subnet => InternetGateway,
            InternetGateway => ElasticIp,
            ElasticIp => NatGateway,
            NatGateway => RouteTable,
            RouteTable => Route,
            Route => RouteTableAssociation,
            RouteTableAssociation => SecurityGroup,
            SecurityGroup => SecurityGroupRules,
            SecurityGroupRules => KeyPair,
            KeyPair => Certificate,
            Certificate => InstanceRole,
            InstanceRole => DbSubnetGroup,
            DbSubnetGroup => DbInstance,
            DbInstance => FileSystem,
            FileSystem => MountTarget,
            MountTarget => Instance,
            Instance => LoadBalancer,
            LoadBalancer => TargetGroup,
            TargetGroup => Listener,
            Listener => ListenerRule,
            ListenerRule => TargetRegistration,
            TargetRegistration => return None,
        })
    }

    #[test]
    fn every_kind_has_exactly_one_row() {
        let every: Vec<Kind> = std::iter::successors(Some(Kind::Vpc), |k| next(*k)).collect();
        for kind in &every {
            let rows = KINDS.iter().filter(|r| r.kind == *kind).count();
            assert_eq!(rows, 1, "{kind:?} has {rows} rows in KINDS");
            assert_eq!(kind.info().kind, *kind);
        }
        assert_eq!(KINDS.len(), every.len(), "a row for a kind `next` does not list");
        assert_eq!(Kind::ALL.to_vec(), every);
    }

    #[test]
    fn every_kind_has_exactly_one_module() {
        for k in Kind::ALL {
            let n = MODULES.iter().filter(|m| m.kinds.contains(&k)).count();
            assert_eq!(n, 1, "{k:?} is made by {n} modules");
        }
    }

    #[test]
    fn every_colour_is_a_tier() {
        for k in Kind::ALL {
            let tiers = Tier::ALL.iter().filter(|t| t.colour() == k.info().colour).count();
            assert_eq!(tiers, 1, "{k:?}'s colour {} is {tiers} tiers' colour", k.info().colour);
        }
        assert_eq!(Kind::Subnet.tier(), Tier::Network);
        assert_eq!(Kind::SecurityGroupRules.tier(), Tier::Security);
        assert_eq!(Kind::MountTarget.tier(), Tier::Data);
        assert_eq!(Kind::Instance.tier(), Tier::Compute);
        assert_eq!(Kind::TargetRegistration.tier(), Tier::Balancing);
    }

    #[test]
    fn names_and_prefixes_are_stable() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>(), Ok(k));
            assert_eq!(KINDS.iter().filter(|r| r.name == k.as_str()).count(), 1, "{k:?}");
            assert!(!k.info().prefix.contains('.'), "{k:?}");
        }
        assert!("nope".parse::<Kind>().is_err());
        assert_eq!(Kind::DbInstance.info().prefix, "database");
        assert_eq!(Kind::ListenerRule.info().prefix, "load_balancer");
    }
}
