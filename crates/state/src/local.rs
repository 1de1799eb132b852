//! The state in a local directory: `<dir>/<deployment>/state.json`, its backup
//! `state.backup.json`, and the lock `lock` (an OS file lock; who holds it in `lock.json`).

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::lock::{Held, LockError, LockInfo};
use crate::{Backend, Error, Stored};

/// One deployment's files under a state directory.
#[derive(Clone, Debug)]
pub struct LocalDir {
    path: PathBuf,
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

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { path, action, source }
}

/// Writes `bytes` to `path` atomically: a temporary file of this process's own (two runs
/// writing at once never replace each other's half-written file), flushed, renamed over.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io("create the directory of", path))?;
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state.json");
    let tmp = path.with_file_name(format!("{name}.{}-{n}.tmp", std::process::id()));
    {
        let mut file = File::create(&tmp).map_err(io("write", &tmp))?;
        file.write_all(bytes).map_err(io("write", &tmp))?;
        file.sync_all().map_err(io("flush", &tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io("replace", path))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn read_if_any(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { path: path.to_path_buf(), action: "read", source }),
    }
}

fn remove_if_any(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io { path: path.to_path_buf(), action: "remove", source }),
    }
}

impl LocalDir {
    /// Who holds the OS lock: the note its holder writes right after taking it. A note
    /// missing, or left by a holder that is gone, is the moment before the new holder's is
    /// written: read again for a little while.
    fn holder(&self) -> Result<LockInfo, LockError> {
        for _ in 0..100 {
            if let Some(info) = self.lock_info()? {
                return Ok(info);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Ok(LockInfo {
            user: "unknown".into(),
            host: "unknown".into(),
            pid: 0,
            command: "(a run that has not said who it is)".into(),
            since: crate::now(),
            expires: None,
            version: None,
        })
    }

    pub fn new(dir: &Path, deployment: &str) -> LocalDir {
        LocalDir { path: state_path(dir, deployment) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sibling(&self, name: &str) -> PathBuf {
        self.path.with_file_name(name)
    }
}

/// An OS lock on `<deployment>/lock`, released when this is dropped or the process ends.
#[derive(Debug)]
struct LocalLock {
    file: File,
    path: PathBuf,
    info: PathBuf,
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, _path: &Path) -> bool {
    true
}

impl Held for LocalLock {
    fn lost(&self) -> Option<String> {
        None
    }
}

impl Drop for LocalLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.info);
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
        // The deployment's directory goes with its last file (a destroyed deployment).
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

impl Backend for LocalDir {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn read(&self) -> Result<Option<Stored>, Error> {
        Ok(read_if_any(&self.path)?.map(|bytes| Stored { bytes, version: None }))
    }

    fn write(&self, bytes: &[u8], _expected: Option<&str>) -> Result<Option<String>, Error> {
        write_atomically(&self.path, bytes)?;
        Ok(None)
    }

    fn delete(&self) -> Result<(), Error> {
        remove_if_any(&self.path)?;
        remove_if_any(&self.sibling("state.backup.json"))?;
        if let Some(dir) = self.path.parent() {
            // Only when nothing else (a lock another run holds) is left in it.
            let _ = std::fs::remove_dir(dir);
        }
        Ok(())
    }

    fn write_backup(&self, bytes: &[u8]) -> Result<(), Error> {
        write_atomically(&self.sibling("state.backup.json"), bytes)
    }

    fn read_backup(&self) -> Result<Option<Vec<u8>>, Error> {
        read_if_any(&self.sibling("state.backup.json"))
    }

    fn lock(&self, command: &str) -> Result<Box<dyn Held>, LockError> {
        let failed =
            |what: &str, e: std::io::Error| LockError::Failed(format!("cannot {what} {}: {e}", self.location()));
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| failed("create the directory of", e))?;
        let path = self.sibling("lock");
        // The holder removes the lock file before it lets go: a lock taken on a file that
        // is no longer at the path is no lock, and is taken again on the new file.
        let file = loop {
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| failed("open the lock of", e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Err(LockError::Held(Box::new(self.holder()?))),
                Err(std::fs::TryLockError::Error(e)) => return Err(failed("lock", e)),
            }
            if same_file(&file, &path) {
                break file;
            }
        };
        let info = self.sibling("lock.json");
        let text = serde_json::to_vec_pretty(&LockInfo::ours(command, None)).expect("lock info serialises");
        write_atomically(&info, &text).map_err(|e| LockError::Failed(e.to_string()))?;
        Ok(Box::new(LocalLock { file, path, info }))
    }

    /// The note of who holds the lock; a note left by a process of this host that is gone
    /// (killed before it could remove it) is no lock: the OS released it.
    fn lock_info(&self) -> Result<Option<LockInfo>, LockError> {
        let path = self.sibling("lock.json");
        let bytes = read_if_any(&path).map_err(|e| LockError::Failed(e.to_string()))?;
        let info: Option<LockInfo> = bytes.and_then(|b| serde_json::from_slice(&b).ok());
        Ok(info.filter(|i| i.host != crate::lock::host() || crate::lock::alive(i.pid)))
    }

    fn break_lock(&self, info: &LockInfo) -> Result<(), LockError> {
        // An OS lock dies with its holder: what is left is only the note of who held it.
        let path = self.sibling("lock");
        if let Ok(file) = File::options().write(true).open(&path) {
            if let Err(std::fs::TryLockError::WouldBlock) = file.try_lock() {
                return Err(LockError::Held(Box::new(info.clone())));
            }
            let _ = file.unlock();
        }
        remove_if_any(&self.sibling("lock.json")).map_err(|e| LockError::Failed(e.to_string()))
    }
}
