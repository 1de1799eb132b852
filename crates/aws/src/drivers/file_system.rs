//! EFS file system: CreateFileSystem with the run's token as `CreationToken` (a repeated
//! create returns the same file system), encrypted, tagged. EFS has no SDK waiters: the
//! shared poller waits for `available`, and after delete until it is gone.

use async_trait::async_trait;
use aws_sdk_efs::types::{LifeCycleState, PerformanceMode, Tag, ThroughputMode};
use strato_graph::Desired;
use strato_state::Object;

use super::{id, mismatch, Attributes, Created, Cx, Driver, SLOW};
use crate::error::{from_sdk, AwsError, Class};
use crate::poll::{self, Check};

pub struct FileSystem;

pub(super) fn efs_tags(cx: &Cx<'_>) -> Vec<Tag> {
    cx.tag_list().into_iter().filter_map(|t| Tag::builder().key(t.key()?).value(t.value()?).build().ok()).collect()
}

#[async_trait]
impl Driver for FileSystem {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, token: &str) -> Result<Created, AwsError> {
        let Desired::FileSystem { performance_mode, throughput_mode, encrypted } = desired else {
            return Err(mismatch("CreateFileSystem"));
        };
        let result = cx
            .clients
            .efs
            .create_file_system()
            .creation_token(token)
            .performance_mode(PerformanceMode::from(performance_mode.as_str()))
            .throughput_mode(ThroughputMode::from(throughput_mode.as_str()))
            .encrypted(*encrypted)
            .set_tags(Some(efs_tags(cx)))
            .send()
            .await
            .map_err(|e| from_sdk("CreateFileSystem", e));
        let (fs_id, state) = match result {
            Ok(out) => (out.file_system_id().to_string(), out.life_cycle_state().clone()),
            Err(e) if e.code_is(&["FileSystemAlreadyExists"]) => {
                let out = cx
                    .clients
                    .efs
                    .describe_file_systems()
                    .creation_token(token)
                    .send()
                    .await
                    .map_err(|e| from_sdk("DescribeFileSystems", e))?;
                let fs = out.file_systems().first().ok_or(e)?;
                (fs.file_system_id().to_string(), fs.life_cycle_state().clone())
            }
            Err(e) => return Err(e),
        };
        let dns = format!("{fs_id}.efs.{}.amazonaws.com", cx.clients.region);
        let mut c = Created::new(fs_id).with("dns_name", dns);
        c.ready = state == LifeCycleState::Available;
        Ok(c)
    }

    async fn wait_ready(&self, cx: &Cx<'_>, obj: &Object) -> Result<Attributes, AwsError> {
        let fs_id = id(obj)?;
        poll::until(
            "the file system to be available",
            &SLOW,
            cx.cancel,
            |s| cx.status(s),
            || async {
                Ok(match state(cx, fs_id).await? {
                    Some(LifeCycleState::Available) => Check::Done(Attributes::new()),
                    Some(LifeCycleState::Error) => {
                        return Err(AwsError::new(
                            "CreateFileSystem",
                            Class::Fatal,
                            format!("file system {fs_id} is `error`"),
                        ))
                    }
                    Some(s) => Check::Pending(s.as_str().to_string()),
                    None => Check::Pending("not visible yet".into()),
                })
            },
        )
        .await
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        Ok(matches!(state(cx, id(obj)?).await?, Some(LifeCycleState::Available | LifeCycleState::Creating)))
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let r = cx.clients.efs.delete_file_system().file_system_id(id(obj)?).send().await;
        super::gone_ok(r.map_err(|e| from_sdk("DeleteFileSystem", e)))
    }

    async fn wait_gone(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let fs_id = id(obj)?;
        poll::until(
            "the file system to be deleted",
            &SLOW,
            cx.cancel,
            |s| cx.status(s),
            || async {
                Ok(match state(cx, fs_id).await? {
                    None | Some(LifeCycleState::Deleted) => Check::Done(()),
                    Some(s) => Check::Pending(s.as_str().to_string()),
                })
            },
        )
        .await
    }
}

async fn state(cx: &Cx<'_>, fs_id: &str) -> Result<Option<LifeCycleState>, AwsError> {
    match cx
        .clients
        .efs
        .describe_file_systems()
        .file_system_id(fs_id)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeFileSystems", e))
    {
        Ok(o) => Ok(o.file_systems().first().map(|f| f.life_cycle_state().clone())),
        Err(e) if e.is(Class::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}
