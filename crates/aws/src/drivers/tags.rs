//! Changing the spec's tags on a live object: each service's own tagging calls, on the
//! identifier that service tags by. strato's own tags (`Name`, `strato:*`) never change
//! here: they say whose the object is.
//!
//! - EC2: `CreateTags` / `DeleteTags` on the resource id (an instance, a key pair `key-…`,
//!   each rule `sgr-…` of a group's rules);
//! - ELBv2: `AddTags` / `RemoveTags` on the ARN (load balancers, target groups, listeners,
//!   rules);
//! - RDS: `AddTagsToResource` / `RemoveTagsFromResource` on the ARN, read with
//!   `DescribeDBInstances` / `DescribeDBSubnetGroups`;
//! - EFS: `TagResource` / `UntagResource`; ACM: `AddTagsToCertificate` /
//!   `RemoveTagsFromCertificate` (only certificates strato imported: a certificate the spec
//!   names by ARN is not strato's); IAM: `TagRole` / `UntagRole` and the same for the
//!   instance profile.

use strato_graph::Kind;
use strato_state::Object;

use super::Cx;
use crate::error::{from_sdk, AwsError, Class};

/// Sets `set` and removes the keys `unset` on the recorded object `obj` of `kind`.
pub async fn retag(
    cx: &Cx<'_>,
    kind: Kind,
    obj: &Object,
    set: &[(String, String)],
    unset: &[String],
) -> Result<(), AwsError> {
    if set.is_empty() && unset.is_empty() {
        return Ok(());
    }
    let id = obj.id.as_deref().unwrap_or_default();
    let bad = |call: &str, e: String| AwsError::new(call, Class::Fatal, e);
    match kind {
        Kind::Route | Kind::RouteTableAssociation | Kind::MountTarget | Kind::TargetRegistration => Ok(()),
        Kind::LoadBalancer | Kind::TargetGroup | Kind::Listener | Kind::ListenerRule => {
            let elb = &cx.clients.elb;
            if !set.is_empty() {
                let tags = set
                    .iter()
                    .map(|(k, v)| aws_sdk_elasticloadbalancingv2::types::Tag::builder().key(k).value(v).build());
                let r = elb.add_tags().resource_arns(id).set_tags(Some(tags.collect())).send().await;
                r.map_err(|e| from_sdk("AddTags", e))?;
            }
            if !unset.is_empty() {
                let r = elb.remove_tags().resource_arns(id).set_tag_keys(Some(unset.to_vec())).send().await;
                r.map_err(|e| from_sdk("RemoveTags", e))?;
            }
            Ok(())
        }
        Kind::DbInstance | Kind::DbSubnetGroup => {
            let rds = &cx.clients.rds;
            let arn = if kind == Kind::DbInstance {
                let out = rds.describe_db_instances().db_instance_identifier(id).send().await;
                let out = out.map_err(|e| from_sdk("DescribeDBInstances", e))?;
                out.db_instances().first().and_then(|d| d.db_instance_arn()).map(str::to_string)
            } else {
                let out = rds.describe_db_subnet_groups().db_subnet_group_name(id).send().await;
                let out = out.map_err(|e| from_sdk("DescribeDBSubnetGroups", e))?;
                out.db_subnet_groups().first().and_then(|d| d.db_subnet_group_arn()).map(str::to_string)
            };
            let Some(arn) = arn else { return Err(bad("AddTagsToResource", format!("no ARN for {id}"))) };
            if !set.is_empty() {
                let tags = set.iter().map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build());
                let r = rds.add_tags_to_resource().resource_name(&arn).set_tags(Some(tags.collect())).send().await;
                r.map_err(|e| from_sdk("AddTagsToResource", e))?;
            }
            if !unset.is_empty() {
                let r =
                    rds.remove_tags_from_resource().resource_name(&arn).set_tag_keys(Some(unset.to_vec())).send().await;
                r.map_err(|e| from_sdk("RemoveTagsFromResource", e))?;
            }
            Ok(())
        }
        Kind::FileSystem => {
            let efs = &cx.clients.efs;
            if !set.is_empty() {
                let mut tags = Vec::new();
                for (k, v) in set {
                    let t = aws_sdk_efs::types::Tag::builder().key(k).value(v).build();
                    tags.push(t.map_err(|e| bad("TagResource", e.to_string()))?);
                }
                let r = efs.tag_resource().resource_id(id).set_tags(Some(tags)).send().await;
                r.map_err(|e| from_sdk("TagResource", e))?;
            }
            if !unset.is_empty() {
                let r = efs.untag_resource().resource_id(id).set_tag_keys(Some(unset.to_vec())).send().await;
                r.map_err(|e| from_sdk("UntagResource", e))?;
            }
            Ok(())
        }
        Kind::Certificate => {
            if obj.attribute("imported") != Some("true") {
                return Ok(());
            }
            let acm = &cx.clients.acm;
            if !set.is_empty() {
                let mut tags = Vec::new();
                for (k, v) in set {
                    let t = aws_sdk_acm::types::Tag::builder().key(k).value(v).build();
                    tags.push(t.map_err(|e| bad("AddTagsToCertificate", e.to_string()))?);
                }
                let r = acm.add_tags_to_certificate().certificate_arn(id).set_tags(Some(tags)).send().await;
                r.map_err(|e| from_sdk("AddTagsToCertificate", e))?;
            }
            if !unset.is_empty() {
                let mut tags = Vec::new();
                for k in unset {
                    let t = aws_sdk_acm::types::Tag::builder().key(k).build();
                    tags.push(t.map_err(|e| bad("RemoveTagsFromCertificate", e.to_string()))?);
                }
                let r = acm.remove_tags_from_certificate().certificate_arn(id).set_tags(Some(tags)).send().await;
                r.map_err(|e| from_sdk("RemoveTagsFromCertificate", e))?;
            }
            Ok(())
        }
        Kind::InstanceRole => {
            let iam = &cx.clients.iam;
            let profile = obj.attribute("profile_name").unwrap_or(id);
            if !set.is_empty() {
                let mut tags = Vec::new();
                for (k, v) in set {
                    let t = aws_sdk_iam::types::Tag::builder().key(k).value(v).build();
                    tags.push(t.map_err(|e| bad("TagRole", e.to_string()))?);
                }
                let r = iam.tag_role().role_name(id).set_tags(Some(tags.clone())).send().await;
                r.map_err(|e| from_sdk("TagRole", e))?;
                let r = iam.tag_instance_profile().instance_profile_name(profile).set_tags(Some(tags)).send().await;
                r.map_err(|e| from_sdk("TagInstanceProfile", e))?;
            }
            if !unset.is_empty() {
                let r = iam.untag_role().role_name(id).set_tag_keys(Some(unset.to_vec())).send().await;
                r.map_err(|e| from_sdk("UntagRole", e))?;
                let r = iam
                    .untag_instance_profile()
                    .instance_profile_name(profile)
                    .set_tag_keys(Some(unset.to_vec()))
                    .send()
                    .await;
                r.map_err(|e| from_sdk("UntagInstanceProfile", e))?;
            }
            Ok(())
        }
        _ => {
            // EC2: every other kind; a group's rules are tagged rule by rule.
            let ids: Vec<String> = id.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect();
            if ids.is_empty() {
                return Ok(());
            }
            let ec2 = &cx.clients.ec2;
            if !set.is_empty() {
                let tags = set.iter().map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build());
                let r = ec2.create_tags().set_resources(Some(ids.clone())).set_tags(Some(tags.collect())).send().await;
                r.map_err(|e| from_sdk("CreateTags", e))?;
            }
            if !unset.is_empty() {
                let tags = unset.iter().map(|k| aws_sdk_ec2::types::Tag::builder().key(k).build());
                let r = ec2.delete_tags().set_resources(Some(ids)).set_tags(Some(tags.collect())).send().await;
                r.map_err(|e| from_sdk("DeleteTags", e))?;
            }
            Ok(())
        }
    }
}
