//! `[[vpc]]`: one VPC per entry. It needs nothing; most other objects are in one.

use super::Module;
use crate::change::Recorder;
use crate::lower::Lowering;
use crate::{Address, Desired, Kind};

pub(super) const MODULE: Module = Module { declare, link: None, kinds: &[Kind::Vpc], inputs, in_place };

fn declare(lw: &mut Lowering) {
    for v in &lw.spec().vpcs {
        let id = lw.add(Address::whole(Kind::Vpc, &v.name.value), v.name.span);
        if let Some(cidr) = &v.cidr {
            lw.desire(
                id,
                Desired::Vpc { cidr: cidr.value, dns_support: v.dns_support, dns_hostnames: v.dns_hostnames },
            );
        }
    }
}

fn inputs(d: &Desired, r: &mut Recorder<'_>) {
    if let Desired::Vpc { cidr, dns_support, dns_hostnames } = d {
        r.put("cidr", cidr);
        r.put("dns_support", dns_support);
        r.put("dns_hostnames", dns_hostnames);
    }
}

/// `ModifyVpcAttribute` changes the DNS settings; a new CIDR block needs a new VPC.
fn in_place(_kind: Kind, attribute: &str) -> bool {
    matches!(attribute, "dns_support" | "dns_hostnames")
}
