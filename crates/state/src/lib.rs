//! The state of one deployment: every AWS object strato created for it, with its id, the
//! attributes later steps need, and what it depends on, so that `destroy` works from the
//! state alone, and what each object was asked to be, so that a later run can tell what
//! changed.
//!
//! The state lives in a [`Backend`]: a local directory (`<dir>/<deployment>/state.json`) or
//! an S3 prefix (`s3://bucket/prefix/<deployment>/state.json`, in the `strato-aws` crate). It
//! carries a format version and is rewritten whole after every change, atomically (a
//! temporary file renamed over the old one; an S3 PUT conditional on the ETag last read), so a
//! crash leaves either the old or the new state, never half of one, and two writers can never
//! interleave. The state as it was when the run began is kept beside it
//! (`state.backup.json`), so a damaged file can be recovered (`strato state`).
//!
//! The state is also the run's write-ahead journal. Before every mutating AWS call its intent
//! (object, call, time, process) is durable in [`State::journal`]; the call's result is
//! recorded with the next write, which also closes the intent. An object is recorded as
//! `pending`, with the idempotency token of its create call and the name it is created
//! under, *before* the call is made, so a run killed between the call and its answer finds
//! the object again instead of creating a second one; a later run reconciles every intent
//! left open before it does anything else.
//!
//! One run at a time changes a deployment: [`Backend::lock`] takes its lock for the whole
//! run ([`lock`]).
//!
//! No secret is ever stored here: strato never sees database passwords, and the state keeps
//! only ids and non-secret attributes.

mod local;
pub mod lock;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

pub use local::{deployments, state_path, LocalDir};
pub use lock::{Held, LockError, LockInfo};

/// The version of the file format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The create call is about to be made (or was made and not answered).
    Pending,
    /// The object exists.
    Created,
    /// The object is available.
    Ready,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    pub kind: String,
    pub status: Status,
    /// The AWS id (or composite key) once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Attributes other objects or `destroy` need (the VPC id of an internet gateway, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Addresses of the objects this one depends on: destroy removes it before them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Idempotency token of the create call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Seconds since the Unix epoch when the object was recorded as created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<u64>,
    /// What the spec asked for when the object was created or last updated, as flat
    /// `attribute → value` (references as addresses, user data as a digest, never a
    /// secret): what a later plan compares the spec and AWS with.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, String>,
}

impl Object {
    /// A record about to be created: only its kind is known.
    pub fn new(kind: &str) -> Object {
        Object {
            kind: kind.to_string(),
            status: Status::Pending,
            id: None,
            attributes: BTreeMap::new(),
            depends_on: Vec::new(),
            client_token: None,
            created_at: None,
            inputs: BTreeMap::new(),
        }
    }

    /// The value a `${kind.name.<attribute>}` reference reads: `id`, `arn` and `identifier`
    /// are the object's id, anything else a recorded attribute.
    pub fn value(&self, attribute: &str) -> Option<&str> {
        match attribute {
            "id" | "arn" | "identifier" => self.id.as_deref(),
            other => self.attribute(other),
        }
    }

    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub deployment: String,
    /// The deployment's unique id, given when it is first provisioned and tagged on every
    /// object (`strato:deployment-id`): what tells this deployment's objects from those of
    /// another deployment with the same name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    pub region: String,
    /// Incremented on every write.
    pub serial: u64,
    pub objects: BTreeMap<String, Object>,
    /// Mutating calls that were about to be made and whose result is not recorded yet: a
    /// run that dies leaves them here for the next one to reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub journal: Vec<Intent>,
}

/// One mutating AWS call, recorded before it is made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// Unique within the state.
    pub seq: u64,
    /// The object the call is for.
    pub address: String,
    /// The API operation (`CreateInternetGateway`, `AttachInternetGateway`, ...).
    pub call: String,
    /// Seconds since the Unix epoch.
    pub at: u64,
    /// The process that made it, `user@host:pid`.
    pub by: String,
}

