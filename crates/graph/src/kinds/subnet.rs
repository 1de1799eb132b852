//! `[[subnet]]`: one subnet per entry, in its VPC, which it needs *created*. Subnet
//! selectors (`subnets = [...]` or `{ tier = "app" }`) are read here for every kind that
//! has them.

use strato_spec::model::{Spec, SubnetSelector};
use strato_spec::{Span, Stage};

use super::Module;
use crate::change::Recorder;
use crate::lower::Lowering;
use crate::{Address, Desired, Kind, NodeId};

pub(super) const MODULE: Module = Module { declare, link: None, kinds: &[Kind::Subnet], inputs, in_place };

fn declare(lw: &mut Lowering) {
    for s in &lw.spec().subnets {
        let id = lw.add(Address::whole(Kind::Subnet, &s.name.value), s.name.span);
        lw.need(id, Kind::Vpc, &s.vpc.value, Stage::Created, s.vpc.span);
        if let (Some(vpc), Some(cidr)) = (lw.id(Kind::Vpc, &s.vpc.value), &s.cidr) {
            lw.desire(id, Desired::Subnet { vpc, cidr: cidr.value, zone: s.zone.value.clone() });
        }
    }
}

/// The subnet names a selector picks, each with the span to blame.
pub(super) fn select(spec: &Spec, sel: &SubnetSelector) -> Vec<(String, Span)> {
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

/// The subnet nodes a selector picks.
pub(super) fn selected(lw: &Lowering, sel: &SubnetSelector) -> Vec<NodeId> {
    select(lw.spec(), sel).iter().filter_map(|(name, _)| lw.id(Kind::Subnet, name)).collect()
}

/// The VPC of the subnet `name`.
pub(super) fn vpc_of<'s>(spec: &'s Spec, name: &str) -> Option<&'s str> {
    spec.subnets.iter().find(|s| s.name.value == name).map(|s| s.vpc.value.as_str())
}

fn inputs(d: &Desired, r: &mut Recorder<'_>) {
    if let Desired::Subnet { vpc, cidr, zone } = d {
        r.node("vpc", *vpc);
        r.put("cidr", cidr);
        r.put("zone", zone);
    }
}

/// A subnet's VPC, block and zone are fixed at `CreateSubnet`.
fn in_place(_kind: Kind, _attribute: &str) -> bool {
    false
}
