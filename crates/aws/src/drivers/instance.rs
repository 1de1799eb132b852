//! EC2 instance: RunInstances with the run's client token, the image resolved from its SSM
//! parameter (once per run), IMDSv2 required, an encrypted root volume, a fixed private IP
//! and a public IP only where the spec says, and user data rendered from its template with
//! every reference resolved. Ready when `running`; its addresses are recorded then.

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, Filter, HttpTokensState, IamInstanceProfileSpecification,
    InstanceMetadataEndpointState, InstanceMetadataOptionsRequest, InstanceNetworkInterfaceSpecification,
    InstanceStateName, ResourceType, Tag, TagSpecification, VolumeType,
};
use strato_graph::{Desired, Image};
use strato_state::Object;

use strato_graph::plan::{Change, Live};

use super::{id, mismatch, Attributes, Created, Cx, Driver, Updated, SLOW};
use crate::error::{from_sdk, AwsError, Class};
use crate::poll::Check;

pub struct Instance;

const DEFAULT_ROOT_GB: i32 = 20;

/// How long IAM may take to make a new instance profile usable by EC2 (TF
/// `iamPropagationTimeout`, internal/service/iam/wait.go).
const IAM_PROPAGATION: std::time::Duration = std::time::Duration::from_secs(2 * 60);

