//! EFS mount target: one per file system and zone, in its subnet behind its groups. The
//! engine limits EFS calls, so creates for one file system do not pile up; each is waited
//! for until `available`, and after delete until gone (then the file system can go).

use async_trait::async_trait;
use aws_sdk_efs::types::LifeCycleState;
use strato_graph::{Desired, Kind};
use strato_state::Object;

use super::file_system::{wait_for, Until};
use super::{id, mismatch, Attributes, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError};

pub struct MountTarget;

#[async_trait]
impl Driver for MountTarget {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::MountTarget { file_system, subnet, security_groups } = desired else {
            return Err(mismatch("CreateMountTarget"));
        };
        let fs_id = cx.id_of(*file_system)?;
        let subnet_id = cx.id_of(*subnet)?;
        let groups: Vec<String> = cx.ids_of(security_groups)?;
        let result = cx
            .retry_fresh(|| async {
                cx.clients
                    .efs
                    .create_mount_target()
                    .file_system_id(fs_id)
                    .subnet_id(subnet_id)
                    .set_security_groups(Some(groups.clone()))
                    .send()
                    .await
                    .map_err(|e| from_sdk("CreateMountTarget", e))
            })
            .await;
        let (mt_id, state) = match result {
            Ok(out) => (out.mount_target_id().to_string(), out.life_cycle_state().clone()),
            Err(e) if e.code_is(&["MountTargetConflict"]) => {
                let out = cx
                    .clients
                    .efs
                    .describe_mount_targets()
                    .file_system_id(fs_id)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DescribeMountTargets", e))?;
                let mt = out.mount_targets().iter().find(|m| m.subnet_id() == subnet_id).ok_or(e)?;
                (mt.mount_target_id().to_string(), mt.life_cycle_state().clone())
            }
            Err(e) => return Err(e),
        };
        let mut c = Created::new(mt_id).with("file_system_id", fs_id).with("subnet_id", subnet_id);
        c.ready = state == LifeCycleState::Available;
        Ok(c)
    }

    async fn wait_ready(&self, cx: &Cx<'_>, obj: &Object) -> Result<Attributes, AwsError> {
        let mt_id = id(obj)?;
        let fs_id = obj.attribute("file_system_id");
        wait_for(cx, "the mount target", "CreateMountTarget", Until::Available, || waited(cx, fs_id, mt_id)).await?;
        Ok(Attributes::new())
    }

    async fn find(&self, cx: &Cx<'_>, obj: &Object) -> Result<Option<Created>, AwsError> {
        let (Some(fs_id), Some(subnet_id)) =
            (cx.dependency_id(obj, Kind::FileSystem), cx.dependency_id(obj, Kind::Subnet))
        else {
            return Ok(None);
        };
        let out = cx.clients.efs.describe_mount_targets().file_system_id(fs_id).send().await;
        let Some(out) = super::found(out.map_err(|e| from_sdk("DescribeMountTargets", e)))? else { return Ok(None) };
        Ok(out
            .mount_targets()
            .iter()
            .find(|m| m.subnet_id() == subnet_id)
            .map(|m| Created::new(m.mount_target_id()).with("file_system_id", fs_id).with("subnet_id", subnet_id)))
    }

    /// `ModifyMountTargetSecurityGroups`: the file system stays mounted throughout.
    async fn update(
        &self,
        cx: &Cx<'_>,
        obj: &Object,
        desired: &Desired,
        _changes: &[strato_graph::plan::Change],
    ) -> Result<super::Updated, AwsError> {
        let Desired::MountTarget { security_groups, .. } = desired else {
            return Err(mismatch("ModifyMountTargetSecurityGroups"));
        };
        cx.clients
            .efs
            .modify_mount_target_security_groups()
            .mount_target_id(id(obj)?)
            .set_security_groups(Some(cx.ids_of(security_groups)?))
            .send()
            .await
            .map_err(|e| from_sdk("ModifyMountTargetSecurityGroups", e))?;
        Ok(super::Updated::default())
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        Ok(matches!(state(cx, id(obj)?).await?, Some(LifeCycleState::Available | LifeCycleState::Creating)))
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let r = cx.clients.efs.delete_mount_target().mount_target_id(id(obj)?).send().await;
        super::gone_ok(r.map_err(|e| from_sdk("DeleteMountTarget", e)))
    }

    async fn wait_gone(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let mt_id = id(obj)?;
        let fs_id = obj.attribute("file_system_id");
        wait_for(cx, "the mount target", "DeleteMountTarget", Until::Gone, || waited(cx, fs_id, mt_id)).await
    }
}

async fn state(cx: &Cx<'_>, mt_id: &str) -> Result<Option<LifeCycleState>, AwsError> {
    Ok(super::found(
        cx.clients
            .efs
            .describe_mount_targets()
            .mount_target_id(mt_id)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeMountTargets", e)),
    )?
    .and_then(|o| o.mount_targets().first().map(|m| m.life_cycle_state().clone())))
}

/// [`state`], from one call for all the mount targets of `fs_id` waited for at about the
/// same time; a file system that is gone has none.
async fn waited(cx: &Cx<'_>, fs_id: Option<&str>, mt_id: &str) -> Result<Option<LifeCycleState>, AwsError> {
    let Some(fs_id) = fs_id else { return state(cx, mt_id).await };
    let efs = cx.clients.efs.clone();
    cx.run
        .mount_targets
        .get(&format!("{fs_id}|{mt_id}"), "DescribeMountTargets", move |keys| {
            let efs = efs.clone();
            async move {
                let mut systems: Vec<&str> = keys.iter().filter_map(|k| k.split_once('|').map(|(f, _)| f)).collect();
                systems.dedup();
                let mut found = Vec::new();
                for fs in systems {
                    let mut marker: Option<String> = None;
                    loop {
                        let r = efs.describe_mount_targets().file_system_id(fs).set_marker(marker.take()).send().await;
                        let Some(out) = super::found(r.map_err(|e| from_sdk("DescribeMountTargets", e)))? else {
                            break;
                        };
                        for m in out.mount_targets() {
                            found.push((format!("{fs}|{}", m.mount_target_id()), m.life_cycle_state().clone()));
                        }
                        match out.next_marker() {
                            Some(t) if !t.is_empty() => marker = Some(t.to_string()),
                            _ => break,
                        }
                    }
                }
                Ok(found)
            }
        })
        .await
}
