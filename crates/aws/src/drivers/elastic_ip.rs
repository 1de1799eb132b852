//! Elastic IP for a NAT gateway: AllocateAddress in the VPC domain, tagged. AllocateAddress
//! has no idempotency token: an unanswered allocation looks for the tagged address before
//! it is sent again (a second address would leak and be billed). Released only after its
//! NAT gateway is `deleted`, when AWS disassociates it (the destroy order sees to that).

use async_trait::async_trait;
use aws_sdk_ec2::types::{DomainType, ResourceType};
use strato_graph::Desired;
use strato_state::Object;

use super::{ec2_once, exists_from, gone_ok, id, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError};

pub struct ElasticIp;

#[async_trait]
impl Driver for ElasticIp {
    async fn create(&self, cx: &Cx<'_>, _desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let allocate = || async {
            let out = cx
                .clients
                .ec2
                .allocate_address()
                .domain(DomainType::Vpc)
                .tag_specifications(cx.tag_spec(ResourceType::ElasticIp))
                .customize()
                .config_override(ec2_once())
                .send()
                .await
                .map_err(|e| from_sdk("AllocateAddress", e))?;
            Ok(Created::new(out.allocation_id().unwrap_or_default())
                .with("public_ip", out.public_ip().unwrap_or_default()))
        };
        let probe = Object::new("elastic_ip");
        let mut c = super::create_untokened(cx, allocate, || self.find(cx, &probe)).await?;
        c.ready = true;
        Ok(c)
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let r = cx
            .clients
            .ec2
            .describe_addresses()
            .allocation_ids(id(obj)?)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeAddresses", e));
        exists_from(r, |o| !o.addresses().is_empty())
    }

    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        let out = cx
            .clients
            .ec2
            .describe_addresses()
            .set_filters(Some(cx.tag_filters()))
            .send()
            .await
            .map_err(|e| from_sdk("DescribeAddresses", e))?;
        Ok(out.addresses().first().map(|a| {
            Created::new(a.allocation_id().unwrap_or_default()).with("public_ip", a.public_ip().unwrap_or_default())
        }))
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        gone_ok(
            cx.clients
                .ec2
                .release_address()
                .allocation_id(id(obj)?)
                .send()
                .await
                .map_err(|e| from_sdk("ReleaseAddress", e)),
        )
    }
}
