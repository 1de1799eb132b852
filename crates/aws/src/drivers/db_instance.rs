//! RDS database: CreateDBInstance with `ManageMasterUserPassword`, so RDS keeps the master
//! password in Secrets Manager and strato never sees or stores it. Ready when `available`
//! (about twelve minutes Multi-AZ); its endpoint is recorded then.
//!
//! Destroy is the long pole and starts first. It takes a final snapshot named after the
//! deployment, the database and the time, unless the operator asks otherwise; a database
//! with deletion protection is refused unless the operator explicitly lifts it.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use strato_graph::Desired;
use strato_state::{Object, Status};

use super::db_subnet_group::{pairs, rds_tags};
use strato_graph::plan::{Change, Live};

use super::{id, mismatch, Attributes, Created, Cx, Driver, Updated, RDS_GONE, RDS_READY};
use crate::error::{from_sdk, AwsError, Class};
use crate::poll::Check;

pub struct DbInstance;

#[async_trait]
impl Driver for DbInstance {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::DbInstance(db) = desired else { return Err(mismatch("CreateDBInstance")) };
        if db.master_secret_arn.is_some() {
            let msg = "`master_secret_arn` is not supported yet: remove it and RDS manages the master password";
            return Err(AwsError::new("CreateDBInstance", Class::InvalidInput, msg));
        }
        let subnet_group = cx.id_of(db.subnet_group)?;
        let groups: Vec<String> = cx.ids_of(&db.security_groups)?;
        let result = cx
            .retry_fresh(|| async {
                cx.clients
                    .rds
                    .create_db_instance()
                    .db_instance_identifier(&db.identifier)
                    .db_instance_class(&db.instance_class)
                    .engine(&db.engine)
                    .engine_version(&db.engine_version)
                    .allocated_storage(db.storage_gb as i32)
                    .storage_type(&db.storage_type)
                    .multi_az(db.multi_az)
                    .storage_encrypted(db.storage_encrypted)
                    .backup_retention_period(db.backup_retention_days as i32)
                    .deletion_protection(db.deletion_protection)
                    .copy_tags_to_snapshot(true)
                    .master_username(&db.master_username)
                    .manage_master_user_password(true)
                    .db_subnet_group_name(subnet_group)
                    .set_vpc_security_group_ids(Some(groups.clone()))
                    .set_port(db.port.map(|p| p as i32))
                    // Always sent: without it, a database in a VPC with an internet gateway
                    // is public (RDS API reference, CreateDBInstance `PubliclyAccessible`).
                    .publicly_accessible(db.publicly_accessible)
                    .set_tags(Some(rds_tags(cx)))
                    .send()
                    .await
                    .map_err(|e| from_sdk("CreateDBInstance", e))
            })
            .await;
        let mut c = Created::new(&db.identifier)
            .with("final_snapshot", db.final_snapshot.to_string())
            .with("multi_az", db.multi_az.to_string());
        match result {
            Ok(out) => {
                if let Some(i) = out.db_instance() {
                    c.ready = i.db_instance_status() == Some("available");
                    c.attributes.extend(instance_attributes(i));
                }
            }
            // Identifiers are unique per account and region. Created by an interrupted run
            // of this deployment: adopted and waited for. Anyone else's: never touched.
            Err(e) if e.code_is(&["DBInstanceAlreadyExists"]) => {
                let tags = describe(cx, &db.identifier).await?.map(|i| pairs(i.tag_list())).unwrap_or_default();
                if !cx.is_this(&tags) {
                    return Err(cx.foreign("CreateDBInstance", "database", &tags));
                }
            }
            Err(e) => return Err(e),
        }
        Ok(c)
    }

    async fn wait_ready(&self, cx: &Cx<'_>, obj: &Object) -> Result<Attributes, AwsError> {
        wait_available(cx, id(obj)?).await
    }

    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        let found = describe(cx, &cx.name()).await?;
        let ours = |i: &aws_sdk_rds::types::DbInstance| {
            let tags = pairs(i.tag_list());
            cx.is_this(&tags)
        };
        Ok(found.filter(ours).map(|i| {
            let mut c = Created::new(cx.name());
            c.attributes.extend(instance_attributes(&i));
            c
        }))
    }

    /// A database that is being deleted or has failed counts as gone: the next provision
    /// deletes what is left of it and creates it again.
    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let status = describe(cx, id(obj)?).await?.map(|i| i.db_instance_status().unwrap_or_default().to_string());
        Ok(status.is_some_and(|s| s != "deleting" && !FAILED.contains(&s.as_str())))
    }

    /// RDS refuses a final snapshot of a database that is not `available`
    /// (`InvalidDBInstanceState`: "Instance X is currently creating - a final snapshot
    /// cannot be taken"). So: a database that never became available (the run that created
    /// it was stopped) is deleted without one, as there is nothing in it to keep; one that
    /// is busy (backing up, modifying) is waited for; a failed one cannot be snapshotted
    /// and is deleted without. Each such choice is reported. "Already being deleted" means
    /// another delete is under way, which is success (TF internal/service/rds/instance.go
    /// `resourceInstanceDelete` matches the same text).
    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let ident = id(obj)?;
        let Some(mut current) = describe(cx, ident).await? else { return Ok(()) };
        if status(&current) == "deleting" {
            return Ok(());
        }
        if current.deletion_protection() == Some(true) {
            if !cx.run.destroy.lift_deletion_protection {
                let msg = format!(
                    "database {ident} has deletion protection; run destroy with --lift-deletion-protection to turn it off and delete it"
                );
                return Err(AwsError::new("DeleteDBInstance", Class::InvalidInput, msg));
            }
            cx.status("lifting deletion protection");
            cx.clients
                .rds
                .modify_db_instance()
                .db_instance_identifier(ident)
                .deletion_protection(false)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| from_sdk("ModifyDBInstance", e))?;
            // The change puts the database in `modifying` for a while; TF waits for it too
            // (`waitDBInstanceUpdated`) before deleting.
            wait_available(cx, ident).await?;
            current = describe(cx, ident).await?.unwrap_or(current);
        }
        let mut snapshot = obj.attribute("final_snapshot") != Some("false") && !cx.run.destroy.skip_final_snapshot;
        for _ in 0..2 {
            let now = status(&current).to_string();
            if snapshot && obj.status != Status::Ready && matches!(now.as_str(), "creating" | "backing-up") {
                snapshot = false;
                cx.notice(format!(
                    "database {ident} never became available (it was `{now}`): deleted without a final snapshot, as it holds no data"
                ));
            } else if snapshot && FAILED.contains(&now.as_str()) {
                snapshot = false;
                cx.notice(format!(
                    "database {ident} is `{now}`, which RDS cannot snapshot: deleted without a final snapshot"
                ));
            } else if snapshot && now != "available" && now != "stopped" {
                cx.status(&format!("waiting for `{now}` to end before the final snapshot"));
                wait_available(cx, ident).await?;
            }
            let mut call = cx.clients.rds.delete_db_instance().db_instance_identifier(ident);
            let name = format!("{ident}-final-{}", timestamp());
            call = if snapshot {
                cx.status(&format!("final snapshot {name}"));
                call.final_db_snapshot_identifier(&name).skip_final_snapshot(false)
            } else {
                call.skip_final_snapshot(true)
            };
            match call.send().await.map_err(|e| from_sdk("DeleteDBInstance", e)) {
                Ok(_) => {
                    if snapshot {
                        cx.notice(format!("final snapshot {name}"));
                    }
                    return Ok(());
                }
                Err(e) if e.is(Class::NotFound) => return Ok(()),
                Err(e) if e.code_is(&["InvalidDBInstanceState"]) && e.message.contains("already being deleted") => {
                    return Ok(())
                }
                // The status changed between the describe and the delete: look again, once.
                Err(e) if e.code_is(&["InvalidDBInstanceState"]) => match describe(cx, ident).await? {
                    Some(i) => current = i,
                    None => return Ok(()),
                },
                Err(e) => return Err(e),
            }
        }
        let msg = format!("database {ident} stayed `{}`, in which RDS refuses to delete it", status(&current));
        Err(AwsError::new("DeleteDBInstance", Class::Fatal, msg))
    }

    async fn read(&self, cx: &Cx<'_>, obj: &Object) -> Result<Live, AwsError> {
        Ok(describe(cx, id(obj)?).await?.map(|i| live_of(&i)).unwrap_or_default())
    }

    /// `ModifyDBInstance` with what changed, now or in the maintenance window as the spec
    /// says (`apply_immediately`). Applied now, the database goes `modifying` and is waited
    /// for until `available` with nothing pending (TF `waitDBInstanceUpdated`,
    /// internal/service/rds/instance.go). Whether a final snapshot is taken on delete is
    /// strato's own setting: it is only recorded.
    async fn update(
        &self,
        cx: &Cx<'_>,
        _obj: &Object,
        desired: &Desired,
        changes: &[Change],
    ) -> Result<Updated, AwsError> {
        let Desired::DbInstance(db) = desired else { return Err(mismatch("ModifyDBInstance")) };
        let mut updated = Updated::default();
        updated.attributes.insert("final_snapshot".into(), db.final_snapshot.to_string());
        updated.attributes.insert("multi_az".into(), db.multi_az.to_string());
        let Some(call) = DbInstance::modify_call(cx, db, changes)? else { return Ok(updated) };
        cx.status(if db.apply_immediately { "modifying" } else { "modifying in the next maintenance window" });
        call.apply_immediately(db.apply_immediately).send().await.map_err(|e| from_sdk("ModifyDBInstance", e))?;
        if db.apply_immediately {
            let ident = db.identifier.as_str();
            let learnt = cx
                .wait("the database to be modified", &RDS_READY, || async {
                    let Some(i) = describe(cx, ident).await? else {
                        let msg = format!("database {ident} is gone");
                        return Err(AwsError::new("ModifyDBInstance", Class::NotFound, msg));
                    };
                    let pending = i.pending_modified_values().is_some_and(|p| {
                        p.db_instance_class().is_some() || p.allocated_storage().is_some() || p.multi_az().is_some()
                    });
                    Ok(match status(&i) {
                        "available" if !pending => Check::Done(instance_attributes(&i)),
                        s if FAILED.contains(&s) => {
                            let msg = format!("database {ident} is `{s}`");
                            return Err(AwsError::new("ModifyDBInstance", Class::Fatal, msg));
                        }
                        s => Check::Pending(if pending { format!("{s}, changes pending") } else { s.to_string() }),
                    })
                })
                .await?;
            updated.attributes.extend(learnt);
        }
        Ok(updated)
    }

    async fn wait_gone(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let ident = id(obj)?;
        cx.wait("the database to be deleted", &RDS_GONE, || async {
            Ok(match describe(cx, ident).await? {
                None => Check::Done(()),
                Some(i) => Check::Pending(i.db_instance_status().unwrap_or("deleting").to_string()),
            })
        })
        .await
    }
}

