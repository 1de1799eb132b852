//! Deployment state on S3: `s3://bucket/prefix/<deployment>/state.json`, its backup
//! `state.backup.json` and its lock `lock.json`, written with S3's conditional writes so
//! that two writers can never interleave ("Add preconditions to S3 operations with
//! conditional requests", S3 User Guide):
//!
//! - the state is replaced only `If-Match` the ETag this run last read or wrote (and the
//!   first one only `If-None-Match: *`): a write over anyone else's is refused (412
//!   `PreconditionFailed`) and the run stops writing;
//! - the lock is taken by creating `lock.json` `If-None-Match: *` (exactly one of any number
//!   of racing runs gets 200; the others get 412, or 409 `ConditionalRequestConflict` while
//!   the winner's upload is in flight), renewed with `If-Match` its ETag, released and broken
//!   with a delete `If-Match` the ETag that was shown;
//! - every object is written with server-side encryption (SSE-S3, or SSE-KMS with the key
//!   given); a versioned bucket keeps every earlier state, which strato never deletes.
//!
//! The state API is synchronous (one write after each intent and result), so S3 is reached
//! from a thread of its own with its own runtime; the callers block on its answer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use strato_state::{Backend, Error, Held, LockError, LockInfo, Stored};

use crate::client::Connection;

/// Where states are kept on S3, parsed from `s3://bucket/prefix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    /// Without leading or trailing `/`; may be empty.
    pub prefix: String,
}

impl std::str::FromStr for S3Url {
    type Err = String;

    fn from_str(s: &str) -> Result<S3Url, String> {
        let rest = s.strip_prefix("s3://").ok_or_else(|| format!("`{s}` is not an s3:// URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
        if bucket.len() < 3 || bucket.len() > 63 || !bucket.chars().all(valid) {
            return Err(format!(
                "`{s}`: `{bucket}` is not an S3 bucket name (3 to 63 lowercase letters, digits, `-` and `.`)"
            ));
        }
        Ok(S3Url { bucket: bucket.to_string(), prefix: prefix.trim_matches('/').to_string() })
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.prefix.as_str() {
            "" => write!(f, "s3://{}", self.bucket),
            p => write!(f, "s3://{}/{p}", self.bucket),
        }
    }
}

impl S3Url {
    fn key(&self, deployment: &str, file: &str) -> String {
        match self.prefix.as_str() {
            "" => format!("{deployment}/{file}"),
            p => format!("{p}/{deployment}/{file}"),
        }
    }
}

type Job = Box<dyn FnOnce(&aws_sdk_s3::Client, &tokio::runtime::Runtime) + Send>;

/// The thread that talks to S3.
#[derive(Clone, Debug)]
struct Worker {
    jobs: mpsc::Sender<Job>,
}

impl Worker {
    fn start(connection: &Connection) -> Worker {
        let (jobs, receiver) = mpsc::channel::<Job>();
        let c = connection.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
            let client = rt.block_on(async {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new(c.region.clone()))
                    .retry_config(crate::client::retry_config());
                if let Some(profile) = &c.profile {
                    loader = loader.profile_name(profile);
                }
                if let Some(url) = &c.endpoint_url {
                    loader = loader.endpoint_url(url);
                }
                let shared = loader.load().await;
                let config = aws_sdk_s3::config::Builder::from(&shared)
                    // An emulator's endpoint has no bucket subdomains.
                    .force_path_style(c.endpoint_url.is_some())
                    .build();
                aws_sdk_s3::Client::from_conf(config)
            });
            while let Ok(job) = receiver.recv() {
                job(&client, &rt);
            }
        });
        Worker { jobs }
    }

    /// Runs `call` on the S3 thread and waits for its answer.
    fn run<T: Send + 'static, F>(&self, call: impl FnOnce(aws_sdk_s3::Client) -> F + Send + 'static) -> Option<T>
    where
        F: std::future::Future<Output = T>,
    {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move |client, rt| {
            let _ = tx.send(rt.block_on(call(client.clone())));
        });
        self.jobs.send(job).ok()?;
        rx.recv().ok()
    }
}