#[async_trait]
impl Driver for Instance {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, token: &str) -> Result<Created, AwsError> {
        let Desired::Instance(spec) = desired else { return Err(mismatch("RunInstances")) };
        let image_id = image(cx, &spec.image).await?;
        let subnet_id = cx.id_of(spec.subnet)?;
        let groups: Vec<String> = cx.ids_of(&spec.security_groups)?;
        let user_data = match &spec.user_data {
            Some(ud) => {
                let text = ud.render(|n, attr| cx.attribute_of(n, attr)).map_err(|r| {
                    AwsError::new("render user data", Class::Fatal, format!("`${{{r}}}` has no recorded value"))
                })?;
                if text.len() > 16 * 1024 {
                    let msg = format!("the rendered user data is {} bytes; EC2 takes at most 16 KiB", text.len());
                    return Err(AwsError::new("render user data", Class::InvalidInput, msg));
                }
                Some(base64(text.as_bytes()))
            }
            None => None,
        };
        let mut tags = cx.tag_list();
        tags.extend(spec.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()));
        let tag_spec =
            |r: ResourceType| TagSpecification::builder().resource_type(r).set_tags(Some(tags.clone())).build();
        let root = EbsBlockDevice::builder()
            .volume_size(spec.root_size_gb.map_or(DEFAULT_ROOT_GB, |s| s as i32))
            .volume_type(VolumeType::from(spec.root_volume_type.as_str()))
            .encrypted(spec.root_encrypted)
            .delete_on_termination(true)
            .build();
        let metadata = InstanceMetadataOptionsRequest::builder()
            .http_tokens(HttpTokensState::Required)
            .http_endpoint(InstanceMetadataEndpointState::Enabled)
            .http_put_response_hop_limit(1)
            .build();
        let key_name = match spec.key_pair {
            Some(k) => cx.attribute_of(k, "name"),
            None => None,
        };
        let profile = spec.role.and_then(|r| cx.attribute_of(r, "profile_name"));
        // EC2 sees a fresh instance profile late: `RunInstances` answers
        // `InvalidParameterValue: ... Invalid IAM Instance Profile name` for seconds after
        // IAM created it (IAM eventual consistency, "Troubleshoot IAM roles for Amazon
        // EC2"). Retried for IAM's propagation window, as TF does (internal/service/ec2/
        // ec2_instance.go retries that code and text for `iamPropagationTimeout`, 2 min),
        // and only while the profile is fresh.
        let profile_fresh = spec.role.and_then(|r| cx.created_at_of(r)).is_some_and(|t| {
            strato_state::now().saturating_sub(t) as f64 <= cx.scaled(IAM_PROPAGATION).as_secs_f64().max(1.0)
        });
        let profile_lag = |e: &AwsError| {
            profile_fresh && e.code_is(&["InvalidParameterValue"]) && e.message.contains("Invalid IAM Instance Profile")
        };
        cx.until_visible(std::slice::from_ref(&subnet_id.to_string()), &groups).await?;
        let out = cx
            .retry_refused(IAM_PROPAGATION, profile_lag, || {
                cx.retry_fresh(|| async {
                    let mut call = cx
                        .clients
                        .ec2
                        .run_instances()
                        .image_id(&image_id)
                        .instance_type(aws_sdk_ec2::types::InstanceType::from(spec.instance_type.as_str()))
                        .min_count(1)
                        .max_count(1)
                        .client_token(token)
                        .metadata_options(metadata.clone())
                        .block_device_mappings(
                            BlockDeviceMapping::builder().device_name("/dev/xvda").ebs(root.clone()).build(),
                        )
                        .tag_specifications(tag_spec(ResourceType::Instance))
                        .tag_specifications(tag_spec(ResourceType::Volume))
                        .set_key_name(key_name.clone())
                        .set_iam_instance_profile(
                            profile.as_ref().map(|p| IamInstanceProfileSpecification::builder().name(p).build()),
                        )
                        .set_user_data(user_data.clone());
                    // The network interface decides the public IP, explicitly either way.
                    let nic = InstanceNetworkInterfaceSpecification::builder()
                        .device_index(0)
                        .subnet_id(subnet_id)
                        .associate_public_ip_address(spec.public_ip)
                        .set_groups(Some(groups.clone()))
                        .set_private_ip_address(spec.private_ip.map(|ip| ip.to_string()))
                        .delete_on_termination(true)
                        .build();
                    call = call.network_interfaces(nic);
                    call.send().await.map_err(|e| from_sdk("RunInstances", e))
                })
            })
            .await?;
        let i = out
            .instances()
            .first()
            .ok_or_else(|| AwsError::new("RunInstances", Class::Fatal, "no instance in the answer"))?;
        let mut c = Created::new(i.instance_id().unwrap_or_default()).with("image_id", image_id.as_str());
        c.attributes.extend(addresses(i));
        c.ready = i.state().and_then(|s| s.name()) == Some(&InstanceStateName::Running);
        Ok(c)
    }

    async fn wait_ready(&self, cx: &Cx<'_>, obj: &Object) -> Result<Attributes, AwsError> {
        let instance_id = id(obj)?;
        cx.wait("the instance to be running", &SLOW, || async {
            let Some(i) = describe(cx, instance_id).await? else {
                return Ok(Check::Pending("not visible yet".into()));
            };
            match i.state().and_then(|s| s.name()) {
                Some(InstanceStateName::Running) => Ok(Check::Done(addresses(&i))),
                Some(InstanceStateName::Pending) | None => Ok(Check::Pending("pending".into())),
                Some(other) => {
                    let why = i.state_reason().and_then(|r| r.message()).unwrap_or("");
                    let msg = format!("instance {instance_id} is `{}` {why}", other.as_str());
                    Err(AwsError::new("RunInstances", Class::Fatal, msg))
                }
            }
        })
        .await
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let i = describe(cx, id(obj)?).await?;
        Ok(matches!(
            i.and_then(|i| i.state().and_then(|s| s.name().cloned())),
            Some(
                InstanceStateName::Running
                    | InstanceStateName::Pending
                    | InstanceStateName::Stopped
                    | InstanceStateName::Stopping
            )
        ))
    }

    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        let mut filters = cx.tag_filters();
        filters.push(Filter::builder().name("instance-state-name").values("pending").values("running").build());
        let out = cx
            .clients
            .ec2
            .describe_instances()
            .set_filters(Some(filters))
            .send()
            .await
            .map_err(|e| from_sdk("DescribeInstances", e))?;
        Ok(out.reservations().iter().flat_map(|r| r.instances()).next().map(|i| {
            let mut c = Created::new(i.instance_id().unwrap_or_default());
            c.attributes.extend(addresses(i));
            c
        }))
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let r = cx.clients.ec2.terminate_instances().instance_ids(id(obj)?).send().await;
        super::gone_ok(r.map_err(|e| from_sdk("TerminateInstances", e)))
    }

    async fn wait_gone(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let instance_id = id(obj)?;
        cx.wait("the instance to be terminated", &SLOW, || async {
            let state = describe(cx, instance_id).await?.and_then(|i| i.state().and_then(|s| s.name().cloned()));
            Ok(match state {
                None | Some(InstanceStateName::Terminated) => Check::Done(()),
                Some(s) => Check::Pending(s.as_str().to_string()),
            })
        })
        .await
    }

    async fn read(&self, cx: &Cx<'_>, obj: &Object) -> Result<Live, AwsError> {
        let Some(i) = describe(cx, id(obj)?).await? else { return Ok(Live::default()) };
        let state = i.state().and_then(|s| s.name()).cloned();
        let exists = !matches!(state, Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown) | None);
        let mut inputs = strato_graph::change::Inputs::new();
        if let Some(t) = i.instance_type() {
            inputs.insert("instance_type".into(), t.as_str().to_string());
        }
        // The groups of the primary interface, which are the instance's (AWS lists them in
        // both places; some emulators only on the interface).
        let primary = i
            .network_interfaces()
            .iter()
            .find(|n| n.attachment().and_then(|a| a.device_index()) == Some(0))
            .or_else(|| i.network_interfaces().first());
        let live_groups: Vec<&str> = match primary {
            Some(n) => n.groups().iter().filter_map(|g| g.group_id()).collect(),
            None => i.security_groups().iter().filter_map(|g| g.group_id()).collect(),
        };
        let groups: Option<Vec<String>> = live_groups.iter().map(|id| cx.address_of_id(id)).collect();
        if let Some(mut groups) = groups {
            groups.sort();
            inputs.insert("security_groups".into(), groups.join(","));
        }
        inputs.extend(super::spec_tags(&super::ec2_pairs(i.tags())));
        let transition = match state {
            Some(InstanceStateName::Running) => None,
            Some(s) => Some(s.as_str().to_string()),
            None => None,
        };
        Ok(Live { exists, inputs, transition, sets: vec!["tag:"] })
    }

    /// The type with the instance stopped (`ModifyInstanceAttribute` refuses it on a
    /// running instance: "Change the instance type", Amazon EC2 User Guide), started again
    /// and waited for; the security groups live.
    async fn update(
        &self,
        cx: &Cx<'_>,
        obj: &Object,
        desired: &Desired,
        changes: &[Change],
    ) -> Result<Updated, AwsError> {
        let Desired::Instance(spec) = desired else { return Err(mismatch("ModifyInstanceAttribute")) };
        let instance_id = id(obj)?;
        let ec2 = &cx.clients.ec2;
        let mut learnt = Attributes::new();
        if changes.iter().any(|c| c.attribute == "security_groups") {
            let groups = cx.ids_of(&spec.security_groups)?;
            let r = ec2.modify_instance_attribute().instance_id(instance_id).set_groups(Some(groups)).send().await;
            r.map_err(|e| from_sdk("ModifyInstanceAttribute", e))?;
        }
        if changes.iter().any(|c| c.attribute == "instance_type") {
            cx.status("stopping to change its type");
            let r = ec2.stop_instances().instance_ids(instance_id).send().await;
            r.map_err(|e| from_sdk("StopInstances", e))?;
            self.until_state(cx, instance_id, InstanceStateName::Stopped, "stopped").await?;
            cx.status(&format!("changing its type to {}", spec.instance_type));
            let r = ec2
                .modify_instance_attribute()
                .instance_id(instance_id)
                .instance_type(aws_sdk_ec2::types::AttributeValue::builder().value(&spec.instance_type).build())
                .send()
                .await;
            r.map_err(|e| from_sdk("ModifyInstanceAttribute", e))?;
            cx.status("starting");
            let r = ec2.start_instances().instance_ids(instance_id).send().await;
            r.map_err(|e| from_sdk("StartInstances", e))?;
            learnt = self.wait_ready(cx, obj).await?;
        }
        Ok(Updated { attributes: learnt, ..Updated::default() })
    }
}

