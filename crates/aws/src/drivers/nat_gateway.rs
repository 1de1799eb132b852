//! NAT gateway: CreateNatGateway with the run's client token (a retried or resumed create
//! returns the same gateway), then a wait until `available` (about 100 s on AWS, sometimes
//! ten minutes, sometimes `failed`). Delete waits until `deleted`, the state in which AWS
//! releases its Elastic IP.

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, NatGatewayState, ResourceType};
use strato_graph::Desired;
use strato_state::Object;

use super::{gone_ok, id, mismatch, Created, Cx, Driver, NAT_GONE, NAT_READY};
use crate::error::{from_sdk, AwsError, Class};
use crate::poll::Check;

pub struct NatGateway;

#[async_trait]
impl Driver for NatGateway {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, token: &str) -> Result<Created, AwsError> {
        let Desired::NatGateway { subnet, eip } = desired else {
            return Err(mismatch("CreateNatGateway"));
        };
        let subnet_id = cx.id_of(*subnet)?;
        let allocation_id = cx.id_of(*eip)?;
        // Right after the subnet is created, AWS may say it "does not exist" this way.
        let missing_subnet =
            |e: &AwsError| e.code_is(&["InvalidParameterValue"]) && e.message.contains("does not exist");
        let out = cx
            .retry_fresh_when(missing_subnet, || async {
                cx.clients
                    .ec2
                    .create_nat_gateway()
                    .subnet_id(subnet_id)
                    .allocation_id(allocation_id)
                    .client_token(token)
                    .tag_specifications(cx.tag_spec(ResourceType::Natgateway))
                    .send()
                    .await
                    .map_err(|e| from_sdk("CreateNatGateway", e))
            })
            .await?;
        let nat = out
            .nat_gateway()
            .ok_or_else(|| AwsError::new("CreateNatGateway", Class::Fatal, "the answer has no gateway"))?;
        let mut c = Created::new(nat.nat_gateway_id().unwrap_or_default())
            .with("subnet_id", subnet_id)
            .with("allocation_id", allocation_id);
        c.ready = nat.state() == Some(&NatGatewayState::Available);
        Ok(c)
    }

    async fn wait_ready(&self, cx: &Cx<'_>, obj: &Object) -> Result<super::Attributes, AwsError> {
        let nat_id = id(obj)?;
        cx.wait("the NAT gateway to be available", &NAT_READY, || async {
            let nat = describe(cx, nat_id).await?;
            match nat.as_ref().and_then(|n| n.state()) {
                Some(NatGatewayState::Available) => Ok(Check::Done(super::Attributes::new())),
                Some(NatGatewayState::Pending) => Ok(Check::Pending("pending".into())),
                Some(state) => {
                    let n = nat.as_ref().expect("state implies a gateway");
                    let why = format!(
                        "the NAT gateway is `{}`: {} {}",
                        state.as_str(),
                        n.failure_code().unwrap_or(""),
                        n.failure_message().unwrap_or("")
                    );
                    Err(AwsError {
                        call: "CreateNatGateway".into(),
                        code: n.failure_code().map(str::to_string),
                        message: why,
                        class: Class::Fatal,
                    })
                }
                None => Ok(Check::Pending("not visible yet".into())),
            }
        })
        .await
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let nat = describe(cx, id(obj)?).await?;
        Ok(matches!(nat.and_then(|n| n.state().cloned()), Some(NatGatewayState::Available | NatGatewayState::Pending)))
    }

    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        let mut filters = cx.tag_filters();
        filters.push(Filter::builder().name("state").values("pending").values("available").build());
        let out = cx
            .clients
            .ec2
            .describe_nat_gateways()
            .set_filter(Some(filters))
            .send()
            .await
            .map_err(|e| from_sdk("DescribeNatGateways", e))?;
        // Checked here too: some emulators ignore tag filters on this call.
        let ours = |n: &&aws_sdk_ec2::types::NatGateway| cx.is_this(&super::ec2_pairs(n.tags()));
        Ok(out.nat_gateways().iter().find(ours).map(|n| {
            let allocation = n.nat_gateway_addresses().first().and_then(|a| a.allocation_id()).unwrap_or_default();
            Created::new(n.nat_gateway_id().unwrap_or_default())
                .with("subnet_id", n.subnet_id().unwrap_or_default())
                .with("allocation_id", allocation)
        }))
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        gone_ok(
            cx.clients
                .ec2
                .delete_nat_gateway()
                .nat_gateway_id(id(obj)?)
                .send()
                .await
                .map_err(|e| from_sdk("DeleteNatGateway", e)),
        )
    }

    async fn wait_gone(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let nat_id = id(obj)?;
        cx.wait("the NAT gateway to be deleted", &NAT_GONE, || async {
            let nat = describe(cx, nat_id).await?;
            Ok(match nat.and_then(|n| n.state().cloned()) {
                None | Some(NatGatewayState::Deleted) => Check::Done(()),
                Some(state) => Check::Pending(state.as_str().to_string()),
            })
        })
        .await
    }
}

/// The gateway, or `None` when EC2 does not list it. By the `nat-gateway-id` filter, which
/// leaves out an id EC2 does not know (yet, or any more) where `NatGatewayIds` would fail
/// the whole call ("DescribeNatGateways", Amazon EC2 API Reference); a deleted gateway is
/// listed as `deleted` for about an hour.
async fn describe(cx: &Cx<'_>, nat_id: &str) -> Result<Option<aws_sdk_ec2::types::NatGateway>, AwsError> {
    let ec2 = cx.clients.ec2.clone();
    cx.run
        .nat_gateways
        .get(nat_id, "DescribeNatGateways", move |ids| {
            let ec2 = ec2.clone();
            async move {
                let mut found = Vec::new();
                let mut next: Option<String> = None;
                loop {
                    let filter = Filter::builder().name("nat-gateway-id").set_values(Some(ids.clone())).build();
                    let out = ec2
                        .describe_nat_gateways()
                        .filter(filter)
                        .set_next_token(next.take())
                        .send()
                        .await
                        .map_err(|e| from_sdk("DescribeNatGateways", e))?;
                    for n in out.nat_gateways() {
                        if let Some(id) = n.nat_gateway_id() {
                            found.push((id.to_string(), n.clone()));
                        }
                    }
                    match out.next_token() {
                        Some(t) if !t.is_empty() => next = Some(t.to_string()),
                        _ => return Ok(found),
                    }
                }
            }
        })
        .await
}
