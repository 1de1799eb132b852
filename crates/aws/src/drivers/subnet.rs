//! Subnet: CreateSubnet in its zone, tagged. CreateSubnet has no idempotency token, so an
//! unanswered create looks for the tagged subnet before it is sent again. Deleted only once
//! no network interface is left in it (AWS refuses with `DependencyViolation` before).

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType};
use strato_graph::Desired;
use strato_state::Object;

use super::{ec2_once, exists_from, id, mismatch, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError, Class};

pub struct Subnet;

#[async_trait]
impl Driver for Subnet {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::Subnet { vpc, cidr, zone } = desired else {
            return Err(mismatch("CreateSubnet"));
        };
        let vpc_id = cx.id_of(*vpc)?;
        let create = || async {
            let out = cx
                .retry_fresh(|| async {
                    cx.clients
                        .ec2
                        .create_subnet()
                        .vpc_id(vpc_id)
                        .cidr_block(cidr.to_string())
                        .availability_zone(zone)
                        .tag_specifications(cx.tag_spec(ResourceType::Subnet))
                        .customize()
                        .config_override(ec2_once())
                        .send()
                        .await
                        .map_err(|e| from_sdk("CreateSubnet", e))
                })
                .await?;
            let subnet =
                out.subnet().ok_or_else(|| AwsError::new("CreateSubnet", Class::Fatal, "the answer has no subnet"))?;
            Ok(Created::new(subnet.subnet_id().unwrap_or_default())
                .with("vpc_id", vpc_id)
                .with("cidr", cidr.to_string())
                .with("zone", zone.as_str()))
        };
        // CreateSubnet has no idempotency token: after an unanswered attempt, a second one
        // would answer `InvalidSubnet.Conflict` about the first one's subnet.
        let probe = Object::new("subnet");
        let mut c = super::create_untokened(cx, create, || self.find(cx, &probe)).await?;
        // Usable for children as soon as it exists; `pending` clears within seconds.
        c.ready = true;
        Ok(c)
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let r = cx
            .clients
            .ec2
            .describe_subnets()
            .subnet_ids(id(obj)?)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeSubnets", e));
        exists_from(r, |o| !o.subnets().is_empty())
    }

    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        let out = cx
            .clients
            .ec2
            .describe_subnets()
            .set_filters(Some(cx.tag_filters()))
            .send()
            .await
            .map_err(|e| from_sdk("DescribeSubnets", e))?;
        Ok(out.subnets().first().map(|s| {
            Created::new(s.subnet_id().unwrap_or_default())
                .with("vpc_id", s.vpc_id().unwrap_or_default())
                .with("cidr", s.cidr_block().unwrap_or_default())
                .with("zone", s.availability_zone().unwrap_or_default())
        }))
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let subnet_id = id(obj)?;
        let filter = Filter::builder().name("subnet-id").values(subnet_id).build();
        let releasing = || super::interfaces_in(cx, super::Within::Subnet(subnet_id), super::in_use);
        let blockers = || super::interfaces(cx, &filter, |_| true);
        super::delete_when_unused(cx, &format!("subnet {subnet_id}"), releasing, blockers, || async {
            cx.clients.ec2.delete_subnet().subnet_id(subnet_id).send().await.map_err(|e| from_sdk("DeleteSubnet", e))
        })
        .await
    }
}
