//! IAM role for instances, with its instance profile of the same name and one inline
//! policy (`strato`) that grants exactly what the spec lists: `secretsmanager:GetSecretValue`
//! on the named databases' master-user secrets, `ssm:GetParameter` on the deployment's CSR
//! challenge parameter. Nothing else: no managed policy, no wildcard resource.
//!
//! Both secrets and parameter are encrypted with AWS managed keys (`aws/secretsmanager`,
//! `aws/ssm`), whose key policies let any principal of the account that may call the
//! service decrypt through it, so no `kms:Decrypt` is granted (AWS KMS developer guide,
//! "AWS managed keys"; Secrets Manager "Authentication and access control").
//!
//! IAM names are global to the account: the name carries the region (see the spec's
//! instance roles). IAM is eventually consistent; EC2 may refuse a fresh profile for a few
//! seconds, which the instance driver retries.

use async_trait::async_trait;
use strato_graph::Desired;
use strato_state::Object;

use super::{gone_ok, id, mismatch, Attributes, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError, Class};

pub struct InstanceRole;

/// The path of every role and profile strato makes: `aws iam list-roles --path-prefix
/// /strato/` lists them.
const PATH: &str = "/strato/";
const POLICY: &str = "strato";

/// The trust policy: EC2 instances may assume the role. The service principal's DNS
/// suffix follows the partition (`ec2.amazonaws.com.cn` in China, as TF's
/// `aws_partition.dns_suffix` gives it).
pub fn trust_policy(partition: &str) -> String {
    let suffix = if partition == "aws-cn" { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"ec2.{suffix}"}},"Action":"sts:AssumeRole"}}]}}"#
    )
}

/// The inline policy: exactly the secrets and the parameter given; `None` when the role may
/// read nothing.
pub fn role_policy(secrets: &[String], parameter: Option<&str>) -> Option<String> {
    let quoted = |v: &[String]| v.iter().map(|s| format!("\"{}\"", json_escape(s))).collect::<Vec<_>>().join(",");
    let mut statements = Vec::new();
    if !secrets.is_empty() {
        statements.push(format!(
            r#"{{"Sid":"ReadDatabaseSecrets","Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":[{}]}}"#,
            quoted(secrets)
        ));
    }
    if let Some(p) = parameter {
        statements.push(format!(
            r#"{{"Sid":"ReadCsrChallenge","Effect":"Allow","Action":"ssm:GetParameter","Resource":"{}"}}"#,
            json_escape(p)
        ));
    }
    (!statements.is_empty()).then(|| format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(",")))
}

fn json_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn iam_tags(cx: &Cx<'_>) -> Result<Vec<aws_sdk_iam::types::Tag>, AwsError> {
    cx.tag_pairs()
        .into_iter()
        .map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::new("CreateRole", Class::Fatal, e.to_string()))
        })
        .collect()
}

fn pairs(tags: &[aws_sdk_iam::types::Tag]) -> Vec<(String, String)> {
    tags.iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
}

/// The role's tags, if it exists.
async fn role_tags(cx: &Cx<'_>, name: &str) -> Result<Option<Vec<(String, String)>>, AwsError> {
    let r = cx.clients.iam.get_role().role_name(name).send().await.map_err(|e| from_sdk("GetRole", e));
    Ok(super::found(r)?.map(|o| o.role().map(|r| pairs(r.tags())).unwrap_or_default()))
}

/// The profile's tags and roles, if it exists.
async fn profile(cx: &Cx<'_>, name: &str) -> Result<Option<(Vec<(String, String)>, Vec<String>, String)>, AwsError> {
    let r = cx
        .clients
        .iam
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
        .map_err(|e| from_sdk("GetInstanceProfile", e));
    Ok(super::found(r)?.and_then(|o| {
        let p = o.instance_profile()?;
        let roles = p.roles().iter().map(|r| r.role_name().to_string()).collect();
        Some((pairs(p.tags()), roles, p.arn().to_string()))
    }))
}