impl State {
    pub fn new(deployment: &str, region: &str) -> State {
        State {
            version: FORMAT_VERSION,
            deployment: deployment.to_string(),
            deployment_id: None,
            region: region.to_string(),
            serial: 0,
            objects: BTreeMap::new(),
            journal: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub enum Error {
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    Corrupt {
        path: String,
        message: String,
    },
    Version {
        path: String,
        found: u32,
    },
    /// A remote store refused or failed a call (`s3://...`: `PutObject`: `AccessDenied`).
    Remote {
        location: String,
        call: &'static str,
        message: String,
    },
    /// The run's lock was lost while it ran.
    LockLost {
        location: String,
        why: String,
    },
    /// The state changed under this run: another writer, although the lock should make
    /// that impossible (a lock broken while this run held it).
    Conflict {
        location: String,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io { path, action, source } => write!(f, "cannot {action} state file {}: {source}", path.display()),
            Error::Corrupt { path, message } => write!(f, "state file {path} is damaged: {message}"),
            Error::Version { path, found } => {
                write!(f, "state file {path} has format version {found}; this strato reads version {FORMAT_VERSION}")
            }
            Error::Remote { location, call, message } => write!(f, "state {location}: {call} failed: {message}"),
            Error::LockLost { location, why } => {
                write!(f, "the lock of {location} was lost ({why}); nothing more is written")
            }
            Error::Conflict { location } => write!(
                f,
                "state {location} was changed by another run while this one held its lock (was the lock broken?); \
                 nothing more is written"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// The bytes of a stored state and the version they were read at (an S3 ETag; `None` for a
/// local file, whose writers the OS lock keeps apart).
#[derive(Clone, Debug)]
pub struct Stored {
    pub bytes: Vec<u8>,
    pub version: Option<String>,
}

/// Where the states of deployments are kept: a local directory or an S3 prefix. Every call
/// is for one deployment, named at construction.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// `s3://bucket/prefix/name/state.json` or the file's path: for messages.
    fn location(&self) -> String;
    /// The current state, `None` when there is none.
    fn read(&self) -> Result<Option<Stored>, Error>;
    /// Replaces the state; `expected` is the version read or last written (`None`: there
    /// must be none yet). Returns the new version. A store that can check it refuses a write
    /// over a version it was not given ([`Error::Conflict`]).
    fn write(&self, bytes: &[u8], expected: Option<&str>) -> Result<Option<String>, Error>;
    /// Removes the state (and its backup): the deployment has no object left.
    fn delete(&self) -> Result<(), Error>;
    /// Keeps `bytes` as the previous good state.
    fn write_backup(&self, bytes: &[u8]) -> Result<(), Error>;
    fn read_backup(&self) -> Result<Option<Vec<u8>>, Error>;
    /// Takes the deployment's lock for `command`, or says who holds it.
    fn lock(&self, command: &str) -> Result<Box<dyn Held>, LockError>;
    /// Who holds the lock, if anyone.
    fn lock_info(&self) -> Result<Option<LockInfo>, LockError>;
    /// Removes a lock whose holder is gone; `info` is what was shown to the operator, and
    /// the lock is removed only if it is still that one.
    fn break_lock(&self, info: &LockInfo) -> Result<(), LockError>;
}

/// A deployment's state, and where it is kept.
#[derive(Debug)]
pub struct Store {
    backend: Box<dyn Backend>,
    state: State,
    /// The version of the stored state this run read or last wrote.
    version: Option<String>,
    /// The stored state as this run found it: kept as the backup at the first write.
    found: Option<Vec<u8>>,
    /// Something is stored (read or written by this run).
    stored: bool,
    backed_up: bool,
    /// Set when a write failed: nothing more is written, so the journal cannot run ahead of
    /// a state that did not land.
    broken: bool,
    next_seq: u64,
    /// The lock this run holds: once it is lost, nothing more is written.
    lock: Option<std::sync::Arc<dyn Held>>,
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `user@host:pid` of this process.
pub fn this_process() -> String {
    format!("{}@{}:{}", lock::user(), lock::host(), std::process::id())
}

/// Parses stored bytes as a state of this format.
pub fn parse(location: &str, bytes: &[u8]) -> Result<State, Error> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::Corrupt { path: location.to_string(), message: e.to_string() })?;
    let found = value.get("version").and_then(serde_json::Value::as_u64).unwrap_or(0) as u32;
    if found != FORMAT_VERSION {
        return Err(Error::Version { path: location.to_string(), found });
    }
    serde_json::from_value(value).map_err(|e| Error::Corrupt { path: location.to_string(), message: e.to_string() })
}

impl Store {
    /// Opens the state of a deployment, or an empty one if there is none yet (nothing is
    /// written until the first change).
    pub fn open(backend: Box<dyn Backend>, deployment: &str, region: &str) -> Result<Store, Error> {
        match Store::load(backend)? {
            Ok(store) => Ok(store),
            Err(backend) => Ok(Store::empty(backend, State::new(deployment, region))),
        }
    }

    fn empty(backend: Box<dyn Backend>, state: State) -> Store {
        Store {
            backend,
            state,
            version: None,
            found: None,
            stored: false,
            backed_up: false,
            broken: false,
            next_seq: 1,
            lock: None,
        }
    }

    /// Loads an existing state; hands the backend back when there is none.
    pub fn load(backend: Box<dyn Backend>) -> Result<Result<Store, Box<dyn Backend>>, Error> {
        let Some(stored) = backend.read()? else { return Ok(Err(backend)) };
        let state = parse(&backend.location(), &stored.bytes)?;
        let next_seq = state.journal.iter().map(|i| i.seq).max().unwrap_or(0) + 1;
        Ok(Ok(Store {
            version: stored.version,
            found: Some(stored.bytes),
            stored: true,
            next_seq,
            ..Store::empty(backend, state)
        }))
    }

    /// Writes only while `lock` is held: a run whose lock was broken (its lease expired and
    /// another run took it) writes nothing more.
    pub fn guard(&mut self, lock: std::sync::Arc<dyn Held>) {
        self.lock = Some(lock);
    }

    /// `s3://...` or the file's path.
    pub fn location(&self) -> String {
        self.backend.location()
    }

    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn get(&self, address: &str) -> Option<&Object> {
        self.state.objects.get(address)
    }

    /// Gives the deployment its unique id, in memory only: it is written with the first
    /// change, so a run that changes nothing leaves no state behind.
    pub fn assign_id(&mut self, id: String) {
        self.state.deployment_id = Some(id);
    }

    /// Changes the state and writes it before returning.
    pub fn update(&mut self, change: impl FnOnce(&mut State)) -> Result<(), Error> {
        change(&mut self.state);
        self.save()
    }

    /// Changes the state in memory only: the change is durable once a later write (such
    /// as [`Store::flush`]) returns. For writers that share one write among several changes
    /// made at about the same time (group commit), each still waiting for a write that
    /// holds its own change.
    pub fn stage(&mut self, change: impl FnOnce(&mut State)) {
        change(&mut self.state);
    }

    /// Writes the state as it is now, with every staged change.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.save()
    }

    /// [`Store::intend`], staged: the intent is durable only after the next write.
    pub fn stage_intent(&mut self, address: &str, call: &str) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let intent =
            Intent { seq, address: address.to_string(), call: call.to_string(), at: now(), by: this_process() };
        self.state.journal.push(intent);
        seq
    }

    /// Records or replaces one object, and writes.
    pub fn put(&mut self, address: &str, object: Object) -> Result<(), Error> {
        self.update(|s| {
            s.objects.insert(address.to_string(), object);
        })
    }

    /// Forgets one object (it is gone), and writes.
    pub fn remove(&mut self, address: &str) -> Result<(), Error> {
        self.update(|s| {
            s.objects.remove(address);
        })
    }

    /// Records that `call` is about to be made for `address`, and writes: the call may be
    /// made once this returns. The number closes the intent ([`Store::close`]).
    pub fn intend(&mut self, address: &str, call: &str) -> Result<u64, Error> {
        let seq = self.stage_intent(address, call);
        self.save()?;
        Ok(seq)
    }

    /// The call of an intent was answered: it is closed with the next write, which records
    /// what the call did (a kill before that write leaves it open, which is right: its
    /// result is not recorded yet).
    pub fn close(&mut self, seq: u64) {
        self.state.journal.retain(|i| i.seq != seq);
    }

    /// Closes the intents a run that died left open, once the caller has reconciled them.
    pub fn forget_intents(&mut self, of_others: impl Fn(&Intent) -> bool) -> Result<(), Error> {
        let before = self.state.journal.len();
        self.state.journal.retain(|i| !of_others(i));
        if self.state.journal.len() == before {
            return Ok(());
        }
        self.save()
    }

    /// Removes the stored state once a deployment has no object left.
    pub fn delete_file(&mut self) -> Result<(), Error> {
        self.backend.delete()?;
        self.stored = false;
        self.version = None;
        Ok(())
    }

    fn save(&mut self) -> Result<(), Error> {
        if self.broken {
            return Err(Error::Conflict { location: self.backend.location() });
        }
        if let Some(why) = self.lock.as_ref().and_then(|l| l.lost()) {
            self.broken = true;
            return Err(Error::LockLost { location: self.backend.location(), why });
        }
        self.state.serial += 1;
        if !self.backed_up {
            if let Some(found) = &self.found {
                self.backend.write_backup(found)?;
            }
            self.backed_up = true;
        }
        let mut text = serde_json::to_vec_pretty(&self.state).expect("state serialises");
        text.push(b'\n');
        let expected = if self.stored { Some(self.version.clone().unwrap_or_default()) } else { None };
        match self.backend.write(&text, expected.as_deref()) {
            Ok(version) => {
                self.version = version;
                self.stored = true;
                Ok(())
            }
            Err(e) => {
                self.broken = matches!(e, Error::Conflict { .. });
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("strato-state-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn object(id: &str) -> Object {
        Object {
            kind: "vpc".into(),
            status: Status::Ready,
            id: Some(id.into()),
            attributes: BTreeMap::new(),
            depends_on: vec![],
            client_token: None,
            created_at: Some(1),
            inputs: BTreeMap::from([("cidr".to_string(), "10.0.0.0/16".to_string())]),
        }
    }

    #[test]
    fn writes_atomically_and_reads_back() {
        let dir = temp_dir();
        let open = || Store::open(Box::new(LocalDir::new(&dir, "d")), "d", "us-east-1").unwrap();
        let mut store = open();
        let path = state_path(&dir, "d");
        assert!(!path.exists(), "nothing written before the first change");
        store.put("vpc.main", object("vpc-1")).unwrap();
        store.put("subnet.a", object("subnet-1")).unwrap();
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file is left: {leftovers:?}");
        let again = open();
        assert_eq!(again.state(), store.state());
        assert_eq!(again.state().serial, 2);
        store.remove("subnet.a").unwrap();
        let again = open();
        assert_eq!(again.state().objects.len(), 1);
        store.delete_file().unwrap();
        assert!(!dir.join("d").exists());
    }

    #[test]
    fn refuses_other_versions_and_damaged_files() {
        let dir = temp_dir();
        let path = state_path(&dir, "d");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, r#"{"version": 99}"#).unwrap();
        let open = || Store::open(Box::new(LocalDir::new(&dir, "d")), "d", "r");
        assert!(matches!(open(), Err(Error::Version { found: 99, .. })));
        std::fs::write(&path, "{not json").unwrap();
        let err = open().unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    }

    #[test]
    fn keeps_the_state_a_run_found_as_its_backup() {
        let dir = temp_dir();
        let open = || Store::open(Box::new(LocalDir::new(&dir, "d")), "d", "r").unwrap();
        let mut first = open();
        first.put("vpc.main", object("vpc-1")).unwrap();
        assert!(first.backend().read_backup().unwrap().is_none(), "a new state has nothing before it");
        drop(first);
        let mut second = open();
        second.put("subnet.a", object("subnet-1")).unwrap();
        second.put("subnet.b", object("subnet-2")).unwrap();
        let backup = parse("backup", &second.backend().read_backup().unwrap().unwrap()).unwrap();
        assert_eq!(backup.objects.keys().collect::<Vec<_>>(), ["vpc.main"], "the state as the run found it");
    }

    #[test]
    fn an_intent_is_durable_before_the_call_and_closed_by_the_next_write() {
        let dir = temp_dir();
        let open = || Store::open(Box::new(LocalDir::new(&dir, "d")), "d", "r").unwrap();
        let mut store = open();
        let seq = store.intend("vpc.main", "CreateVpc").unwrap();
        assert_eq!(open().state().journal.len(), 1, "on disk before the call");
        store.close(seq);
        assert_eq!(open().state().journal.len(), 1, "still open until its result is written");
        store.put("vpc.main", object("vpc-1")).unwrap();
        assert!(open().state().journal.is_empty());
        let again = open();
        assert!(again.state().journal.is_empty());
    }

    #[derive(Debug)]
    struct Broken;

    impl Held for Broken {
        fn lost(&self) -> Option<String> {
            Some("another run broke it".into())
        }
    }

    #[test]
    fn a_run_whose_lock_was_lost_writes_nothing_more() {
        let dir = temp_dir();
        let mut store = Store::open(Box::new(LocalDir::new(&dir, "d")), "d", "r").unwrap();
        store.put("vpc.main", object("vpc-1")).unwrap();
        store.guard(std::sync::Arc::new(Broken));
        let err = store.put("subnet.a", object("subnet-1")).unwrap_err();
        assert!(matches!(err, Error::LockLost { .. }), "{err}");
        assert!(store.intend("subnet.a", "CreateSubnet").is_err(), "no intent, so no call, either");
        let again = Store::open(Box::new(LocalDir::new(&dir, "d")), "d", "r").unwrap();
        assert_eq!(again.state().objects.len(), 1);
    }

    #[test]
    fn the_note_a_killed_local_holder_leaves_is_no_lock() {
        let dir = temp_dir();
        let backend = LocalDir::new(&dir, "d");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let note = LockInfo { pid: dead, ..LockInfo::ours("strato provision", None) };
        std::fs::create_dir_all(dir.join("d")).unwrap();
        std::fs::write(dir.join("d").join("lock.json"), serde_json::to_vec(&note).unwrap()).unwrap();
        assert!(backend.lock_info().unwrap().is_none(), "its process is gone, and the OS lock with it");
        let held = backend.lock("strato destroy").unwrap();
        assert_eq!(backend.lock_info().unwrap().map(|i| i.pid), Some(std::process::id()));
        drop(held);
    }

    #[test]
    fn one_local_lock_per_deployment_released_with_its_holder() {
        let dir = temp_dir();
        let backend = LocalDir::new(&dir, "d");
        let held = backend.lock("strato provision").unwrap();
        match LocalDir::new(&dir, "d").lock("strato destroy") {
            Err(LockError::Held(info)) => {
                assert_eq!(info.pid, std::process::id());
                assert_eq!(info.command, "strato provision");
            }
            other => panic!("a second lock must be refused, got {other:?}"),
        }
        assert!(LocalDir::new(&dir, "other").lock("x").is_ok(), "another deployment has its own lock");
        drop(held);
        assert!(backend.lock("strato destroy").is_ok(), "free once released");
    }
}
