//! EFS file system: CreateFileSystem with the run's token as `CreationToken` (a repeated
//! create returns the same file system), encrypted, tagged. EFS has no SDK waiters: the
//! shared poller waits for `available`, and after delete until it is gone.

use async_trait::async_trait;
use aws_sdk_efs::types::{LifeCycleState, PerformanceMode, Tag, ThroughputMode};
use strato_graph::Desired;
use strato_state::Object;

use super::{id, mismatch, Attributes, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError, Class};
use crate::poll::Check;

pub struct FileSystem;

/// The file system created with `token` (its creation token), if any.
async fn by_token(cx: &Cx<'_>, token: &str) -> Result<Option<aws_sdk_efs::types::FileSystemDescription>, AwsError> {
    let out = cx
        .clients
        .efs
        .describe_file_systems()
        .creation_token(token)
        .send()
        .await
        .map_err(|e| from_sdk("DescribeFileSystems", e))?;
    Ok(out.file_systems().first().cloned())
}

pub(super) fn efs_tags(cx: &Cx<'_>) -> Vec<Tag> {
    cx.tag_list().into_iter().filter_map(|t| Tag::builder().key(t.key()?).value(t.value()?).build().ok()).collect()
}

#[async_trait]
impl Driver for FileSystem {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, token: &str) -> Result<Created, AwsError> {
        let Desired::FileSystem { performance_mode, throughput_mode, encrypted, backup } = desired else {
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
            // Regional file systems made through the API have automatic backups off unless
            // asked for (EFS API reference, CreateFileSystem `Backup`: "Default is false").
            .backup(*backup)
            .set_tags(Some(efs_tags(cx)))
            .send()
            .await
            .map_err(|e| from_sdk("CreateFileSystem", e));
        let (fs_id, state) = match result {
            Ok(out) => (out.file_system_id().to_string(), out.life_cycle_state().clone()),
            Err(e) if e.code_is(&["FileSystemAlreadyExists"]) => {
                let fs = by_token(cx, token).await?.ok_or(e)?;
                (fs.file_system_id().to_string(), fs.life_cycle_state().clone())
            }
            Err(e) => return Err(e),
        };
        let dns = dns_name(&fs_id, &cx.clients.region);
        let mut c = Created::new(fs_id).with("dns_name", dns);
        c.ready = state == LifeCycleState::Available;
        Ok(c)
    }

    async fn wait_ready(&self, cx: &Cx<'_>, obj: &Object) -> Result<Attributes, AwsError> {
        let fs_id = id(obj)?;
        wait_for(cx, "the file system", "CreateFileSystem", Until::Available, || state(cx, fs_id)).await?;
        Ok(Attributes::new())
    }

    /// By the creation token the interrupted run recorded with its intent.
    async fn find(&self, cx: &Cx<'_>, obj: &Object) -> Result<Option<Created>, AwsError> {
        let found = |fs: &aws_sdk_efs::types::FileSystemDescription| {
            let dns = dns_name(fs.file_system_id(), &cx.clients.region);
            Created::new(fs.file_system_id()).with("dns_name", dns)
        };
        if let Some(token) = obj.client_token.as_deref() {
            return Ok(by_token(cx, token).await?.as_ref().map(found));
        }
        // No token (a sweep after the state was lost): by its tags, which every file
        // system description carries.
        let mut pages = cx.clients.efs.describe_file_systems().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| from_sdk("DescribeFileSystems", e))?;
            for fs in page.file_systems() {
                let tags: Vec<(String, String)> =
                    fs.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
                if cx.is_this(&tags) {
                    return Ok(Some(found(fs)));
                }
            }
        }
        Ok(None)
    }

    /// `UpdateFileSystem` for the throughput mode, `PutBackupPolicy` for AWS Backup's
    /// automatic backups; both on the live file system.
    async fn update(
        &self,
        cx: &Cx<'_>,
        obj: &Object,
        desired: &Desired,
        changes: &[strato_graph::plan::Change],
    ) -> Result<super::Updated, AwsError> {
        let Desired::FileSystem { throughput_mode, backup, .. } = desired else {
            return Err(mismatch("UpdateFileSystem"));
        };
        let fs_id = id(obj)?;
        if changes.iter().any(|c| c.attribute == "throughput_mode") {
            let r = cx
                .clients
                .efs
                .update_file_system()
                .file_system_id(fs_id)
                .throughput_mode(ThroughputMode::from(throughput_mode.as_str()))
                .send()
                .await;
            r.map_err(|e| from_sdk("UpdateFileSystem", e))?;
        }
        if changes.iter().any(|c| c.attribute == "backup") {
            let status =
                if *backup { aws_sdk_efs::types::Status::Enabled } else { aws_sdk_efs::types::Status::Disabled };
            let policy = aws_sdk_efs::types::BackupPolicy::builder()
                .status(status)
                .build()
                .map_err(|e| AwsError::new("PutBackupPolicy", Class::Fatal, e.to_string()))?;
            let r = cx.clients.efs.put_backup_policy().file_system_id(fs_id).backup_policy(policy).send().await;
            r.map_err(|e| from_sdk("PutBackupPolicy", e))?;
        }
        Ok(super::Updated::default())
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
        wait_for(cx, "the file system", "DeleteFileSystem", Until::Gone, || state(cx, fs_id)).await
    }
}

async fn state(cx: &Cx<'_>, fs_id: &str) -> Result<Option<LifeCycleState>, AwsError> {
    Ok(super::found(
        cx.clients
            .efs
            .describe_file_systems()
            .file_system_id(fs_id)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeFileSystems", e)),
    )?
    .and_then(|o| o.file_systems().first().map(|f| f.life_cycle_state().clone())))
}

/// The file system's DNS name: `<id>.efs.<region>.<the partition's DNS suffix>` (EFS User
/// Guide, "Mounting with a DNS name"); the China regions answer under `amazonaws.com.cn`.
fn dns_name(fs_id: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!("{fs_id}.efs.{region}.{suffix}")
}

/// What an EFS wait waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Until {
    Available,
    Gone,
}

/// Waits on an EFS object's life-cycle state (EFS has no SDK waiters): until `available`
/// (failing on `error`), or until it is gone or `deleted`.
pub(super) async fn wait_for<F, Fut>(
    cx: &Cx<'_>,
    what: &str,
    call: &str,
    until: Until,
    state: F,
) -> Result<(), AwsError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Option<LifeCycleState>, AwsError>>,
{
    let waiting = match until {
        Until::Available => format!("{what} to be available"),
        Until::Gone => format!("{what} to be deleted"),
    };
    cx.wait(&waiting, &strato_cloud::waits::EFS, || async {
        Ok(match (until, state().await?) {
            (Until::Available, Some(LifeCycleState::Available)) => Check::Done(()),
            (Until::Available, Some(LifeCycleState::Error)) => {
                return Err(AwsError::new(call, Class::Fatal, format!("{what} is `error`")));
            }
            (Until::Available, None) => Check::Pending("not visible yet".into()),
            (Until::Gone, None | Some(LifeCycleState::Deleted)) => Check::Done(()),
            (_, Some(s)) => Check::Pending(s.as_str().to_string()),
        })
    })
    .await
}
