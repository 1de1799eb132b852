//! `[[database]]`: an RDS DB instance, known to AWS by its identifier (the spec's `aws_name`
//! or `<deployment>-<name>`, shortened to fit). It needs its subnet group and security
//! groups *created*; user data that reads its endpoint needs it *ready*, and instance roles
//! that may read its master-user secret need it *created* (RDS gives the secret's ARN when
//! it accepts the create call).

use strato_spec::Stage;

use super::Module;
use crate::change::Recorder;
use crate::lower::Lowering;
use crate::{Address, DbInstance, Desired, Kind};

pub(super) const MODULE: Module = Module { declare, link: None, kinds: &[Kind::DbInstance], inputs, in_place };

/// A database's storage in GB when the spec gives none.
const DEFAULT_STORAGE_GB: i64 = 20;

fn declare(lw: &mut Lowering) {
    let deployment = lw.deployment();
    let spec = lw.spec();
    for db in &spec.databases {
        let id = lw.add(Address::whole(Kind::DbInstance, &db.name.value), db.name.span);
        lw.set_multi_az(id, db.multi_az);
        lw.name(id, db.name_in_aws(deployment));
        lw.need(id, Kind::DbSubnetGroup, &db.subnet_group.value, Stage::Created, db.subnet_group.span);
        for sg in &db.security_groups {
            lw.need(id, Kind::SecurityGroup, &sg.value, Stage::Created, sg.span);
        }
    }
    // Once every entry is named: two entries of one name (which validation refuses) share
    // a node, and the identifier is the last one's.
    for db in &spec.databases {
        let Some(subnet_group) = lw.id(Kind::DbSubnetGroup, &db.subnet_group.value) else { continue };
        let Some(id) = lw.id(Kind::DbInstance, &db.name.value) else { continue };
        let d = DbInstance {
            identifier: lw.aws_name(id).to_string(),
            engine: db.engine.value.clone(),
            engine_version: db.engine_version.value.clone(),
            instance_class: db.instance_class.value.clone(),
            storage_gb: db.storage_gb.as_ref().map_or(DEFAULT_STORAGE_GB, |s| s.value),
            storage_type: db.storage_type.value.clone(),
            multi_az: db.multi_az,
            storage_encrypted: db.storage_encrypted,
            backup_retention_days: db.backup_retention_days,
            deletion_protection: db.deletion_protection,
            final_snapshot: db.final_snapshot,
            publicly_accessible: db.publicly_accessible,
            master_username: db.master_username.value.clone(),
            master_secret_arn: db.master_secret_arn.as_ref().map(|a| a.value.clone()),
            subnet_group,
            security_groups: lw.ids(Kind::SecurityGroup, &db.security_groups),
            port: db.port.as_ref().map(|p| p.value),
            apply_immediately: db.apply_immediately,
            allow_replacement: db.allow_replacement,
        };
        lw.desire(id, Desired::DbInstance(Box::new(d)));
    }
}

fn inputs(d: &Desired, r: &mut Recorder<'_>) {
    let Desired::DbInstance(d) = d else { return };
    r.put("identifier", &d.identifier);
    r.put("engine", &d.engine);
    r.put("engine_version", &d.engine_version);
    r.put("instance_class", &d.instance_class);
    r.put("storage_gb", d.storage_gb);
    r.put("storage_type", &d.storage_type);
    r.put("multi_az", d.multi_az);
    r.put("storage_encrypted", d.storage_encrypted);
    r.put("backup_retention_days", d.backup_retention_days);
    r.put("deletion_protection", d.deletion_protection);
    r.put("final_snapshot", d.final_snapshot);
    r.put("publicly_accessible", d.publicly_accessible);
    r.put("master_username", &d.master_username);
    r.put("master_secret_arn", d.master_secret_arn.as_deref().unwrap_or_default());
    r.node("subnet_group", d.subnet_group);
    r.nodes("security_groups", &d.security_groups);
    r.put("port", d.port.map(|p| p.to_string()).unwrap_or_default());
}

/// `ModifyDBInstance` changes these on the live database (RDS API reference); the engine,
/// the master user, storage encryption and the subnet group need a new instance. Whether a
/// final snapshot is taken is strato's own setting.
fn in_place(_kind: Kind, attribute: &str) -> bool {
    matches!(
        attribute,
        "instance_class"
            | "storage_gb"
            | "storage_type"
            | "multi_az"
            | "backup_retention_days"
            | "deletion_protection"
            | "final_snapshot"
            | "publicly_accessible"
            | "security_groups"
            | "engine_version"
    )
}
