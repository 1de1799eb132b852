//! DB subnet group: CreateDBSubnetGroup named `<deployment>-<name>` over its subnets.

use async_trait::async_trait;
use aws_sdk_rds::types::Tag;
use strato_graph::Desired;
use strato_state::Object;

use super::{exists_from, gone_ok, id, mismatch, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError};

pub struct DbSubnetGroup;

pub(super) fn rds_tags(cx: &Cx<'_>) -> Vec<Tag> {
    cx.tag_list().into_iter().map(|t| Tag::builder().set_key(t.key).set_value(t.value).build()).collect()
}

#[async_trait]
impl Driver for DbSubnetGroup {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::DbSubnetGroup { description, subnets } = desired else {
            return Err(mismatch("CreateDBSubnetGroup"));
        };
        let ids: Vec<String> = cx.ids_of(subnets)?;
        let name = cx.name();
        // RDS sees subnets created moments ago late: "InvalidSubnet: Some input subnets ...
        // are invalid".
        let subnet_lag = |e: &AwsError| e.code_is(&["InvalidSubnet"]);
        let result = cx
            .retry_fresh_when(subnet_lag, || async {
                cx.clients
                    .rds
                    .create_db_subnet_group()
                    .db_subnet_group_name(&name)
                    .db_subnet_group_description(description)
                    .set_subnet_ids(Some(ids.clone()))
                    .set_tags(Some(rds_tags(cx)))
                    .send()
                    .await
                    .map_err(|e| from_sdk("CreateDBSubnetGroup", e))
            })
            .await;
        match result {
            Ok(_) => {}
            Err(e) if e.code_is(&["DBSubnetGroupAlreadyExists"]) => {}
            Err(e) => return Err(e),
        }
        let mut c = Created::new(name);
        c.ready = true;
        Ok(c)
    }

    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        let r = cx.clients.rds.describe_db_subnet_groups().db_subnet_group_name(cx.name()).send().await;
        let found =
            exists_from(r.map_err(|e| from_sdk("DescribeDBSubnetGroups", e)), |o| !o.db_subnet_groups().is_empty())?;
        Ok(found.then(|| Created::new(cx.name())))
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let r = cx.clients.rds.describe_db_subnet_groups().db_subnet_group_name(id(obj)?).send().await;
        exists_from(r.map_err(|e| from_sdk("DescribeDBSubnetGroups", e)), |o| !o.db_subnet_groups().is_empty())
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let r = cx.clients.rds.delete_db_subnet_group().db_subnet_group_name(id(obj)?).send().await;
        gone_ok(r.map_err(|e| from_sdk("DeleteDBSubnetGroup", e)))
    }
}
