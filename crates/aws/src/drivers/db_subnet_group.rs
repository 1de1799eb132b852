//! DB subnet group: CreateDBSubnetGroup named `<deployment>-<name>` over its subnets.

use async_trait::async_trait;
use aws_sdk_rds::types::Tag;
use strato_graph::Desired;
use strato_state::Object;

use super::{exists_from, gone_ok, id, mismatch, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError};

pub struct DbSubnetGroup;

pub(super) fn rds_tags(cx: &Cx<'_>) -> Vec<Tag> {
    cx.tag_pairs().into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// The tags of an RDS object, by its ARN (`ListTagsForResource`).
pub async fn rds_tags_of(clients: &crate::client::Clients, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
    let out = clients
        .rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| from_sdk("ListTagsForResource", e))?;
    Ok(pairs(out.tag_list()))
}

pub fn pairs(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter().map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())).collect()
}

/// The subnet group named as this object, and its tags, if there is one.
async fn describe(cx: &Cx<'_>, name: &str) -> Result<Option<Vec<(String, String)>>, AwsError> {
    let r = cx.clients.rds.describe_db_subnet_groups().db_subnet_group_name(name).send().await;
    let Some(out) = super::found(r.map_err(|e| from_sdk("DescribeDBSubnetGroups", e)))? else { return Ok(None) };
    let Some(arn) = out.db_subnet_groups().first().and_then(|g| g.db_subnet_group_arn()) else { return Ok(None) };
    super::found(rds_tags_of(cx.clients, arn).await)
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
            // Names are unique per account and region: adopted only when it is this one.
            Err(e) if e.code_is(&["DBSubnetGroupAlreadyExists"]) => {
                let tags = describe(cx, &name).await?.unwrap_or_default();
                if !cx.is_this(&tags) {
                    return Err(cx.foreign("CreateDBSubnetGroup", "DB subnet group", &tags));
                }
            }
            Err(e) => return Err(e),
        }
        let mut c = Created::new(name);
        c.ready = true;
        Ok(c)
    }

    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        let tags = describe(cx, &cx.name()).await?;
        let ours = tags.is_some_and(|t| cx.is_this(&t));
        Ok(ours.then(|| Created::new(cx.name())))
    }

    /// `ModifyDBSubnetGroup`: description and subnets, with the databases in it running.
    async fn update(
        &self,
        cx: &Cx<'_>,
        obj: &Object,
        desired: &Desired,
        _changes: &[strato_graph::plan::Change],
    ) -> Result<super::Updated, AwsError> {
        let Desired::DbSubnetGroup { description, subnets } = desired else {
            return Err(mismatch("ModifyDBSubnetGroup"));
        };
        cx.clients
            .rds
            .modify_db_subnet_group()
            .db_subnet_group_name(id(obj)?)
            .db_subnet_group_description(description)
            .set_subnet_ids(Some(cx.ids_of(subnets)?))
            .send()
            .await
            .map_err(|e| from_sdk("ModifyDBSubnetGroup", e))?;
        Ok(super::Updated::default())
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
