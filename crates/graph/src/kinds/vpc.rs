//! `[[vpc]]`: one VPC per entry. It needs nothing; most other objects are in one.

use super::Module;
use crate::lower::Lowering;
use crate::{Address, Desired, Kind};

pub(super) const MODULE: Module = Module { declare, link: None };

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
