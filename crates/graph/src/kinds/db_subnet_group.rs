//! `[[db_subnet_group]]`: an RDS subnet group, known to AWS by its name, over the subnets
//! its selector picks, which it needs *created*.

use strato_spec::Stage;

use super::{subnet, Module};
use crate::change::Recorder;
use crate::lower::Lowering;
use crate::{Address, Desired, Kind};

pub(super) const MODULE: Module = Module { declare, link: None, kinds: &[Kind::DbSubnetGroup], inputs, in_place };

fn declare(lw: &mut Lowering) {
    let spec = lw.spec();
    for dsg in &spec.db_subnet_groups {
        let id = lw.add(Address::whole(Kind::DbSubnetGroup, &dsg.name.value), dsg.name.span);
        for (name, span) in subnet::select(spec, &dsg.subnets) {
            lw.need(id, Kind::Subnet, &name, Stage::Created, span);
        }
        let description =
            dsg.description.as_ref().map_or_else(|| format!("strato: {}", dsg.name.value), |d| d.value.clone());
        let subnets = subnet::selected(lw, &dsg.subnets);
        lw.desire(id, Desired::DbSubnetGroup { description, subnets });
    }
}

fn inputs(d: &Desired, r: &mut Recorder<'_>) {
    if let Desired::DbSubnetGroup { description, subnets } = d {
        r.put("description", description);
        r.nodes("subnets", subnets);
    }
}

/// `ModifyDBSubnetGroup` changes both.
fn in_place(_kind: Kind, attribute: &str) -> bool {
    matches!(attribute, "description" | "subnets")
}
