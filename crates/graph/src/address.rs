//! The logical address of an object: `subnet.app-a`, `route_table.public.route[0.0.0.0/0]`.
//!
//! An address is a kind, the spec name of the object (or of the object it is part of) and,
//! for parts, what picks the part out. Its text is the stable form that plans, state keys and
//! `strato:address` tags use; this module is the only place that text is written
//! ([`fmt::Display`]) and read back ([`FromStr`]).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use strato_spec::net::Cidr;

use crate::Kind;

/// What picks a part out of its owner; [`Part::Whole`] for an object of its own.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// `vpc.main`, `database.apim-db`, `instance.apim-1`.
    Whole,
    /// `route_table.<table>.route[<destination>]`.
    Route(Cidr),
    /// `route_table.<table>.association[<subnet>]`.
    Association { subnet: String },
    /// `security_group.<group>.rules`.
    Rules,
    /// `file_system.<file system>.mount_target[<subnet>]`.
    MountTarget { subnet: String },
    /// `load_balancer.<lb>.listener[<port>]`.
    Listener { port: i64 },
    /// `load_balancer.<lb>.listener[<port>].rule[<priority>]`.
    Rule { port: i64, priority: i64 },
    /// `target_group.<group>.target[<instance node name>]`.
    Target { instance: String },
}

impl Part {
    /// The kind of object a part stands for; `None` for [`Part::Whole`].
    pub fn kind(&self) -> Option<Kind> {
        Some(match self {
            Part::Whole => return None,
            Part::Route(_) => Kind::Route,
            Part::Association { .. } => Kind::RouteTableAssociation,
            Part::Rules => Kind::SecurityGroupRules,
            Part::MountTarget { .. } => Kind::MountTarget,
            Part::Listener { .. } => Kind::Listener,
            Part::Rule { .. } => Kind::ListenerRule,
            Part::Target { .. } => Kind::TargetRegistration,
        })
    }
}

/// Kinds whose objects are parts of another one: each is the kind of one [`Part`].
fn is_part(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Route
            | Kind::RouteTableAssociation
            | Kind::SecurityGroupRules
            | Kind::MountTarget
            | Kind::Listener
            | Kind::ListenerRule
            | Kind::TargetRegistration
    )
}

/// The kind of the whole objects whose addresses start with `prefix`.
fn whole_kind(prefix: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| !is_part(*k) && k.info().prefix == prefix)
}

/// The logical address of an object. Two addresses are the same when their text is: the
/// text is what the graph, plans and state files know objects by.
#[derive(Clone)]
pub struct Address {
    kind: Kind,
    name: String,
    part: Part,
    text: String,
}

impl Address {
    fn build(kind: Kind, name: &str, part: Part) -> Address {
        let prefix = kind.info().prefix;
        let text = match &part {
            Part::Whole => format!("{prefix}.{name}"),
            Part::Route(destination) => format!("{prefix}.{name}.route[{destination}]"),
            Part::Association { subnet } => format!("{prefix}.{name}.association[{subnet}]"),
            Part::Rules => format!("{prefix}.{name}.rules"),
            Part::MountTarget { subnet } => format!("{prefix}.{name}.mount_target[{subnet}]"),
            Part::Listener { port } => format!("{prefix}.{name}.listener[{port}]"),
            Part::Rule { port, priority } => format!("{prefix}.{name}.listener[{port}].rule[{priority}]"),
            Part::Target { instance } => format!("{prefix}.{name}.target[{instance}]"),
        };
        Address { kind, name: name.to_string(), part, text }
    }

    /// A whole object of `kind` by its spec name: `vpc.main`, `database.apim-db`. `kind` is
    /// not one of the part kinds (route, listener, ...), which have constructors of their own.
    pub fn whole(kind: Kind, name: &str) -> Address {
        debug_assert!(!is_part(kind), "{kind:?} is a part of another object");
        Address::build(kind, name, Part::Whole)
    }

    /// The route of `table` to `destination`.
    pub fn route(table: &str, destination: Cidr) -> Address {
        Address::build(Kind::Route, table, Part::Route(destination))
    }

    /// The association of `table` with `subnet`.
    pub fn association(table: &str, subnet: &str) -> Address {
        Address::build(Kind::RouteTableAssociation, table, Part::Association { subnet: subnet.to_string() })
    }

    /// The ingress rules of `group`.
    pub fn rules(group: &str) -> Address {
        Address::build(Kind::SecurityGroupRules, group, Part::Rules)
    }

    /// The mount target of `file_system` in `subnet`.
    pub fn mount_target(file_system: &str, subnet: &str) -> Address {
        Address::build(Kind::MountTarget, file_system, Part::MountTarget { subnet: subnet.to_string() })
    }

