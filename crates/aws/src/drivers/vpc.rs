//! VPC: CreateVpc with tags, then the DNS attributes the spec asks for (one call each, and
//! only where they differ from AWS's defaults: support on, hostnames off).
//!
//! CreateVpc takes no idempotency token: it goes through [`super::create_untokened`], which
//! looks for a tagged VPC before a call that got no answer is sent again.

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcState};
use strato_graph::Desired;
use strato_state::Object;

use super::{ec2_once, exists_from, found, gone_ok, id, mismatch, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError, Class};
use crate::poll::Check;

pub struct Vpc;

#[async_trait]
impl Driver for Vpc {
    async fn finish(&self, cx: &Cx<'_>, desired: &Desired, vpc_id: &str) -> Result<(), AwsError> {
        let Desired::Vpc { dns_support, dns_hostnames, .. } = desired else {
            return Err(mismatch("ModifyVpcAttribute"));
        };
        let attribute = |on: bool| AttributeBooleanValue::builder().value(on).build();
        if !dns_support {
            settle(cx, "ModifyVpcAttribute", || async {
                cx.clients.ec2.modify_vpc_attribute().vpc_id(vpc_id).enable_dns_support(attribute(false)).send().await
            })
            .await?;
        }
        if *dns_hostnames {
            settle(cx, "ModifyVpcAttribute", || async {
                cx.clients.ec2.modify_vpc_attribute().vpc_id(vpc_id).enable_dns_hostnames(attribute(true)).send().await
            })
            .await?;
        }
        Ok(())
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::Vpc { cidr, .. } = desired else {
            return Err(mismatch("CreateVpc"));
        };
        let create = || async {
            let out = cx
                .clients
                .ec2
                .create_vpc()
                .cidr_block(cidr.to_string())
                .tag_specifications(cx.tag_spec(ResourceType::Vpc))
                .customize()
                .config_override(ec2_once())
                .send()
                .await
                .map_err(|e| from_sdk("CreateVpc", e))?;
            let vpc = out.vpc().ok_or_else(|| AwsError::new("CreateVpc", Class::Fatal, "the answer has no VPC"))?;
            let mut c = Created::new(vpc.vpc_id().unwrap_or_default()).with("cidr", cidr.to_string());
            c.ready = vpc.state() == Some(&VpcState::Available);
            Ok(c)
        };
        let probe = Object::new("vpc");
        let created = super::create_untokened(cx, create, || self.find(cx, &probe)).await?;
        self.finish(cx, desired, &created.id).await?;
        Ok(created)
    }

    async fn wait_ready(&self, cx: &Cx<'_>, obj: &Object) -> Result<super::Attributes, AwsError> {
        let vpc_id = id(obj)?;
        cx.wait("the VPC to be available", &super::QUICK, || async {
            let r = cx.clients.ec2.describe_vpcs().vpc_ids(vpc_id).send().await;
            // Right after CreateVpc, DescribeVpcs may not know the new VPC yet (eventual
            // consistency, "Eventual consistency in the Amazon EC2 API"; TF's statusVPC treats
            // NotFound as "not yet").
            let Some(out) = found(r.map_err(|e| from_sdk("DescribeVpcs", e)))? else {
                return Ok(Check::Pending("not visible yet".into()));
            };
            let state = out.vpcs().first().and_then(|v| v.state()).map(|s| s.as_str().to_string()).unwrap_or_default();
            Ok(if state == "available" { Check::Done(super::Attributes::new()) } else { Check::Pending(state) })
        })
        .await
    }

    /// `ModifyVpcAttribute`, one attribute per call as the API demands.
    async fn update(
        &self,
        cx: &Cx<'_>,
        obj: &Object,
        desired: &Desired,
        changes: &[strato_graph::plan::Change],
    ) -> Result<super::Updated, AwsError> {
        let Desired::Vpc { dns_support, dns_hostnames, .. } = desired else {
            return Err(mismatch("ModifyVpcAttribute"));
        };
        let vpc_id = super::id(obj)?;
        let attribute = |on: bool| AttributeBooleanValue::builder().value(on).build();
        let ec2 = &cx.clients.ec2;
        // Hostnames need DNS support: turned on support first, hostnames off first.
        if changes.iter().any(|c| c.attribute == "dns_support") && *dns_support {
            let r = ec2.modify_vpc_attribute().vpc_id(vpc_id).enable_dns_support(attribute(true)).send().await;
            r.map_err(|e| from_sdk("ModifyVpcAttribute", e))?;
        }
        if changes.iter().any(|c| c.attribute == "dns_hostnames") {
            let r =
                ec2.modify_vpc_attribute().vpc_id(vpc_id).enable_dns_hostnames(attribute(*dns_hostnames)).send().await;
            r.map_err(|e| from_sdk("ModifyVpcAttribute", e))?;
        }
        if changes.iter().any(|c| c.attribute == "dns_support") && !*dns_support {
            let r = ec2.modify_vpc_attribute().vpc_id(vpc_id).enable_dns_support(attribute(false)).send().await;
            r.map_err(|e| from_sdk("ModifyVpcAttribute", e))?;
        }
        Ok(super::Updated::default())
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let r = cx.clients.ec2.describe_vpcs().vpc_ids(id(obj)?).send().await.map_err(|e| from_sdk("DescribeVpcs", e));
        exists_from(r, |o| !o.vpcs().is_empty())
    }

    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        let out = cx
            .clients
            .ec2
            .describe_vpcs()
            .set_filters(Some(cx.tag_filters()))
            .send()
            .await
            .map_err(|e| from_sdk("DescribeVpcs", e))?;
        Ok(out.vpcs().first().and_then(|v| v.vpc_id()).map(|id| {
            let mut c = Created::new(id);
            c.attributes.extend(out.vpcs()[0].cidr_block().map(|b| ("cidr".to_string(), b.to_string())));
            c
        }))
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        gone_ok(cx.clients.ec2.delete_vpc().vpc_id(id(obj)?).send().await.map_err(|e| from_sdk("DeleteVpc", e)))
    }
}

/// Runs an EC2 call on an object created moments ago, retrying while AWS does not know it
/// yet (EC2 API reference, "Eventual consistency in the Amazon EC2 API").
pub(super) async fn settle<T, E, F, Fut>(cx: &Cx<'_>, call: &str, f: F) -> Result<T, AwsError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, aws_sdk_ec2::error::SdkError<E>>>,
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let own = Cx { fresh: true, ..*cx };
    own.retry_fresh(|| async { f().await.map_err(|e| from_sdk(call, e)) }).await
}