impl DbInstance {
    /// The `ModifyDBInstance` call for what changed; `None` when no setting of RDS's
    /// changed.
    fn modify_call(
        cx: &Cx<'_>,
        db: &strato_graph::DbInstance,
        changes: &[Change],
    ) -> Result<Option<aws_sdk_rds::operation::modify_db_instance::builders::ModifyDBInstanceFluentBuilder>, AwsError>
    {
        let changed = |a: &str| changes.iter().any(|c| c.attribute == a);
        let mut call = cx.clients.rds.modify_db_instance().db_instance_identifier(&db.identifier);
        let mut any = false;
        if changed("instance_class") {
            call = call.db_instance_class(&db.instance_class);
            any = true;
        }
        if changed("storage_gb") {
            call = call.allocated_storage(db.storage_gb as i32);
            any = true;
        }
        if changed("storage_type") {
            call = call.storage_type(&db.storage_type);
            any = true;
        }
        if changed("multi_az") {
            call = call.multi_az(db.multi_az);
            any = true;
        }
        if changed("backup_retention_days") {
            call = call.backup_retention_period(db.backup_retention_days as i32);
            any = true;
        }
        if changed("deletion_protection") {
            call = call.deletion_protection(db.deletion_protection);
            any = true;
        }
        if changed("publicly_accessible") {
            call = call.publicly_accessible(db.publicly_accessible);
            any = true;
        }
        if changed("engine_version") {
            call = call.engine_version(&db.engine_version).allow_major_version_upgrade(false);
            any = true;
        }
        if changed("security_groups") {
            call = call.set_vpc_security_group_ids(Some(cx.ids_of(&db.security_groups)?));
            any = true;
        }
        Ok(any.then_some(call))
    }
}

