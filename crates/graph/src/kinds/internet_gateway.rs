//! `[[internet_gateway]]`: one internet gateway per entry, attached to its VPC, which it
//! needs *created*. Public NAT gateways and internet-facing load balancers need the gateway
//! of their VPC.

use strato_spec::Stage;

use super::Module;
use crate::change::Recorder;
use crate::lower::Lowering;
use crate::{Address, Desired, Kind, NodeId};

pub(super) const MODULE: Module = Module { declare, link: None, kinds: &[Kind::InternetGateway], inputs, in_place };

fn declare(lw: &mut Lowering) {
    for igw in &lw.spec().internet_gateways {
        let id = lw.add(Address::whole(Kind::InternetGateway, &igw.name.value), igw.name.span);
        lw.need(id, Kind::Vpc, &igw.vpc.value, Stage::Created, igw.vpc.span);
        if let Some(vpc) = lw.id(Kind::Vpc, &igw.vpc.value) {
            lw.desire(id, Desired::InternetGateway { vpc });
        }
    }
}

/// The internet gateway attached to the VPC `vpc` (the last one the spec attaches).
pub(super) fn of_vpc(lw: &Lowering, vpc: &str) -> Option<NodeId> {
    let igw = lw.spec().internet_gateways.iter().rev().find(|i| i.vpc.value == vpc)?;
    lw.id(Kind::InternetGateway, &igw.name.value)
}

fn inputs(d: &Desired, r: &mut Recorder<'_>) {
    if let Desired::InternetGateway { vpc } = d {
        r.node("vpc", *vpc);
    }
}

fn in_place(_kind: Kind, _attribute: &str) -> bool {
    false
}
