//! Internet gateway: create it tagged, attach it to its VPC. CreateInternetGateway has no
//! idempotency token: an unanswered create looks for the tagged gateway before it is sent
//! again.
//!
//! Destroy detaches first, and only once nothing in the VPC maps a public address any more:
//! AWS refuses `DetachInternetGateway` with `DependencyViolation` ("has some mapped public
//! address(es)") while any network interface in the VPC holds one, and the interfaces of a
//! deleted internet-facing load balancer linger for minutes (EC2 API reference,
//! DetachInternetGateway; the
//! fix of alchemy-run/alchemy#1125 waits the same way). "Not attached" counts as detached.

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType};
use strato_graph::{Desired, Kind};
use strato_state::Object;

use super::{ec2_once, exists_from, gone_ok, id, mismatch, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError, Class};

pub struct InternetGateway;

/// How long a detach may wait for the VPC's public addresses to go: TF's delete timeout
/// for internet gateways (internal/service/ec2/vpc_internet_gateway.go).
use strato_cloud::waits::PUBLIC_ADDRESSES_GONE;

#[async_trait]
impl Driver for InternetGateway {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::InternetGateway { vpc } = desired else {
            return Err(mismatch("CreateInternetGateway"));
        };
        let vpc_id = cx.id_of(*vpc)?;
        let create = || async {
            let out = cx
                .clients
                .ec2
                .create_internet_gateway()
                .tag_specifications(cx.tag_spec(ResourceType::InternetGateway))
                .customize()
                .config_override(ec2_once())
                .send()
                .await
                .map_err(|e| from_sdk("CreateInternetGateway", e))?;
            out.internet_gateway()
                .and_then(|g| g.internet_gateway_id())
                .map(str::to_string)
                .ok_or_else(|| AwsError::new("CreateInternetGateway", Class::Fatal, "the answer has no gateway id"))
        };
        let find = || async { Ok(tagged(cx).await?.map(|(igw, _)| igw)) };
        let igw_id = super::create_untokened(cx, create, find).await?;
        attach(cx, &igw_id, vpc_id).await?;
        let mut c = Created::new(igw_id).with("vpc_id", vpc_id);
        c.ready = true;
        Ok(c)
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let r = cx
            .clients
            .ec2
            .describe_internet_gateways()
            .internet_gateway_ids(id(obj)?)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeInternetGateways", e));
        exists_from(r, |o| !o.internet_gateways().is_empty())
    }

    async fn find(&self, cx: &Cx<'_>, obj: &Object) -> Result<Option<Created>, AwsError> {
        let Some((igw_id, attached)) = tagged(cx).await? else { return Ok(None) };
        let vpc_id = match (attached, obj.attribute("vpc_id").or(cx.dependency_id(obj, Kind::Vpc))) {
            (Some(v), _) => v,
            (None, Some(v)) => {
                attach(cx, &igw_id, v).await?;
                v.to_string()
            }
            (None, None) => return Ok(None),
        };
        Ok(Some(Created::new(igw_id).with("vpc_id", vpc_id)))
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let igw_id = id(obj)?;
        if let Some(vpc_id) = obj.attribute("vpc_id") {
            let in_vpc = Filter::builder().name("vpc-id").values(vpc_id).build();
            let public = |n: &aws_sdk_ec2::types::NetworkInterface| {
                n.association().and_then(|a| a.public_ip()).is_some_and(|ip| !ip.is_empty())
            };
            let what = format!("VPC {vpc_id} that map public addresses");
            let releasing = |n: &aws_sdk_ec2::types::NetworkInterface| public(n) && super::in_use(n);
            super::wait_for_interfaces(cx, &in_vpc, &what, &PUBLIC_ADDRESSES_GONE, releasing).await?;
            // An address AWS had not listed yet still refuses the detach: waited out within
            // the same window, as TF retries `DependencyViolation` here.
            let detach = cx
                .retry_refused(
                    PUBLIC_ADDRESSES_GONE.deadline,
                    |e| e.code_is(&["DependencyViolation"]),
                    || async {
                        cx.clients
                            .ec2
                            .detach_internet_gateway()
                            .internet_gateway_id(igw_id)
                            .vpc_id(vpc_id)
                            .send()
                            .await
                            .map_err(|e| from_sdk("DetachInternetGateway", e))
                    },
                )
                .await;
            match detach {
                Err(e) if e.code_is(&["Gateway.NotAttached"]) => {}
                Err(e) if e.code_is(&["DependencyViolation"]) => {
                    let held = super::interfaces(cx, &in_vpc, public).await.unwrap_or_default();
                    return Err(e.naming("mapped by", &held));
                }
                other => gone_ok(other)?,
            }
        }
        gone_ok(
            cx.clients
                .ec2
                .delete_internet_gateway()
                .internet_gateway_id(igw_id)
                .send()
                .await
                .map_err(|e| from_sdk("DeleteInternetGateway", e)),
        )
    }
}

/// The gateway tagged as this object, and the VPC it is attached to.
async fn tagged(cx: &Cx<'_>) -> Result<Option<(String, Option<String>)>, AwsError> {
    let out = cx
        .clients
        .ec2
        .describe_internet_gateways()
        .set_filters(Some(cx.tag_filters()))
        .send()
        .await
        .map_err(|e| from_sdk("DescribeInternetGateways", e))?;
    Ok(out.internet_gateways().first().map(|g| {
        let attached = g.attachments().iter().find_map(|a| a.vpc_id()).map(str::to_string);
        (g.internet_gateway_id().unwrap_or_default().to_string(), attached)
    }))
}

async fn attach(cx: &Cx<'_>, igw_id: &str, vpc_id: &str) -> Result<(), AwsError> {
    let result = super::vpc::settle(cx, "AttachInternetGateway", || {
        cx.clients.ec2.attach_internet_gateway().internet_gateway_id(igw_id).vpc_id(vpc_id).send()
    })
    .await;
    match result {
        Err(e) if e.code_is(&["Resource.AlreadyAssociated"]) => Ok(()),
        other => other.map(|_| ()),
    }
}