    /// The listener of `load_balancer` on `port`.
    pub fn listener(load_balancer: &str, port: i64) -> Address {
        Address::build(Kind::Listener, load_balancer, Part::Listener { port })
    }

    /// The rule of priority `priority` of the listener on `port`.
    pub fn listener_rule(load_balancer: &str, port: i64, priority: i64) -> Address {
        Address::build(Kind::ListenerRule, load_balancer, Part::Rule { port, priority })
    }

    /// The registration of the instance node `instance` with `target_group`.
    pub fn target(target_group: &str, instance: &str) -> Address {
        Address::build(Kind::TargetRegistration, target_group, Part::Target { instance: instance.to_string() })
    }

    /// The whole object a template reference `${<namespace>.<name>.<attribute>}` names (the
    /// namespaces of objects are their kinds' prefixes); `None` for namespaces of no object
    /// (`deployment`, `node`, `var`).
    pub fn of_namespace(namespace: &str, name: &str) -> Option<Address> {
        whole_kind(namespace).map(|kind| Address::whole(kind, name))
    }

    /// The kind of the object itself: [`Kind::Route`] for a route of a table.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The spec name of the object, or of the object it is part of.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn part(&self) -> &Part {
        &self.part
    }

    /// The address of the object this one is part of: a route's or an association's table,
    /// a group's rules' group, a mount target's file system, a listener's load balancer, a
    /// rule's listener, a registration's target group. `None` for a whole object.
    pub fn parent(&self) -> Option<Address> {
        let owner = |kind| Some(Address::whole(kind, &self.name));
        match &self.part {
            Part::Whole => None,
            Part::Route(_) | Part::Association { .. } => owner(Kind::RouteTable),
            Part::Rules => owner(Kind::SecurityGroup),
            Part::MountTarget { .. } => owner(Kind::FileSystem),
            Part::Listener { .. } => owner(Kind::LoadBalancer),
            Part::Rule { port, .. } => Some(Address::listener(&self.name, *port)),
            Part::Target { .. } => owner(Kind::TargetGroup),
        }
    }

    /// The stable text: `route_table.public.route[0.0.0.0/0]`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The text after the kind's prefix: `public.route[0.0.0.0/0]`, what an object's AWS name
    /// is made of.
    pub fn path(&self) -> &str {
        &self.text[self.kind.info().prefix.len() + 1..]
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Address").field(&self.text).finish()
    }
}

impl PartialEq for Address {
    fn eq(&self, other: &Address) -> bool {
        self.text == other.text
    }
}

impl Eq for Address {}

impl Hash for Address {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Address) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Address {
    fn cmp(&self, other: &Address) -> Ordering {
        self.text.cmp(&other.text)
    }
}

/// Maps keyed by address can be asked with the text (equality and hashing are the text's).
impl Borrow<str> for Address {
    fn borrow(&self) -> &str {
        &self.text
    }
}

impl FromStr for Address {
    type Err = String;

