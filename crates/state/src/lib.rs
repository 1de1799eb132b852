//! The state of one deployment: every AWS object strato created for it, with its id, the
//! attributes later steps need, and what it depends on, so that `destroy` works from the
//! state alone, and what each object was asked to be, so that a later run can tell what
//! changed.
//!
//! The file (`<state dir>/<deployment>/state.json`) carries a format version and is
//! rewritten atomically after every change: written to a temporary file of its own in the
//! same directory, flushed to disk, then renamed over the old one. A crash leaves either the old or
//! the new state, never half of one. An object is recorded as `pending` with the idempotency
//! token of its create call *before* the call is made, so a run killed between the call and
//! its answer can find the object again instead of creating a second one.
//!
//! No secret is ever stored here: strato never sees database passwords, and the state keeps
//! only ids and non-secret attributes.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

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
        }
    }
}

#[derive(Debug)]
pub enum Error {
    Io { path: PathBuf, action: &'static str, source: std::io::Error },
    Corrupt { path: PathBuf, message: String },
    Version { path: PathBuf, found: u32 },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io { path, action, source } => write!(f, "cannot {action} state file {}: {source}", path.display()),
            Error::Corrupt { path, message } => write!(f, "state file {} is damaged: {message}", path.display()),
            Error::Version { path, found } => write!(
                f,
                "state file {} has format version {found}; this strato reads version {FORMAT_VERSION}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for Error {}

/// A state file on disk and its contents.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    state: State,
}

/// The deployments that have a state file under `dir`, by name.
pub fn deployments(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("state.json").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Where the state of `deployment` lives under `dir`.
pub fn state_path(dir: &Path, deployment: &str) -> PathBuf {
    dir.join(deployment).join("state.json")
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Store {
    /// Opens the state of a deployment, or an empty one if there is none yet (nothing is
    /// written until the first change).
    pub fn open(dir: &Path, deployment: &str, region: &str) -> Result<Store, Error> {
        let path = state_path(dir, deployment);
        match Store::load(&path)? {
            Some(store) => Ok(store),
            None => Ok(Store { path, state: State::new(deployment, region) }),
        }
    }

    /// Loads an existing state file; `None` when there is none.
    pub fn load(path: &Path) -> Result<Option<Store>, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path: path.to_path_buf(), action: "read", source }),
        };
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::Corrupt { path: path.to_path_buf(), message: e.to_string() })?;
        let found = value.get("version").and_then(serde_json::Value::as_u64).unwrap_or(0) as u32;
        if found != FORMAT_VERSION {
            return Err(Error::Version { path: path.to_path_buf(), found });
        }
        let state: State = serde_json::from_value(value)
            .map_err(|e| Error::Corrupt { path: path.to_path_buf(), message: e.to_string() })?;
        Ok(Some(Store { path: path.to_path_buf(), state }))
    }

    pub fn path(&self) -> &Path {
        &self.path
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

    /// Removes the state file once a deployment has no object left, and its directory if
    /// that is then empty.
    pub fn delete_file(&self) -> Result<(), Error> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Io { path: self.path.clone(), action: "remove", source }),
        }
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
        Ok(())
    }

    fn save(&mut self) -> Result<(), Error> {
        self.state.serial += 1;
        let io = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, action, source }
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io("create the directory of", &self.path))?;
        // A temporary file of this process's own: two runs writing at once never replace
        // each other's half-written file.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let tmp = self.path.with_extension(format!("json.{}-{n}.tmp", std::process::id()));
        let mut text = serde_json::to_vec_pretty(&self.state).expect("state serialises");
        text.push(b'\n');
        {
            let mut file = std::fs::File::create(&tmp).map_err(io("write", &tmp))?;
            file.write_all(&text).map_err(io("write", &tmp))?;
            file.sync_all().map_err(io("flush", &tmp))?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io("replace", &self.path))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
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
        let mut store = Store::open(&dir, "d", "us-east-1").unwrap();
        assert!(!store.path().exists(), "nothing written before the first change");
        store.put("vpc.main", object("vpc-1")).unwrap();
        store.put("subnet.a", object("subnet-1")).unwrap();
        let leftovers: Vec<_> = std::fs::read_dir(store.path().parent().unwrap())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "no temporary file is left: {leftovers:?}");
        let again = Store::open(&dir, "d", "us-east-1").unwrap();
        assert_eq!(again.state(), store.state());
        assert_eq!(again.state().serial, 2);
        store.remove("subnet.a").unwrap();
        let again = Store::open(&dir, "d", "us-east-1").unwrap();
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
        assert!(matches!(Store::open(&dir, "d", "r"), Err(Error::Version { found: 99, .. })));
        std::fs::write(&path, "{not json").unwrap();
        let err = Store::open(&dir, "d", "r").unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    }
}