/// One deployment's objects under an S3 prefix.
#[derive(Clone, Debug)]
pub struct S3State {
    url: S3Url,
    deployment: String,
    kms_key: Option<String>,
    lease: Duration,
    worker: Worker,
}

/// What S3 answered, reduced to what the state needs.
enum Answer<T> {
    Ok(T),
    /// 404 `NoSuchKey`.
    Missing,
    /// 412 `PreconditionFailed` or 409 `ConditionalRequestConflict`.
    Precondition,
    Failed(String),
}

fn answer<T, E>(result: Result<T, aws_sdk_s3::error::SdkError<E, HttpResponse>>) -> Answer<T>
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(t) => Answer::Ok(t),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            match (e.code(), status) {
                // A missing bucket is no missing state: strato never makes the bucket.
                (Some("NoSuchBucket"), _) => {
                    Answer::Failed("NoSuchBucket: the bucket does not exist (strato never creates it)".into())
                }
                (Some("NoSuchKey"), _) | (_, Some(404)) => Answer::Missing,
                (Some("PreconditionFailed" | "ConditionalRequestConflict"), _) | (_, Some(412 | 409)) => {
                    Answer::Precondition
                }
                (code, _) => Answer::Failed(match (code, e.message()) {
                    (Some(c), Some(m)) => format!("{c}: {m}"),
                    (Some(c), None) => c.to_string(),
                    _ => aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
                }),
            }
        }
    }
}

impl S3State {
    /// `lease`: how long the lock holds without renewal ([`LockInfo::expires`]).
    pub fn new(
        connection: &Connection,
        url: &S3Url,
        deployment: &str,
        kms_key: Option<String>,
        lease: Duration,
    ) -> S3State {
        S3State {
            url: url.clone(),
            deployment: deployment.to_string(),
            kms_key,
            lease,
            worker: Worker::start(connection),
        }
    }

    fn key(&self, file: &str) -> String {
        self.url.key(&self.deployment, file)
    }

    fn get(&self, file: &str) -> Answer<(Vec<u8>, Option<String>)> {
        let (bucket, key) = (self.url.bucket.clone(), self.key(file));
        let got = self.worker.run(move |s3| async move {
            match answer(s3.get_object().bucket(bucket).key(key).send().await) {
                Answer::Ok(out) => {
                    let etag = out.e_tag().map(str::to_string);
                    match out.body.collect().await {
                        Ok(b) => Answer::Ok((b.into_bytes().to_vec(), etag)),
                        Err(e) => Answer::Failed(e.to_string()),
                    }
                }
                Answer::Missing => Answer::Missing,
                Answer::Precondition => Answer::Precondition,
                Answer::Failed(m) => Answer::Failed(m),
            }
        });
        got.unwrap_or_else(|| Answer::Failed("the S3 client stopped".into()))
    }

    /// PUT with the given precondition: `Some("*")` only if absent, `Some(etag)` only over
    /// that version, `None` unconditionally. Returns the new ETag.
    fn put(&self, file: &str, bytes: &[u8], condition: Option<&str>) -> Answer<Option<String>> {
        let (bucket, key) = (self.url.bucket.clone(), self.key(file));
        let body = bytes.to_vec();
        let condition = condition.map(str::to_string);
        let kms = self.kms_key.clone();
        let put = self.worker.run(move |s3| async move {
            let mut call =
                s3.put_object().bucket(bucket).key(key).content_type("application/json").body(ByteStream::from(body));
            call = match &kms {
                Some(k) => call.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(k),
                None => call.server_side_encryption(ServerSideEncryption::Aes256),
            };
            call = match condition.as_deref() {
                Some("*") => call.if_none_match("*"),
                Some(etag) => call.if_match(etag),
                None => call,
            };
            match answer(call.send().await) {
                Answer::Ok(out) => Answer::Ok(out.e_tag().map(str::to_string)),
                // `If-Match` on a key that is gone.
                Answer::Missing if condition.is_some() => Answer::Precondition,
                Answer::Missing => Answer::Failed("NoSuchKey".into()),
                Answer::Precondition => Answer::Precondition,
                Answer::Failed(m) => Answer::Failed(m),
            }
        });
        put.unwrap_or_else(|| Answer::Failed("the S3 client stopped".into()))
    }

