//! `[[file_system]]`: an EFS file system and one mount target per subnet its selector
//! picks. A mount target needs the file system *ready*, and its subnet and its security
//! groups *created*.

use strato_spec::Stage;

use super::{subnet, Module};
use crate::change::Recorder;
use crate::lower::Lowering;
use crate::{Address, Desired, Kind};

pub(super) const MODULE: Module =
    Module { declare, link: None, kinds: &[Kind::FileSystem, Kind::MountTarget], inputs, in_place };

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

fn inputs(d: &Desired, r: &mut Recorder<'_>) {
    match d {
        Desired::FileSystem { performance_mode, throughput_mode, encrypted, backup } => {
            r.put("performance_mode", performance_mode);
            r.put("throughput_mode", throughput_mode);
            r.put("encrypted", encrypted);
            r.put("backup", backup);
        }
        Desired::MountTarget { file_system, subnet, security_groups } => {
            r.node("file_system", *file_system);
            r.node("subnet", *subnet);
            r.nodes("security_groups", security_groups);
        }
        _ => {}
    }
}

/// `UpdateFileSystem` (throughput mode) and `PutBackupPolicy` on a file system,
/// `ModifyMountTargetSecurityGroups` on a mount target; the performance mode, encryption and
/// a mount target's subnet are fixed at creation.
fn in_place(kind: Kind, attribute: &str) -> bool {
    match kind {
        Kind::FileSystem => matches!(attribute, "throughput_mode" | "backup"),
        Kind::MountTarget => attribute == "security_groups",
        _ => false,
    }
}
