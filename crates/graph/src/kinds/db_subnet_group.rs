//! `[[db_subnet_group]]`: an RDS subnet group, known to AWS by its name, over the subnets
//! its selector picks, which it needs *created*.

use strato_spec::Stage;

use super::{subnet, Module};
use crate::lower::Lowering;
use crate::{Address, Desired, Kind};

pub(super) const MODULE: Module = Module { declare, link: None };

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
