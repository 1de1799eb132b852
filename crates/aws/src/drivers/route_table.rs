//! Route table: CreateRouteTable with the run's client token, tagged.

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use strato_graph::Desired;
use strato_state::Object;

use super::{exists_from, gone_ok, id, mismatch, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError};

pub struct RouteTable;

#[async_trait]
impl Driver for RouteTable {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, token: &str) -> Result<Created, AwsError> {
        let Desired::RouteTable { vpc } = desired else {
            return Err(mismatch("CreateRouteTable"));
        };
        let vpc_id = cx.id_of(*vpc)?;
        let out = cx
            .retry_fresh(|| async {
                cx.clients
                    .ec2
                    .create_route_table()
                    .vpc_id(vpc_id)
                    .client_token(token)
                    .tag_specifications(cx.tag_spec(ResourceType::RouteTable))
                    .send()
                    .await
                    .map_err(|e| from_sdk("CreateRouteTable", e))
            })
            .await?;
        let rtb = out.route_table().and_then(|t| t.route_table_id()).unwrap_or_default();
        let mut c = Created::new(rtb).with("vpc_id", vpc_id);
        c.ready = true;
        Ok(c)
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let r = cx
            .clients
            .ec2
            .describe_route_tables()
            .route_table_ids(id(obj)?)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeRouteTables", e));
        exists_from(r, |o| !o.route_tables().is_empty())
    }

    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        let out = cx
            .clients
            .ec2
            .describe_route_tables()
            .set_filters(Some(cx.tag_filters()))
            .send()
            .await
            .map_err(|e| from_sdk("DescribeRouteTables", e))?;
        Ok(out.route_tables().first().map(|t| {
            Created::new(t.route_table_id().unwrap_or_default()).with("vpc_id", t.vpc_id().unwrap_or_default())
        }))
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        gone_ok(
            cx.clients
                .ec2
                .delete_route_table()
                .route_table_id(id(obj)?)
                .send()
                .await
                .map_err(|e| from_sdk("DeleteRouteTable", e)),
        )
    }
}