/// The live value of each input a database reads back, and what is pending: RDS holds
/// class, storage and Multi-AZ changes made without `ApplyImmediately` for the maintenance
/// window and lists them in `PendingModifiedValues` (RDS API reference, ModifyDBInstance).
fn live_of(i: &aws_sdk_rds::types::DbInstance) -> Live {
    let mut inputs = strato_graph::change::Inputs::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            inputs.insert(k.to_string(), v);
        }
    };
    put("instance_class", i.db_instance_class().map(str::to_string));
    put("storage_gb", i.allocated_storage().map(|v| v.to_string()));
    put("storage_type", i.storage_type().map(str::to_string));
    put("multi_az", i.multi_az().map(|v| v.to_string()));
    put("backup_retention_days", i.backup_retention_period().map(|v| v.to_string()));
    put("deletion_protection", i.deletion_protection().map(|v| v.to_string()));
    put("publicly_accessible", i.publicly_accessible().map(|v| v.to_string()));
    let mut transition = match status(i) {
        "available" => None,
        s => Some(s.to_string()),
    };
    if let Some(p) = i.pending_modified_values() {
        // What is pending is what the database will be: asked for already, not drift.
        let mut pending = Vec::new();
        if let Some(c) = p.db_instance_class() {
            inputs.insert("instance_class".into(), c.to_string());
            pending.push(format!("instance_class {c}"));
        }
        if let Some(c) = p.allocated_storage() {
            inputs.insert("storage_gb".into(), c.to_string());
            pending.push(format!("storage_gb {c}"));
        }
        if let Some(c) = p.multi_az() {
            inputs.insert("multi_az".into(), c.to_string());
            pending.push(format!("multi_az {c}"));
        }
        if !pending.is_empty() {
            let text = format!("pending for the maintenance window: {}", pending.join(", "));
            transition = Some(transition.map_or(text.clone(), |t| format!("{t}; {text}")));
        }
    }
    Live { exists: !FAILED.contains(&status(i)) && status(i) != "deleting", inputs, transition, sets: Vec::new() }
}