    fn delete(&self, file: &str, if_match: Option<&str>) -> Answer<()> {
        let (bucket, key) = (self.url.bucket.clone(), self.key(file));
        let if_match = if_match.map(str::to_string);
        let deleted = self.worker.run(move |s3| async move {
            let mut call = s3.delete_object().bucket(bucket).key(key);
            if let Some(etag) = if_match {
                call = call.if_match(etag);
            }
            match answer(call.send().await) {
                Answer::Ok(_) | Answer::Missing => Answer::Ok(()),
                Answer::Precondition => Answer::Precondition,
                Answer::Failed(m) => Answer::Failed(m),
            }
        });
        deleted.unwrap_or_else(|| Answer::Failed("the S3 client stopped".into()))
    }

    fn remote(&self, call: &'static str, message: String) -> Error {
        Error::Remote { location: self.location(), call, message }
    }

    /// The deployments with a state under the URL, by name.
    pub fn deployments(connection: &Connection, url: &S3Url) -> Result<Vec<String>, String> {
        let worker = Worker::start(connection);
        let (bucket, prefix) = (url.bucket.clone(), url.prefix.clone());
        let listed = worker.run(move |s3| async move {
            let mut names = Vec::new();
            let start = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
            let mut pages = s3.list_objects_v2().bucket(bucket).prefix(&start).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| match (e.code(), e.message()) {
                    (Some(c), m) => format!("ListObjectsV2: {c}: {}", m.unwrap_or_default()),
                    _ => format!("ListObjectsV2: {}", aws_smithy_types::error::display::DisplayErrorContext(&e)),
                })?;
                for o in page.contents() {
                    let key = o.key().unwrap_or_default();
                    if let Some(name) = key.strip_prefix(&start).and_then(|k| k.strip_suffix("/state.json")) {
                        if !name.contains('/') {
                            names.push(name.to_string());
                        }
                    }
                }
            }
            Ok::<_, String>(names)
        });
        let mut names = listed.unwrap_or_else(|| Err("the S3 client stopped".into()))?;
        names.sort();
        Ok(names)
    }
}

impl Backend for S3State {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.url.bucket, self.key("state.json"))
    }

    fn read(&self) -> Result<Option<Stored>, Error> {
        match self.get("state.json") {
            Answer::Ok((bytes, version)) => Ok(Some(Stored { bytes, version })),
            Answer::Missing => Ok(None),
            Answer::Precondition => Err(self.remote("GetObject", "PreconditionFailed".into())),
            Answer::Failed(m) => Err(self.remote("GetObject", m)),
        }
    }

    fn write(&self, bytes: &[u8], expected: Option<&str>) -> Result<Option<String>, Error> {
        match self.put("state.json", bytes, Some(expected.unwrap_or("*"))) {
            Answer::Ok(etag) => Ok(etag),
            Answer::Precondition | Answer::Missing => Err(Error::Conflict { location: self.location() }),
            Answer::Failed(m) => Err(self.remote("PutObject", m)),
        }
    }

    fn delete(&self) -> Result<(), Error> {
        for file in ["state.json", "state.backup.json"] {
            if let Answer::Failed(m) = self.delete(file, None) {
                return Err(self.remote("DeleteObject", m));
            }
        }
        Ok(())
    }

    fn write_backup(&self, bytes: &[u8]) -> Result<(), Error> {
        match self.put("state.backup.json", bytes, None) {
            Answer::Ok(_) => Ok(()),
            Answer::Precondition | Answer::Missing => Err(self.remote("PutObject", "PreconditionFailed".into())),
            Answer::Failed(m) => Err(self.remote("PutObject", m)),
        }
    }

    fn read_backup(&self) -> Result<Option<Vec<u8>>, Error> {
        match self.get("state.backup.json") {
            Answer::Ok((bytes, _)) => Ok(Some(bytes)),
            Answer::Missing => Ok(None),
            Answer::Precondition => Err(self.remote("GetObject", "PreconditionFailed".into())),
            Answer::Failed(m) => Err(self.remote("GetObject", m)),
        }
    }

    fn lock(&self, command: &str) -> Result<Box<dyn Held>, LockError> {
        let info = LockInfo::ours(command, Some(self.lease));
        let text = serde_json::to_vec_pretty(&info).expect("lock info serialises");
        match self.put("lock.json", &text, Some("*")) {
            Answer::Ok(etag) => Ok(Box::new(S3Lock::hold(self.clone(), info, etag.unwrap_or_default()))),
            Answer::Precondition | Answer::Missing => match self.lock_info()? {
                Some(holder) => Err(LockError::Held(Box::new(holder))),
                // Released between our attempt and our read: the caller may simply retry.
                None => Err(LockError::Failed(format!("the lock of {} changed hands; try again", self.location()))),
            },
            Answer::Failed(m) => {
                Err(LockError::Failed(format!("cannot take the lock of {}: PutObject: {m}", self.location())))
            }
        }
    }

    fn lock_info(&self) -> Result<Option<LockInfo>, LockError> {
        match self.get("lock.json") {
            Answer::Ok((bytes, etag)) => {
                let mut info: LockInfo = serde_json::from_slice(&bytes)
                    .map_err(|e| LockError::Failed(format!("the lock of {} is damaged: {e}", self.location())))?;
                info.version = etag;
                Ok(Some(info))
            }
            Answer::Missing => Ok(None),
            Answer::Precondition => Ok(None),
            Answer::Failed(m) => {
                Err(LockError::Failed(format!("cannot read the lock of {}: GetObject: {m}", self.location())))
            }
        }
    }

    fn break_lock(&self, info: &LockInfo) -> Result<(), LockError> {
        match self.delete("lock.json", info.version.as_deref()) {
            Answer::Ok(()) | Answer::Missing => Ok(()),
            Answer::Precondition => Err(LockError::Failed(
                "the lock changed since it was shown (its holder renewed it, or another run took it): not broken"
                    .into(),
            )),
            Answer::Failed(m) => Err(LockError::Failed(format!("DeleteObject: {m}"))),
        }
    }
}

