//! Listener rule: CreateRule matching host headers (and paths), forwarding to a target group.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, HostHeaderConditionConfig, PathPatternConditionConfig, RuleCondition,
};
use strato_graph::Desired;
use strato_state::Object;

use super::load_balancer::elb_tags;
use super::{exists_from, gone_ok, id, mismatch, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError};

pub struct ListenerRule;

#[async_trait]
impl Driver for ListenerRule {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::ListenerRule { listener, priority, hosts, paths, forward } = desired else {
            return Err(mismatch("CreateRule"));
        };
        let listener_arn = cx.id_of(*listener)?;
        let mut conditions = Vec::new();
        if !hosts.is_empty() {
            let config = HostHeaderConditionConfig::builder().set_values(Some(hosts.clone())).build();
            conditions.push(RuleCondition::builder().field("host-header").host_header_config(config).build());
        }
        if !paths.is_empty() {
            let config = PathPatternConditionConfig::builder().set_values(Some(paths.clone())).build();
            conditions.push(RuleCondition::builder().field("path-pattern").path_pattern_config(config).build());
        }
        let action = Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(cx.id_of(*forward)?).build();
        let out = cx
            .clients
            .elb
            .create_rule()
            .listener_arn(listener_arn)
            .priority(*priority as i32)
            .set_conditions(Some(conditions))
            .actions(action)
            .set_tags(Some(elb_tags(cx)))
            .send()
            .await
            .map_err(|e| from_sdk("CreateRule", e))?;
        let arn = out.rules().first().and_then(|r| r.rule_arn()).unwrap_or_default();
        let mut c = Created::new(arn).with("listener_arn", listener_arn);
        c.ready = true;
        Ok(c)
    }

    async fn find(&self, cx: &Cx<'_>, obj: &Object) -> Result<Option<Created>, AwsError> {
        let (Some(listener_arn), Some(priority)) = (cx.dependency_id(obj, "load_balancer."), cx.address_key()) else {
            return Ok(None);
        };
        let out = cx.clients.elb.describe_rules().listener_arn(listener_arn).send().await;
        let Some(out) = super::found(out.map_err(|e| from_sdk("DescribeRules", e)))? else { return Ok(None) };
        Ok(out
            .rules()
            .iter()
            .find(|r| r.priority() == Some(priority))
            .map(|r| Created::new(r.rule_arn().unwrap_or_default()).with("listener_arn", listener_arn)))
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let r = cx.clients.elb.describe_rules().rule_arns(id(obj)?).send().await;
        exists_from(r.map_err(|e| from_sdk("DescribeRules", e)), |o| !o.rules().is_empty())
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let r = cx.clients.elb.delete_rule().rule_arn(id(obj)?).send().await;
        gone_ok(r.map_err(|e| from_sdk("DeleteRule", e)))
    }
}
