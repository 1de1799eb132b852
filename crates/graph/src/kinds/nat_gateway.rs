//! `[[nat_gateway]]`: a public NAT gateway and the Elastic IP it is given, both named after
//! the entry. The gateway needs its address and its subnet *created*, and the internet
//! gateway of its VPC attached; routes need the gateway *ready* (a route to a pending NAT
//! gateway blackholes).

use strato_spec::Stage;

use super::{internet_gateway, subnet, Module};
use crate::change::Recorder;
use crate::lower::Lowering;
use crate::{Address, Desired, Kind};

pub(super) const MODULE: Module =
    Module { declare, link: None, kinds: &[Kind::ElasticIp, Kind::NatGateway], inputs, in_place };

fn declare(lw: &mut Lowering) {
    let spec = lw.spec();
    for nat in &spec.nat_gateways {
        let eip = lw.add(Address::whole(Kind::ElasticIp, &nat.name.value), nat.name.span);
        lw.desire(eip, Desired::ElasticIp);
        let id = lw.add(Address::whole(Kind::NatGateway, &nat.name.value), nat.name.span);
        lw.edge(id, eip, Stage::Created, nat.name.span);
        lw.need(id, Kind::Subnet, &nat.subnet.value, Stage::Created, nat.subnet.span);
        if let Some(igw) = subnet::vpc_of(spec, &nat.subnet.value).and_then(|v| internet_gateway::of_vpc(lw, v)) {
            lw.edge(id, igw, Stage::Created, nat.subnet.span);
        }
        if let Some(subnet) = lw.id(Kind::Subnet, &nat.subnet.value) {
            lw.desire(id, Desired::NatGateway { subnet, eip });
        }
    }
}

fn inputs(d: &Desired, r: &mut Recorder<'_>) {
    if let Desired::NatGateway { subnet, eip } = d {
        r.node("subnet", *subnet);
        r.node("eip", *eip);
    }
}

/// A NAT gateway's subnet and address are fixed at `CreateNatGateway`.
fn in_place(_kind: Kind, _attribute: &str) -> bool {
    false
}
