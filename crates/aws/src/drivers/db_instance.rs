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
use strato_state::Object;

use super::db_subnet_group::rds_tags;
use super::{id, mismatch, Attributes, Created, Cx, Driver, RDS_GONE, RDS_READY};
use crate::error::{from_sdk, AwsError, Class};
use crate::poll::{self, Check};

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
            // Created by an interrupted run: adopt it and wait for it.
            Err(e) if e.code_is(&["DBInstanceAlreadyExists"]) => {}
            Err(e) => return Err(e),
        }
        Ok(c)
    }

    async fn wait_ready(&self, cx: &Cx<'_>, obj: &Object) -> Result<Attributes, AwsError> {
        let ident = id(obj)?;
        poll::until(
            "the database to be available",
            &RDS_READY,
            cx.cancel,
            |s| cx.status(s),
            || async {
                let i = describe(cx, ident).await?.ok_or_else(|| {
                    AwsError::new("DescribeDBInstances", Class::NotFound, format!("database {ident} disappeared"))
                })?;
                Ok(match i.db_instance_status() {
                    Some("available") => Check::Done(instance_attributes(&i)),
                    Some("failed" | "incompatible-parameters" | "incompatible-network" | "storage-full") => {
                        let msg = format!("database {ident} is `{}`", i.db_instance_status().unwrap_or_default());
                        return Err(AwsError::new("CreateDBInstance", Class::Fatal, msg));
                    }
                    other => Check::Pending(other.unwrap_or("creating").to_string()),
                })
            },
        )
        .await
    }

    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        Ok(describe(cx, &cx.name()).await?.map(|i| {
            let mut c = Created::new(cx.name());
            c.attributes.extend(instance_attributes(&i));
            c
        }))
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        Ok(describe(cx, id(obj)?).await?.is_some_and(|i| i.db_instance_status() != Some("deleting")))
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let ident = id(obj)?;
        let Some(current) = describe(cx, ident).await? else { return Ok(()) };
        if current.db_instance_status() == Some("deleting") {
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
        }
        let snapshot = obj.attribute("final_snapshot") != Some("false") && !cx.run.destroy.skip_final_snapshot;
        let mut call = cx.clients.rds.delete_db_instance().db_instance_identifier(ident);
        call = if snapshot {
            let name = format!("{ident}-final-{}", timestamp());
            cx.status(&format!("final snapshot {name}"));
            call.final_db_snapshot_identifier(name).skip_final_snapshot(false)
        } else {
            call.skip_final_snapshot(true)
        };
        match call.send().await.map_err(|e| from_sdk("DeleteDBInstance", e)) {
            Ok(_) => Ok(()),
            Err(e)
                if e.is(Class::NotFound)
                    || e.code_is(&["InvalidDBInstanceState"]) && e.message.contains("deleting") =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn wait_gone(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let ident = id(obj)?;
        poll::until(
            "the database to be deleted",
            &RDS_GONE,
            cx.cancel,
            |s| cx.status(s),
            || async {
                Ok(match describe(cx, ident).await? {
                    None => Check::Done(()),
                    Some(i) => Check::Pending(i.db_instance_status().unwrap_or("deleting").to_string()),
                })
            },
        )
        .await
    }
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
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}t{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}