    /// The address written as `s`, exactly as [`fmt::Display`] writes it.
    fn from_str(s: &str) -> Result<Address, String> {
        let invalid = || format!("not an address: `{s}`");
        let (prefix, rest) = s.split_once('.').ok_or_else(invalid)?;
        let kind = whole_kind(prefix).ok_or_else(invalid)?;
        // `<name>.<part>[<key>]`, `<name>.listener[<port>].rule[<priority>]` or `<name>.rules`.
        let bracketed = |marker: &str| -> Option<(&str, &str)> {
            let body = rest.strip_suffix(']')?;
            let at = body.rfind(marker)?;
            Some((&body[..at], &body[at + marker.len()..]))
        };
        let number = |t: &str| t.parse::<i64>().map_err(|_| invalid());
        let part = match kind {
            Kind::RouteTable => match (bracketed(".route["), bracketed(".association[")) {
                (Some((name, cidr)), _) => Some(Address::route(name, cidr.parse().map_err(|_| invalid())?)),
                (None, Some((name, subnet))) => Some(Address::association(name, subnet)),
                (None, None) => None,
            },
            Kind::SecurityGroup => rest.strip_suffix(".rules").map(Address::rules),
            Kind::FileSystem => bracketed(".mount_target[").map(|(name, subnet)| Address::mount_target(name, subnet)),
            Kind::LoadBalancer => match (bracketed("].rule["), bracketed(".listener[")) {
                (Some((listener, priority)), _) => {
                    let (name, port) = listener.rsplit_once(".listener[").ok_or_else(invalid)?;
                    Some(Address::listener_rule(name, number(port)?, number(priority)?))
                }
                (None, Some((name, port))) => Some(Address::listener(name, number(port)?)),
                (None, None) => None,
            },
            Kind::TargetGroup => bracketed(".target[").map(|(name, instance)| Address::target(name, instance)),
            _ => None,
        };
        let address = part.unwrap_or_else(|| Address::whole(kind, rest));
        // Only the text `Display` writes: `listener[+443]` is not the listener on 443.
        if address.text == s {
            Ok(address)
        } else {
            Err(invalid())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    fn every_shape() -> Vec<Address> {
        vec![
            Address::whole(Kind::Vpc, "main"),
            Address::whole(Kind::DbInstance, "apim-db"),
            Address::whole(Kind::Instance, "apim-1"),
            Address::route("public", cidr("0.0.0.0/0")),
            Address::association("public", "pub-a"),
            Address::rules("web"),
            Address::mount_target("shared", "app-a"),
            Address::listener("edge", 443),
            Address::listener_rule("edge", 443, 10),
            Address::target("apim", "apim-1"),
        ]
    }

    #[test]
    fn every_shape_is_written_as_before() {
        let texts: Vec<String> = every_shape().iter().map(Address::to_string).collect();
        assert_eq!(
            texts,
            [
                "vpc.main",
                "database.apim-db",
                "instance.apim-1",
                "route_table.public.route[0.0.0.0/0]",
                "route_table.public.association[pub-a]",
                "security_group.web.rules",
                "file_system.shared.mount_target[app-a]",
                "load_balancer.edge.listener[443]",
                "load_balancer.edge.listener[443].rule[10]",
                "target_group.apim.target[apim-1]",
            ]
        );
    }

    #[test]
    fn every_shape_reads_back_with_its_kind_and_part() {
        for a in every_shape() {
            let back: Address = a.as_str().parse().unwrap();
            assert_eq!((back.kind(), back.name(), back.part()), (a.kind(), a.name(), a.part()), "{a}");
            assert_eq!(back.part().kind().unwrap_or(back.kind()), back.kind());
        }
    }

    #[test]
    fn parts_know_their_parents() {
        let parents: Vec<Option<String>> = every_shape().iter().map(|a| a.parent().map(|p| p.to_string())).collect();
        let expected = [
            None,
            None,
            None,
            Some("route_table.public"),
            Some("route_table.public"),
            Some("security_group.web"),
            Some("file_system.shared"),
            Some("load_balancer.edge"),
            Some("load_balancer.edge.listener[443]"),
            Some("target_group.apim"),
        ];
        assert_eq!(parents, expected.map(|p| p.map(str::to_string)));
    }

    #[test]
    fn the_part_kinds_are_the_kinds_of_the_parts() {
        let parts: Vec<Kind> = every_shape().iter().filter_map(|a| a.part().kind()).collect();
        let flagged: Vec<Kind> = Kind::ALL.into_iter().filter(|k| is_part(*k)).collect();
        assert_eq!(parts, flagged);
        for k in Kind::ALL.into_iter().filter(|k| !is_part(*k)) {
            assert_eq!(whole_kind(k.info().prefix), Some(k), "two whole kinds share the prefix of {k:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn every_address_of_spec_names_reads_back_as_itself(
            owner in "[a-z0-9][a-z0-9_-]{0,15}",
            child in "[a-z0-9][a-z0-9_-]{0,15}",
            net in proptest::prelude::any::<u32>(),
            prefix in 0u8..=32,
            port in proptest::prelude::any::<i64>(),
            priority in proptest::prelude::any::<i64>(),
            kind in proptest::sample::select(Kind::ALL.into_iter().filter(|k| !is_part(*k)).collect::<Vec<_>>()),
        ) {
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
            let destination = cidr(&format!("{}/{prefix}", std::net::Ipv4Addr::from(net & mask)));
            for a in [
                Address::whole(kind, &owner),
                Address::route(&owner, destination),
                Address::association(&owner, &child),
                Address::rules(&owner),
                Address::mount_target(&owner, &child),
                Address::listener(&owner, port),
                Address::listener_rule(&owner, port, priority),
                Address::target(&owner, &child),
            ] {
                let back: Address = a.as_str().parse().unwrap();
                proptest::prop_assert_eq!((back.kind(), back.name(), back.part()), (a.kind(), a.name(), a.part()));
                proptest::prop_assert_eq!(back.to_string(), a.to_string());
            }
        }
    }

    #[test]
    fn text_that_display_does_not_write_is_refused() {
        for s in [
            "",
            "vpc",
            "nope.main",
            "route_table.public.route[0.0.0.1/0]",
            "load_balancer.edge.listener[+443]",
            "load_balancer.edge.listener[x]",
        ] {
            assert!(s.parse::<Address>().is_err(), "{s}");
        }
        assert_eq!(Address::whole(Kind::Vpc, "main").path(), "main");
        assert_eq!(Address::route("public", cidr("0.0.0.0/0")).path(), "public.route[0.0.0.0/0]");
    }
}