/// The ARN of the deployment's CSR challenge parameter.
pub fn challenge_arn(partition: &str, region: &str, account: &str, deployment: &str) -> String {
    format!("arn:{partition}:ssm:{region}:{account}:parameter{}", crate::provision::challenge_parameter(deployment))
}

/// Everything after `CreateRole`, each step idempotent: the inline policy (overwritten),
/// the instance profile (adopted when this object's), the role in the profile. A run
/// stopped between these calls leaves a role without them; the next run finishes the job.
async fn converge(cx: &Cx<'_>, desired: &Desired) -> Result<Created, AwsError> {
    let Desired::InstanceRole { name, secrets, csr_challenge } = desired else {
        return Err(mismatch("PutRolePolicy"));
    };
    let mut secret_arns = Vec::new();
    for db in secrets {
        let arn = cx.attribute_of(*db, "master_secret_arn").ok_or_else(|| {
            let msg = "a database this role reads has no recorded master-user secret (is its password managed by RDS?)";
            AwsError::new("PutRolePolicy", Class::Fatal, msg)
        })?;
        secret_arns.push(arn);
    }
    let parameter = if *csr_challenge {
        let account = &cx.run.account;
        if account.id.is_empty() {
            let msg = "the account id is unknown, so the CSR challenge parameter's ARN is too";
            return Err(AwsError::new("PutRolePolicy", Class::Fatal, msg));
        }
        Some(challenge_arn(&account.partition, &cx.clients.region, &account.id, cx.deployment))
    } else {
        None
    };
    if let Some(policy) = role_policy(&secret_arns, parameter.as_deref()) {
        cx.clients
            .iam
            .put_role_policy()
            .role_name(name)
            .policy_name(POLICY)
            .policy_document(policy)
            .send()
            .await
            .map_err(|e| from_sdk("PutRolePolicy", e))?;
    }
    let created = cx
        .clients
        .iam
        .create_instance_profile()
        .instance_profile_name(name)
        .path(PATH)
        .set_tags(Some(iam_tags(cx)?))
        .send()
        .await
        .map_err(|e| from_sdk("CreateInstanceProfile", e));
    // A profile this call made is this object's and holds no role yet; one that was there
    // already is read: adopted only when it is this one, and its role added if missing.
    let made = match created {
        Ok(out) => out.instance_profile().map(|p| p.arn().to_string()),
        Err(e) if e.is(Class::AlreadyExists) => None,
        Err(e) => return Err(e),
    };
    let (arn, roles) = match made {
        Some(arn) => (arn, Vec::new()),
        None => {
            let (tags, roles, arn) = profile(cx, name).await?.unwrap_or_default();
            if !cx.is_this(&tags) {
                return Err(cx.foreign("CreateInstanceProfile", "instance profile", &tags));
            }
            (arn, roles)
        }
    };
    if !roles.iter().any(|r| r == name) {
        cx.clients
            .iam
            .add_role_to_instance_profile()
            .instance_profile_name(name)
            .role_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("AddRoleToInstanceProfile", e))?;
    }
    let mut c = Created::new(name.as_str()).with("profile_name", name.as_str()).with("profile_arn", arn);
    c.attributes.insert("name".into(), name.clone());
    c.ready = true;
    Ok(c)
}

