//! Internet gateway: create it tagged, attach it to its VPC. Destroy detaches first (AWS
//! refuses while public addresses are mapped; the destroy order sees to that) and treats
//! "not attached" as already done.

use async_trait::async_trait;
use aws_sdk_ec2::types::ResourceType;
use strato_graph::Desired;
use strato_state::Object;

use super::{exists_from, gone_ok, id, mismatch, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError, Class};

pub struct InternetGateway;

#[async_trait]
impl Driver for InternetGateway {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::InternetGateway { vpc } = desired else {
            return Err(mismatch("CreateInternetGateway"));
        };
        let vpc_id = cx.id_of(*vpc)?;
        let out = cx
            .clients
            .ec2
            .create_internet_gateway()
            .tag_specifications(cx.tag_spec(ResourceType::InternetGateway))
            .send()
            .await
            .map_err(|e| from_sdk("CreateInternetGateway", e))?;
        let igw_id = out
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .ok_or_else(|| AwsError::new("CreateInternetGateway", Class::Fatal, "the answer has no gateway id"))?
            .to_string();
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
        let out = cx
            .clients
            .ec2
            .describe_internet_gateways()
            .set_filters(Some(cx.tag_filters()))
            .send()
            .await
            .map_err(|e| from_sdk("DescribeInternetGateways", e))?;
        let Some(g) = out.internet_gateways().first() else {
            return Ok(None);
        };
        let igw_id = g.internet_gateway_id().unwrap_or_default().to_string();
        let attached = g.attachments().iter().find_map(|a| a.vpc_id()).map(str::to_string);
        let vpc_id = match (attached, obj.attribute("vpc_id")) {
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
            let detach = cx
                .clients
                .ec2
                .detach_internet_gateway()
                .internet_gateway_id(igw_id)
                .vpc_id(vpc_id)
                .send()
                .await
                .map_err(|e| from_sdk("DetachInternetGateway", e));
            match detach {
                Err(e) if e.code_is(&["Gateway.NotAttached"]) => {}
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
