//! `[[file_system]]`: an EFS file system and one mount target per subnet its selector
//! picks. A mount target needs the file system *ready*, and its subnet and its security
//! groups *created*.

use strato_spec::Stage;

use super::{subnet, Module};
use crate::lower::Lowering;
use crate::{Address, Desired, Kind};

pub(super) const MODULE: Module = Module { declare, link: None };

fn declare(lw: &mut Lowering) {
    let spec = lw.spec();
    for fs in &spec.file_systems {
        let id = lw.add(Address::whole(Kind::FileSystem, &fs.name.value), fs.name.span);
        let d = Desired::FileSystem {
            performance_mode: fs.performance_mode.value.clone(),
            throughput_mode: fs.throughput_mode.value.clone(),
            encrypted: fs.encrypted,
            backup: fs.backup,
        };
        lw.desire(id, d);
        let security_groups = lw.ids(Kind::SecurityGroup, &fs.security_groups);
        for (name, span) in subnet::select(spec, &fs.mount_targets) {
            let mt = lw.add(Address::mount_target(&fs.name.value, &name), span);
            lw.edge(mt, id, Stage::Ready, span);
            lw.need(mt, Kind::Subnet, &name, Stage::Created, span);
            for sg in &fs.security_groups {
                lw.need(mt, Kind::SecurityGroup, &sg.value, Stage::Created, sg.span);
            }
            if let Some(subnet) = lw.id(Kind::Subnet, &name) {
                let d = Desired::MountTarget { file_system: id, subnet, security_groups: security_groups.clone() };
                lw.desire(mt, d);
            }
        }
    }
}