#[async_trait]
impl Driver for InstanceRole {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::InstanceRole { name, .. } = desired else {
            return Err(mismatch("CreateRole"));
        };
        let created = cx
            .clients
            .iam
            .create_role()
            .role_name(name)
            .path(PATH)
            .assume_role_policy_document(trust_policy(&cx.run.account.partition))
            .description(format!("Instances of strato deployment {} ({})", cx.deployment, cx.address))
            .set_tags(Some(iam_tags(cx)?))
            .send()
            .await
            .map_err(|e| from_sdk("CreateRole", e));
        match created {
            Ok(_) => {}
            // Names are unique per account: adopted only when it is this one.
            Err(e) if e.is(Class::AlreadyExists) => {
                let tags = role_tags(cx, name).await?.unwrap_or_default();
                if !cx.is_this(&tags) {
                    return Err(cx.foreign("CreateRole", "IAM role", &tags));
                }
            }
            Err(e) => return Err(e),
        }
        converge(cx, desired).await
    }

    /// A role found after an interruption may lack its policy or profile: finished here,
    /// from the spec, when there is one (a provision); a destroy deletes what there is.
    async fn wait_ready(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Attributes, AwsError> {
        let desired = cx.graph.and_then(|g| g.find(cx.address)).and_then(|n| cx.graph?.node(n).desired.as_ref());
        match desired {
            Some(d) => Ok(converge(cx, d).await?.attributes),
            None => Ok(Attributes::new()),
        }
    }

    /// The inline policy is rewritten (`PutRolePolicy` replaces it whole), with the rest
    /// of [`converge`]: each step idempotent.
    async fn update(
        &self,
        cx: &Cx<'_>,
        _obj: &Object,
        desired: &Desired,
        _changes: &[strato_graph::plan::Change],
    ) -> Result<super::Updated, AwsError> {
        let c = converge(cx, desired).await?;
        Ok(super::Updated { id: None, attributes: c.attributes })
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let name = id(obj)?;
        Ok(profile(cx, name).await?.is_some_and(|(_, roles, _)| roles.iter().any(|r| r == name)))
    }

    /// The role, if it is this object's, whatever an interrupted run left of the rest.
    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        let name = cx.name();
        let Some(tags) = role_tags(cx, &name).await? else { return Ok(None) };
        if !cx.is_this(&tags) {
            return Ok(None);
        }
        Ok(Some(Created::new(name.as_str()).with("profile_name", name.as_str())))
    }

    /// The profile first (after taking the role out of it), then the role's inline
    /// policies, then the role: IAM refuses to delete a role still in a profile or with
    /// policies (`DeleteConflict`; IAM API reference, DeleteRole).
    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let name = id(obj)?;
        if let Some((_, roles, _)) = profile(cx, name).await? {
            for role in roles {
                let r = cx
                    .clients
                    .iam
                    .remove_role_from_instance_profile()
                    .instance_profile_name(name)
                    .role_name(role)
                    .send()
                    .await;
                gone_ok(r.map_err(|e| from_sdk("RemoveRoleFromInstanceProfile", e)))?;
            }
            let r = cx.clients.iam.delete_instance_profile().instance_profile_name(name).send().await;
            gone_ok(r.map_err(|e| from_sdk("DeleteInstanceProfile", e)))?;
        }
        let r = cx.clients.iam.list_role_policies().role_name(name).send().await;
        let Some(policies) = super::found(r.map_err(|e| from_sdk("ListRolePolicies", e)))? else { return Ok(()) };
        for policy in policies.policy_names() {
            let r = cx.clients.iam.delete_role_policy().role_name(name).policy_name(policy).send().await;
            gone_ok(r.map_err(|e| from_sdk("DeleteRolePolicy", e)))?;
        }
        let r = cx.clients.iam.delete_role().role_name(name).send().await;
        gone_ok(r.map_err(|e| from_sdk("DeleteRole", e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_grants_exactly_the_secrets_and_the_parameter() {
        let secrets = vec!["arn:aws:secretsmanager:us-east-1:1:secret:a".to_string()];
        let p = role_policy(&secrets, Some("arn:aws:ssm:us-east-1:1:parameter/strato/d/csr-challenge")).unwrap();
        assert_eq!(
            p,
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"ReadDatabaseSecrets","Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":["arn:aws:secretsmanager:us-east-1:1:secret:a"]},{"Sid":"ReadCsrChallenge","Effect":"Allow","Action":"ssm:GetParameter","Resource":"arn:aws:ssm:us-east-1:1:parameter/strato/d/csr-challenge"}]}"#
        );
        assert_eq!(role_policy(&[], None), None);
        assert!(trust_policy("aws-cn").contains("ec2.amazonaws.com.cn"));
        assert_eq!(
            challenge_arn("aws", "eu-west-1", "123456789012", "wso2"),
            "arn:aws:ssm:eu-west-1:123456789012:parameter/strato/wso2/csr-challenge"
        );
    }
}
