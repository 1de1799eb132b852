//! `[[route_table]]`: a route table in its VPC, one node per route and one per subnet
//! association. Routes and associations need their table *created*; a route needs an
//! internet gateway *created* and a NAT gateway *ready*; an association needs its subnet
//! *created*. An instance boots with outbound access once its subnet's association and the
//! routes of that table exist ([`routing`]).

use strato_spec::model::RouteTarget;
use strato_spec::Stage;

use super::Module;
use crate::change::Recorder;
use crate::lower::Lowering;
use crate::{Address, Desired, Kind, NodeId};

pub(super) const MODULE: Module = Module {
    declare,
    link: None,
    kinds: &[Kind::RouteTable, Kind::Route, Kind::RouteTableAssociation],
    inputs,
    in_place,
};

fn declare(lw: &mut Lowering) {
    for rt in &lw.spec().route_tables {
        let table = lw.add(Address::whole(Kind::RouteTable, &rt.name.value), rt.name.span);
        lw.need(table, Kind::Vpc, &rt.vpc.value, Stage::Created, rt.vpc.span);
        // Without its VPC the table has no desired state, and neither have its parts.
        let vpc = lw.id(Kind::Vpc, &rt.vpc.value);
        if let Some(vpc) = vpc {
            lw.desire(table, Desired::RouteTable { vpc });
        }
        for route in &rt.routes {
            let Some(dest) = &route.destination else { continue };
            let id = lw.add(Address::route(&rt.name.value, dest.value), route.span);
            lw.edge(id, table, Stage::Created, route.span);
            let target = match &route.target {
                Some(RouteTarget::InternetGateway(n)) => {
                    lw.need(id, Kind::InternetGateway, &n.value, Stage::Created, n.span);
                    lw.id(Kind::InternetGateway, &n.value)
                }
                Some(RouteTarget::NatGateway(n)) => {
                    lw.need(id, Kind::NatGateway, &n.value, Stage::Ready, n.span);
                    lw.id(Kind::NatGateway, &n.value)
                }
                None => None,
            };
            if let (Some(_), Some(target)) = (vpc, target) {
                lw.desire(id, Desired::Route { table, destination: dest.value, target });
            }
        }
        for s in &rt.subnets {
            let id = lw.add(Address::association(&rt.name.value, &s.value), s.span);
            lw.edge(id, table, Stage::Created, s.span);
            lw.need(id, Kind::Subnet, &s.value, Stage::Created, s.span);
            if let (Some(_), Some(subnet)) = (vpc, lw.id(Kind::Subnet, &s.value)) {
                lw.desire(id, Desired::RouteTableAssociation { table, subnet });
            }
        }
    }
}

/// What an instance in the subnet `subnet` needs before it boots with outbound access: the
/// subnet's association (with the last table that lists it) and the routes of that table.
pub(super) fn routing(lw: &Lowering, subnet: &str) -> Vec<NodeId> {
    let Some(rt) = lw.spec().route_tables.iter().rev().find(|rt| rt.subnets.iter().any(|s| s.value == subnet)) else {
        return Vec::new();
    };
    let association = lw.find(&Address::association(&rt.name.value, subnet));
    let routes = rt.routes.iter().filter_map(|r| r.destination.as_ref());
    association.into_iter().chain(routes.filter_map(|d| lw.find(&Address::route(&rt.name.value, d.value)))).collect()
}

fn inputs(d: &Desired, r: &mut Recorder<'_>) {
    match d {
        Desired::RouteTable { vpc } => r.node("vpc", *vpc),
        Desired::Route { table, destination, target } => {
            r.node("table", *table);
            r.put("destination", destination);
            r.node("target", *target);
        }
        Desired::RouteTableAssociation { table, subnet } => {
            r.node("table", *table);
            r.node("subnet", *subnet);
        }
        _ => {}
    }
}

/// `ReplaceRoute` points a route at another target in place; an association whose table
/// changes is replaced, and a table is fixed to its VPC.
fn in_place(kind: Kind, attribute: &str) -> bool {
    kind == Kind::Route && attribute == "target"
}
