//! Security group: CreateSecurityGroup named `<deployment>-<name>` in its VPC, tagged. Its
//! ingress rules are a separate object (`security_group_rules`), so groups that refer to each
//! other can all exist before any rule names them. Egress keeps AWS's default (open).
//! Deleted only once no network interface uses it (AWS refuses with `DependencyViolation`
//! before); when AWS still refuses, the error names the interfaces and the other groups'
//! rules that hold it.

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType};
use strato_graph::Desired;
use strato_state::Object;

use super::{ec2_pairs, exists_from, id, mismatch, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError};

pub struct SecurityGroup;

#[async_trait]
impl Driver for SecurityGroup {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::SecurityGroup { vpc, description } = desired else {
            return Err(mismatch("CreateSecurityGroup"));
        };
        let vpc_id = cx.id_of(*vpc)?;
        let result = cx
            .retry_fresh(|| async {
                cx.clients
                    .ec2
                    .create_security_group()
                    .group_name(cx.name())
                    .description(description)
                    .vpc_id(vpc_id)
                    .tag_specifications(cx.tag_spec(ResourceType::SecurityGroup))
                    .send()
                    .await
                    .map_err(|e| from_sdk("CreateSecurityGroup", e))
            })
            .await;
        let group_id = match result {
            Ok(out) => out.group_id().unwrap_or_default().to_string(),
            // Created by an earlier, interrupted run: adopt it if it carries our tags.
            Err(e) if e.code_is(&["InvalidGroup.Duplicate"]) => {
                let named = Filter::builder().name("group-name").values(cx.name()).build();
                let in_vpc = Filter::builder().name("vpc-id").values(vpc_id).build();
                let out = cx
                    .clients
                    .ec2
                    .describe_security_groups()
                    .filters(named)
                    .filters(in_vpc)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DescribeSecurityGroups", e))?;
                let group = out.security_groups().first().ok_or(e)?;
                let tags = ec2_pairs(group.tags());
                if !cx.is_this(&tags) {
                    return Err(cx.foreign("CreateSecurityGroup", "security group", &tags));
                }
                group.group_id().unwrap_or_default().to_string()
            }
            Err(e) => return Err(e),
        };
        let mut c = Created::new(group_id).with("vpc_id", vpc_id);
        c.ready = true;
        Ok(c)
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let r = cx
            .clients
            .ec2
            .describe_security_groups()
            .group_ids(id(obj)?)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeSecurityGroups", e));
        exists_from(r, |o| !o.security_groups().is_empty())
    }

    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        let out = cx
            .clients
            .ec2
            .describe_security_groups()
            .set_filters(Some(cx.tag_filters()))
            .send()
            .await
            .map_err(|e| from_sdk("DescribeSecurityGroups", e))?;
        Ok(out
            .security_groups()
            .first()
            .map(|g| Created::new(g.group_id().unwrap_or_default()).with("vpc_id", g.vpc_id().unwrap_or_default())))
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let group_id = id(obj)?;
        let filter = Filter::builder().name("group-id").values(group_id).build();
        let vpc_id = obj.attribute("vpc_id");
        // Interfaces AWS is releasing are waited for; another group's rule (this
        // deployment's rules go first, or with their group, by the destroy order) is named
        // if AWS refuses.
        let releasing = || super::interfaces_in(cx, super::Within::Group(group_id), super::in_use);
        let blockers = || async {
            let mut held = super::interfaces(cx, &filter, |_| true).await?;
            held.extend(referencing_groups(cx, group_id, vpc_id).await?);
            Ok(held)
        };
        super::delete_when_unused(cx, &format!("security group {group_id}"), releasing, blockers, || async {
            cx.clients
                .ec2
                .delete_security_group()
                .group_id(group_id)
                .send()
                .await
                .map_err(|e| from_sdk("DeleteSecurityGroup", e))
        })
        .await
    }
}

/// Filter for the rules of one group.
pub(super) fn group_filter(group_id: &str) -> Filter {
    Filter::builder().name("group-id").values(group_id).build()
}

/// The other groups of the VPC whose rules name `group_id` as a source or destination:
/// AWS refuses to delete a group while one does (`DependencyViolation`, with no network
/// interface to show for it).
async fn referencing_groups(cx: &Cx<'_>, group_id: &str, vpc_id: Option<&str>) -> Result<Vec<String>, AwsError> {
    let mut call = cx.clients.ec2.describe_security_groups();
    if let Some(vpc) = vpc_id {
        call = call.filters(Filter::builder().name("vpc-id").values(vpc).build());
    }
    let out = call.send().await.map_err(|e| from_sdk("DescribeSecurityGroups", e))?;
    Ok(out
        .security_groups()
        .iter()
        .filter(|g| g.group_id() != Some(group_id))
        .filter(|g| {
            g.ip_permissions()
                .iter()
                .chain(g.ip_permissions_egress())
                .flat_map(|p| p.user_id_group_pairs())
                .any(|pair| pair.group_id() == Some(group_id))
        })
        .map(|g| format!("a rule of group {} ({})", g.group_id().unwrap_or("?"), g.group_name().unwrap_or("?")))
        .collect())
}
