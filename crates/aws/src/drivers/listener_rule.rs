//! Listener rule: CreateRule matching host headers (and paths), forwarding to a target group.
//!
//! CreateRule has no idempotency token: a repeated call answers `PriorityInUse`. An
//! unanswered create looks for a rule at its priority that forwards to its target group
//! before it is sent again, and so does a `PriorityInUse` answer (a rule an interrupted run
//! created); a rule there that forwards elsewhere is an error that names it.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, HostHeaderConditionConfig, PathPatternConditionConfig, RuleCondition,
};
use strato_graph::{Desired, Kind, Part};
use strato_state::Object;

use super::load_balancer::elb_tags;
use super::{elb_once, exists_from, gone_ok, id, mismatch, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError, Class};

pub struct ListenerRule;

#[async_trait]
impl Driver for ListenerRule {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::ListenerRule { listener, priority, hosts, paths, forward } = desired else {
            return Err(mismatch("CreateRule"));
        };
        let listener_arn = cx.id_of(*listener)?;
        let tg_arn = cx.id_of(*forward)?;
        let conditions = conditions(hosts, paths);
        let action = Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(tg_arn).build();
        let key = priority.to_string();
        let create = || async {
            let out = cx
                .clients
                .elb
                .create_rule()
                .listener_arn(listener_arn)
                .priority(*priority as i32)
                .set_conditions(Some(conditions.clone()))
                .actions(action.clone())
                .set_tags(Some(elb_tags(cx)))
                .customize()
                .config_override(elb_once())
                .send()
                .await
                .map_err(|e| from_sdk("CreateRule", e))?;
            let arn = out.rules().first().and_then(|r| r.rule_arn()).unwrap_or_default();
            Ok(Created::new(arn).with("listener_arn", listener_arn))
        };
        let ours = || async {
            Ok(match rule_at(cx, listener_arn, &key).await? {
                Some((arn, forwards)) if forwards.iter().any(|t| t == tg_arn) => {
                    Some(Created::new(arn).with("listener_arn", listener_arn))
                }
                _ => None,
            })
        };
        let result = super::create_untokened(cx, create, ours).await;
        let mut c = match result {
            Err(e) if e.code_is(&["PriorityInUse"]) => match ours().await? {
                Some(c) => c,
                None => {
                    let holder = rule_at(cx, listener_arn, &key).await?.map(|(arn, _)| arn).unwrap_or_default();
                    let msg = format!(
                        "priority {priority} of listener {listener_arn} is taken by rule {holder}, which forwards elsewhere"
                    );
                    return Err(AwsError::new("CreateRule", Class::AlreadyExists, msg));
                }
            },
            other => other?,
        };
        c.ready = true;
        Ok(c)
    }

    /// `ModifyRule`: the rule's conditions and target group, in place (its priority is its
    /// address: another priority is another rule).
    async fn update(
        &self,
        cx: &Cx<'_>,
        obj: &Object,
        desired: &Desired,
        _changes: &[strato_graph::plan::Change],
    ) -> Result<super::Updated, AwsError> {
        let Desired::ListenerRule { hosts, paths, forward, .. } = desired else { return Err(mismatch("ModifyRule")) };
        let action = Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(cx.id_of(*forward)?).build();
        cx.clients
            .elb
            .modify_rule()
            .rule_arn(id(obj)?)
            .set_conditions(Some(conditions(hosts, paths)))
            .actions(action)
            .send()
            .await
            .map_err(|e| from_sdk("ModifyRule", e))?;
        Ok(super::Updated::default())
    }

    async fn find(&self, cx: &Cx<'_>, obj: &Object) -> Result<Option<Created>, AwsError> {
        let (Some(listener_arn), Some(Part::Rule { priority, .. })) =
            (cx.dependency_id(obj, Kind::Listener), cx.part())
        else {
            return Ok(None);
        };
        Ok(rule_at(cx, listener_arn, &priority.to_string())
            .await?
            .map(|(arn, _)| Created::new(arn).with("listener_arn", listener_arn)))
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

/// The rule at `priority` of a listener: its ARN and the target groups it forwards to.
async fn rule_at(cx: &Cx<'_>, listener_arn: &str, priority: &str) -> Result<Option<(String, Vec<String>)>, AwsError> {
    let out = cx.clients.elb.describe_rules().listener_arn(listener_arn).send().await;
    let Some(out) = super::found(out.map_err(|e| from_sdk("DescribeRules", e)))? else { return Ok(None) };
    Ok(out.rules().iter().find(|r| r.priority() == Some(priority)).map(|r| {
        let forwards =
            r.actions()
                .iter()
                .flat_map(|a| {
                    a.target_group_arn().into_iter().map(str::to_string).chain(a.forward_config().into_iter().flat_map(
                        |f| f.target_groups().iter().filter_map(|t| t.target_group_arn().map(str::to_string)),
                    ))
                })
                .collect();
        (r.rule_arn().unwrap_or_default().to_string(), forwards)
    }))
}

/// A rule's conditions: its hosts and its paths.
fn conditions(hosts: &[String], paths: &[String]) -> Vec<RuleCondition> {
    let mut conditions = Vec::new();
    if !hosts.is_empty() {
        let config = HostHeaderConditionConfig::builder().set_values(Some(hosts.to_vec())).build();
        conditions.push(RuleCondition::builder().field("host-header").host_header_config(config).build());
    }
    if !paths.is_empty() {
        let config = PathPatternConditionConfig::builder().set_values(Some(paths.to_vec())).build();
        conditions.push(RuleCondition::builder().field("path-pattern").path_pattern_config(config).build());
    }
    conditions
}
