//! `[[certificate]]`: an existing ACM certificate, or a self-signed one strato generates and
//! imports. It needs nothing; HTTPS listeners need it *ready* (issued).

use super::Module;
use crate::change::Recorder;
use crate::lower::Lowering;
use crate::{Address, Desired, Kind};

pub(super) const MODULE: Module = Module { declare, link: None, kinds: &[Kind::Certificate], inputs, in_place };

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

fn inputs(d: &Desired, r: &mut Recorder<'_>) {
    if let Desired::Certificate { arn, domains } = d {
        r.put("arn", arn.as_deref().unwrap_or_default());
        r.put("domains", domains.join(","));
    }
}

fn in_place(_kind: Kind, _attribute: &str) -> bool {
    false
}