/// States a database does not leave by itself (RDS User Guide, "Viewing Amazon RDS DB
/// instance status"): waiting for `available` is pointless, and RDS cannot snapshot them.
const FAILED: &[&str] = &[
    "failed",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "incompatible-network",
    "incompatible-option-group",
    "incompatible-parameters",
    "incompatible-restore",
    "restore-error",
];

fn status(i: &aws_sdk_rds::types::DbInstance) -> &str {
    i.db_instance_status().unwrap_or_default()
}

/// Waits until the database is `available`; returns what is learnt then (the endpoint).
async fn wait_available(cx: &Cx<'_>, ident: &str) -> Result<Attributes, AwsError> {
    let start = tokio::time::Instant::now();
    cx.wait("the database to be available", &RDS_READY, || async {
        let Some(i) = describe(cx, ident).await? else {
            // Right after CreateDBInstance, describe may not know it yet (TF treats NotFound
            // as pending in its first checks).
            if start.elapsed() < cx.scaled(std::time::Duration::from_secs(60)) {
                return Ok(Check::Pending("not visible yet".into()));
            }
            return Err(AwsError::new("DescribeDBInstances", Class::NotFound, format!("database {ident} disappeared")));
        };
        Ok(match status(&i) {
            "available" => Check::Done(instance_attributes(&i)),
            s if FAILED.contains(&s) || s == "storage-full" => {
                let msg = format!("database {ident} is `{s}`");
                return Err(AwsError::new("CreateDBInstance", Class::Fatal, msg));
            }
            "" => Check::Pending("creating".into()),
            other => Check::Pending(other.to_string()),
        })
    })
    .await
}

fn instance_attributes(i: &aws_sdk_rds::types::DbInstance) -> Attributes {
    let mut a = Attributes::new();
    if let Some(e) = i.endpoint() {
        a.extend(e.address().map(|v| ("endpoint".to_string(), v.to_string())));
        a.extend(e.port().map(|v| ("port".to_string(), v.to_string())));
    }
    a.extend(
        i.master_user_secret().and_then(|s| s.secret_arn()).map(|v| ("master_secret_arn".to_string(), v.to_string())),
    );
    a
}

async fn describe(cx: &Cx<'_>, ident: &str) -> Result<Option<aws_sdk_rds::types::DbInstance>, AwsError> {
    let r = cx.clients.rds.describe_db_instances().db_instance_identifier(ident).send().await;
    Ok(super::found(r.map_err(|e| from_sdk("DescribeDBInstances", e)))?.and_then(|o| o.db_instances().first().cloned()))
}

/// `20261126T143015`, UTC, for snapshot names.
fn timestamp() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86400, secs % 86400);
    let (y, m, d) = strato_spec::validate::civil_from_days(days as i64);
    format!("{y:04}{m:02}{d:02}t{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}
