//! The lock of one deployment: held for a whole run, so that two runs never change one
//! deployment at once.
//!
//! A lock says who holds it (user, host, process, command) and since when. A local state
//! directory is locked with an OS file lock (`flock`), which the OS releases when the
//! holder dies, however it dies; an S3 state with an object created only if absent
//! (`If-None-Match: *`), carrying a lease that the holder renews (`If-Match` its ETag) and
//! that another run may break once it has expired, or once its holder is known dead.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Who holds a lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub user: String,
    pub host: String,
    pub pid: u32,
    /// The command line of the run, as typed.
    pub command: String,
    /// Seconds since the Unix epoch.
    pub since: u64,
    /// When the lease ends unless renewed (remote locks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// The stored lock's version (an S3 ETag): what breaking it must match.
    #[serde(skip)]
    pub version: Option<String>,
}

impl LockInfo {
    /// This process, running `command`.
    pub fn ours(command: &str, lease: Option<Duration>) -> LockInfo {
        let since = crate::now();
        LockInfo {
            user: user(),
            host: host(),
            pid: std::process::id(),
            command: command.to_string(),
            since,
            expires: lease.map(|l| since + l.as_secs().max(1)),
            version: None,
        }
    }

    /// Why the holder is known to be gone, if it is: its process is not running on this
    /// host, or its lease ran out.
    pub fn gone(&self, now: u64) -> Option<String> {
        if self.host == host() && !alive(self.pid) {
            return Some(format!("its process {} on this host ({}) is not running", self.pid, self.host));
        }
        match self.expires {
            Some(t) if t < now => Some(format!("its lease expired {} ago", ago(now - t))),
            _ => None,
        }
    }
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let age = ago(crate::now().saturating_sub(self.since));
        write!(f, "{}@{} (pid {}) since {} ago, running `{}`", self.user, self.host, self.pid, age, self.command)
    }
}

fn ago(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s => format!("{} h", s / 3600),
    }
}

/// A lock this process holds; dropping it releases it.
pub trait Held: Send + Sync + std::fmt::Debug {
    /// The lock was lost (its lease could not be renewed, or another run broke it): the run
    /// must stop writing.
    fn lost(&self) -> Option<String>;
}

#[derive(Debug)]
pub enum LockError {
    /// Another run holds it.
    Held(Box<LockInfo>),
    /// Taking, reading or breaking the lock failed.
    Failed(String),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held(info) => write!(f, "the deployment is locked by {info}"),
            LockError::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for LockError {}

pub fn user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether a process of this host is running (a zombie counts as gone).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        // Without /proc (not Linux) nothing is known: never taken for dead.
        Err(_) => !std::path::Path::new("/proc/self").exists(),
    }
}
