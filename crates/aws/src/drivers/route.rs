//! Route: CreateRoute to an internet gateway or a NAT gateway. Routes have no id of their
//! own; strato records `<route table id>:<destination>`. An existing identical route is
//! adopted.

use async_trait::async_trait;
use strato_graph::{Desired, Kind, Part};
use strato_state::Object;

use super::{gone_ok, id, mismatch, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError, Class};

pub struct Route;

#[async_trait]
impl Driver for Route {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::Route { table, destination, target } = desired else {
            return Err(mismatch("CreateRoute"));
        };
        let rtb = cx.id_of(*table)?;
        let target_id = cx.id_of(*target)?;
        let nat = cx.kind_of(*target) == Some(Kind::NatGateway);
        // Right after an internet gateway is attached, EC2 may answer that the table and the
        // gateway "belong to different networks" (aws-samples/ecs-refarch-cloudformation#6).
        let attach_lag =
            |e: &AwsError| e.code_is(&["InvalidParameterValue"]) && e.message.contains("different networks");
        let result = cx
            .retry_fresh_when(attach_lag, || async {
                let mut call =
                    cx.clients.ec2.create_route().route_table_id(rtb).destination_cidr_block(destination.to_string());
                call = if nat { call.nat_gateway_id(target_id) } else { call.gateway_id(target_id) };
                call.send().await.map_err(|e| from_sdk("CreateRoute", e))
            })
            .await;
        match result {
            Ok(_) => {}
            Err(e) if e.code_is(&["RouteAlreadyExists"]) => {
                if !route_targets(cx, rtb, &destination.to_string(), target_id).await? {
                    let msg = format!("route table {rtb} already routes {destination} elsewhere");
                    return Err(AwsError::new("CreateRoute", Class::InvalidInput, msg));
                }
            }
            Err(e) => return Err(e),
        }
        let mut c = Created::new(format!("{rtb}:{destination}"))
            .with("route_table_id", rtb)
            .with("destination", destination.to_string())
            .with("target_id", target_id);
        c.ready = true;
        Ok(c)
    }

    /// `ReplaceRoute`: the route points at its new target at once, with no moment without
    /// a route (a delete and a create would leave one).
    async fn update(
        &self,
        cx: &Cx<'_>,
        _obj: &Object,
        desired: &Desired,
        _changes: &[strato_graph::plan::Change],
    ) -> Result<super::Updated, AwsError> {
        let Desired::Route { table, destination, target } = desired else { return Err(mismatch("ReplaceRoute")) };
        let rtb = cx.id_of(*table)?;
        let target_id = cx.id_of(*target)?;
        let call = cx.clients.ec2.replace_route().route_table_id(rtb).destination_cidr_block(destination.to_string());
        let call = if cx.kind_of(*target) == Some(Kind::NatGateway) {
            call.nat_gateway_id(target_id)
        } else {
            call.gateway_id(target_id)
        };
        call.send().await.map_err(|e| from_sdk("ReplaceRoute", e))?;
        Ok(super::Updated { id: None, attributes: [("target_id".to_string(), target_id.to_string())].into() })
    }

    async fn find(&self, cx: &Cx<'_>, obj: &Object) -> Result<Option<Created>, AwsError> {
        let (Some(rtb), Some(Part::Route(dest))) = (cx.dependency_id(obj, Kind::RouteTable), cx.part()) else {
            return Ok(None);
        };
        let dest = dest.to_string();
        let dest = dest.as_str();
        let out = cx.clients.ec2.describe_route_tables().route_table_ids(rtb).send().await;
        let Some(out) = super::found(out.map_err(|e| from_sdk("DescribeRouteTables", e)))? else { return Ok(None) };
        let route =
            out.route_tables().iter().flat_map(|t| t.routes()).find(|r| r.destination_cidr_block() == Some(dest));
        Ok(route.map(|r| {
            let target = r.nat_gateway_id().or(r.gateway_id()).unwrap_or_default();
            Created::new(format!("{rtb}:{dest}"))
                .with("route_table_id", rtb)
                .with("destination", dest)
                .with("target_id", target)
        }))
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let (Some(rtb), Some(dest), Some(target)) =
            (obj.attribute("route_table_id"), obj.attribute("destination"), obj.attribute("target_id"))
        else {
            return Ok(false);
        };
        route_targets(cx, rtb, dest, target).await
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let (Some(rtb), Some(dest)) = (obj.attribute("route_table_id"), obj.attribute("destination")) else {
            return Err(AwsError::new(
                "DeleteRoute",
                Class::Fatal,
                format!("`{}` lacks its route table or destination", id(obj)?),
            ));
        };
        gone_ok(
            cx.clients
                .ec2
                .delete_route()
                .route_table_id(rtb)
                .destination_cidr_block(dest)
                .send()
                .await
                .map_err(|e| from_sdk("DeleteRoute", e)),
        )
    }
}

/// Whether `rtb` routes `destination` to `target`.
async fn route_targets(cx: &Cx<'_>, rtb: &str, destination: &str, target: &str) -> Result<bool, AwsError> {
    let out = cx.clients.ec2.describe_route_tables().route_table_ids(rtb).send().await;
    let Some(out) = super::found(out.map_err(|e| from_sdk("DescribeRouteTables", e)))? else { return Ok(false) };
    Ok(out.route_tables().iter().flat_map(|t| t.routes()).any(|r| {
        r.destination_cidr_block() == Some(destination)
            && (r.gateway_id() == Some(target) || r.nat_gateway_id() == Some(target))
    }))
}