/// A lock held on S3, renewed every third of its lease until dropped.
#[derive(Debug)]
struct S3Lock {
    stop: Arc<AtomicBool>,
    renewing: Mutex<Option<std::thread::JoinHandle<()>>>,
    lost: Arc<Mutex<Option<String>>>,
    etag: Arc<Mutex<String>>,
    state: S3State,
}

impl S3Lock {
    fn hold(state: S3State, info: LockInfo, etag: String) -> S3Lock {
        let stop = Arc::new(AtomicBool::new(false));
        let lost = Arc::new(Mutex::new(None));
        let etag = Arc::new(Mutex::new(etag));
        let (s, l, e, st) = (stop.clone(), lost.clone(), etag.clone(), state.clone());
        let renewing = std::thread::spawn(move || {
            let every = (st.lease / 3).max(Duration::from_millis(200));
            let mut info = info;
            loop {
                let mut waited = Duration::ZERO;
                while waited < every {
                    if s.load(Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                    waited += Duration::from_millis(50);
                }
                info.expires = Some(strato_state::now() + st.lease.as_secs().max(1));
                let text = serde_json::to_vec_pretty(&info).expect("lock info serialises");
                let current = e.lock().map(|g| g.clone()).unwrap_or_default();
                match st.put("lock.json", &text, Some(&current)) {
                    Answer::Ok(Some(new)) => {
                        if let Ok(mut g) = e.lock() {
                            *g = new;
                        }
                    }
                    Answer::Ok(None) => {}
                    Answer::Precondition | Answer::Missing => {
                        if let Ok(mut g) = l.lock() {
                            *g = Some("the lock was broken by another run".into());
                        }
                        return;
                    }
                    // A failed renewal is tried again; the lease outlives two of them.
                    Answer::Failed(_) => {}
                }
            }
        });
        S3Lock { stop, renewing: Mutex::new(Some(renewing)), lost, etag, state }
    }
}

impl Held for S3Lock {
    fn lost(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|g| g.clone())
    }
}

impl Drop for S3Lock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // A renewal under way ends first: the release must match the ETag it leaves.
        if let Some(t) = self.renewing.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
        if self.lost().is_none() {
            let etag = self.etag.lock().map(|g| g.clone()).unwrap_or_default();
            let _ = self.state.delete("lock.json", Some(&etag));
        }
    }
}