impl Instance {
    /// Waits until the instance is in `target`; any state other than the way there fails.
    async fn until_state(
        &self,
        cx: &Cx<'_>,
        instance_id: &str,
        target: InstanceStateName,
        what: &str,
    ) -> Result<(), AwsError> {
        cx.wait(&format!("the instance to be {what}"), &SLOW, || async {
            let state = describe(cx, instance_id).await?.and_then(|i| i.state().and_then(|s| s.name().cloned()));
            match state {
                Some(s) if s == target => Ok(Check::Done(())),
                Some(InstanceStateName::Terminated | InstanceStateName::ShuttingDown) | None => {
                    Err(AwsError::new("StopInstances", Class::Fatal, format!("instance {instance_id} is gone")))
                }
                Some(s) => Ok(Check::Pending(s.as_str().to_string())),
            }
        })
        .await
    }
}

fn addresses(i: &aws_sdk_ec2::types::Instance) -> Attributes {
    let mut a = Attributes::new();
    a.extend(i.private_ip_address().map(|v| ("private_ip".to_string(), v.to_string())));
    a.extend(i.public_ip_address().map(|v| ("public_ip".to_string(), v.to_string())));
    a.extend(i.private_dns_name().filter(|v| !v.is_empty()).map(|v| ("private_dns".to_string(), v.to_string())));
    a
}

