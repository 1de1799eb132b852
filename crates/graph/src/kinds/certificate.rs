//! `[[certificate]]`: an existing ACM certificate, or a self-signed one strato generates and
//! imports. It needs nothing; HTTPS listeners need it *ready* (issued).

use super::Module;
use crate::lower::Lowering;
use crate::{Address, Desired, Kind};

pub(super) const MODULE: Module = Module { declare, link: None };

fn declare(lw: &mut Lowering) {
    for c in &lw.spec().certificates {
        let id = lw.add(Address::whole(Kind::Certificate, &c.name.value), c.name.span);
        lw.desire(
            id,
            Desired::Certificate {
                arn: c.arn.as_ref().map(|a| a.value.clone()),
                domains: c.domains.iter().map(|d| d.value.clone()).collect(),
            },
        );
    }
}
