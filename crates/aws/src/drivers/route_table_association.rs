//! Route-table association: AssociateRouteTable. A subnet already associated with this
//! table is adopted; with another table, it is an error that names both.

use async_trait::async_trait;
use aws_sdk_ec2::types::Filter;
use strato_graph::{Desired, Kind};
use strato_state::Object;

use super::{gone_ok, id, mismatch, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError, Class};

pub struct RouteTableAssociation;

#[async_trait]
impl Driver for RouteTableAssociation {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::RouteTableAssociation { table, subnet } = desired else {
            return Err(mismatch("AssociateRouteTable"));
        };
        let rtb = cx.id_of(*table)?;
        let subnet_id = cx.id_of(*subnet)?;
        let result = cx
            .retry_fresh(|| async {
                cx.clients
                    .ec2
                    .associate_route_table()
                    .route_table_id(rtb)
                    .subnet_id(subnet_id)
                    .send()
                    .await
                    .map_err(|e| from_sdk("AssociateRouteTable", e))
            })
            .await;
        let association = match result {
            Ok(out) => out.association_id().unwrap_or_default().to_string(),
            Err(e) if e.code_is(&["Resource.AlreadyAssociated"]) => match association_of(cx, subnet_id).await? {
                Some((table_id, assoc)) if table_id == rtb => assoc,
                Some((table_id, _)) => {
                    let msg = format!("subnet {subnet_id} is already associated with route table {table_id}");
                    return Err(AwsError::new("AssociateRouteTable", Class::InvalidInput, msg));
                }
                None => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let mut c = Created::new(association).with("route_table_id", rtb).with("subnet_id", subnet_id);
        c.ready = true;
        Ok(c)
    }

    async fn find(&self, cx: &Cx<'_>, obj: &Object) -> Result<Option<Created>, AwsError> {
        let (Some(rtb), Some(subnet_id)) =
            (cx.dependency_id(obj, Kind::RouteTable), cx.dependency_id(obj, Kind::Subnet))
        else {
            return Ok(None);
        };
        Ok(association_of(cx, subnet_id)
            .await?
            .filter(|(table, _)| table == rtb)
            .map(|(_, assoc)| Created::new(assoc).with("route_table_id", rtb).with("subnet_id", subnet_id)))
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let Some(subnet_id) = obj.attribute("subnet_id") else {
            return Ok(false);
        };
        Ok(association_of(cx, subnet_id).await?.is_some_and(|(_, assoc)| assoc == id(obj).unwrap_or_default()))
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        gone_ok(
            cx.clients
                .ec2
                .disassociate_route_table()
                .association_id(id(obj)?)
                .send()
                .await
                .map_err(|e| from_sdk("DisassociateRouteTable", e)),
        )
    }
}

/// The explicit association of a subnet: (route table id, association id).
async fn association_of(cx: &Cx<'_>, subnet_id: &str) -> Result<Option<(String, String)>, AwsError> {
    let out = cx
        .clients
        .ec2
        .describe_route_tables()
        .filters(Filter::builder().name("association.subnet-id").values(subnet_id).build())
        .send()
        .await
        .map_err(|e| from_sdk("DescribeRouteTables", e))?;
    Ok(out.route_tables().iter().find_map(|t| {
        t.associations().iter().find(|a| a.subnet_id() == Some(subnet_id)).map(|a| {
            (
                t.route_table_id().unwrap_or_default().to_string(),
                a.route_table_association_id().unwrap_or_default().to_string(),
            )
        })
    }))
}