/// The instance, or `None` when EC2 does not list it (yet, or any more). By the
/// `instance-id` filter, not `InstanceIds`: with ids, one id EC2 does not know yet (a launch
/// is eventually consistent) fails the whole call with `InvalidInstanceID.NotFound`, while a
/// filter only leaves it out ("DescribeInstances", Amazon EC2 API Reference).
async fn describe(cx: &Cx<'_>, instance_id: &str) -> Result<Option<aws_sdk_ec2::types::Instance>, AwsError> {
    let ec2 = cx.clients.ec2.clone();
    cx.run
        .instances
        .get(instance_id, "DescribeInstances", move |ids| {
            let ec2 = ec2.clone();
            async move {
                let mut found = Vec::new();
                let mut next: Option<String> = None;
                loop {
                    let filter = Filter::builder().name("instance-id").set_values(Some(ids.clone())).build();
                    let out = ec2
                        .describe_instances()
                        .filters(filter)
                        .set_next_token(next.take())
                        .send()
                        .await
                        .map_err(|e| from_sdk("DescribeInstances", e))?;
                    for i in out.reservations().iter().flat_map(|r| r.instances()) {
                        if let Some(id) = i.instance_id() {
                            found.push((id.to_string(), i.clone()));
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

/// The AMI id of an image: fixed, or read from its public SSM parameter once per run.
async fn image(cx: &Cx<'_>, image: &Image) -> Result<String, AwsError> {
    let name = match image {
        Image::Ami(id) => return Ok(id.clone()),
        Image::SsmParameter(name) => name,
    };
    let _one_lookup = cx.run.image_lookup.lock().await;
    if let Some(id) = cx.run.images.lock().ok().and_then(|m| m.get(name).cloned()) {
        return Ok(id);
    }
    let out = cx.clients.ssm.get_parameter().name(name).send().await.map_err(|e| from_sdk("GetParameter", e))?;
    let id = out
        .parameter()
        .and_then(|p| p.value())
        .ok_or_else(|| AwsError::new("GetParameter", Class::NotFound, format!("parameter {name} has no value")))?
        .to_string();
    if let Ok(mut m) = cx.run.images.lock() {
        m.insert(name.clone(), id.clone());
    }
    Ok(id)
}

/// Standard base64, as EC2 wants user data.
fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"#!/bin/bash\n"), "IyEvYmluL2Jhc2gK");
    }
}
