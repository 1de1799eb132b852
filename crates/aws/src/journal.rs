//! The write-ahead journal of AWS calls: before every mutating call the SDK makes for an
//! object (create, modify, tag, register, attach, delete, ...), the intent is made durable
//! in the deployment's state; once the call is answered the intent is closed, and the next
//! write of the state records its result. A call whose intent cannot be written is not made.
//!
//! Which object a call is for comes from the task that makes it ([`CALLER`], set around each
//! of the engine's tasks). Calls outside a task (reads of the preflight, of `status`) are
//! not journaled; none of them mutates.
//!
//! For tests of what a kill leaves behind, `STRATO_KILL_AT_CALL=N` makes the process kill
//! itself with SIGKILL at its N-th mutating call: after the call is answered and before its
//! result is recorded, or with `STRATO_KILL_WHEN=before`, after the intent is durable and
//! before the call is sent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// Where intents are written: the provisioner's or destroyer's state.
pub trait Journal: Send + Sync {
    /// Makes the intent durable; its number closes it.
    fn intend(&self, address: &str, call: &str) -> Result<u64, String>;
    fn close(&self, seq: u64);
}

/// The object a task works on, and its journal.
#[derive(Clone)]
pub struct Caller {
    pub address: String,
    pub journal: Arc<dyn Journal>,
}

tokio::task_local! {
    pub static CALLER: Caller;
}

/// Whether an operation changes anything: AWS names its reads `Describe*`, `Get*`, `List*`.
pub fn mutating(operation: &str) -> bool {
    !["Describe", "Get", "List", "Head"].iter().any(|p| operation.starts_with(p))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    Before,
    After,
}

/// The open intent of one operation, and its place among the process's mutating calls.
#[derive(Clone, Copy, Debug)]
struct Open {
    seq: Option<u64>,
    n: u64,
}

impl Storable for Open {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug)]
pub(crate) struct Journaling {
    kill: Option<(u64, When)>,
    calls: Arc<AtomicU64>,
}

impl Journaling {
    /// One per process: every client counts its mutating calls on the same counter.
    pub(crate) fn new(calls: Arc<AtomicU64>) -> Journaling {
        let at = std::env::var("STRATO_KILL_AT_CALL").ok().and_then(|v| v.trim().parse::<u64>().ok());
        let when = match std::env::var("STRATO_KILL_WHEN").as_deref() {
            Ok("before") => When::Before,
            _ => When::After,
        };
        Journaling { kill: at.map(|n| (n, when)), calls }
    }

    fn die_at(&self, n: u64, when: When) {
        if self.kill == Some((n, when)) {
            // SIGKILL: nothing of the process runs after it, as when a CI runner is killed.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}

impl Intercept for Journaling {
    fn name(&self) -> &'static str {
        "strato-journal"
    }

    // Once per operation, after its configuration (which names it) is in place; client
    // interceptors' `read_before_execution` runs before that.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(op) = cfg.load::<Metadata>().map(|m| m.name().to_string()) else { return Ok(()) };
        if !mutating(&op) {
            return Ok(());
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let seq = match CALLER.try_with(|c| c.journal.intend(&c.address, &op)) {
            Ok(Ok(seq)) => Some(seq),
            Ok(Err(e)) => return Err(format!("{op} not made: its intent could not be recorded: {e}").into()),
            Err(_) => None,
        };
        cfg.interceptor_state().store_put(Open { seq, n });
        self.die_at(n, When::Before);
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(open) = cfg.load::<Open>().copied() else { return Ok(()) };
        self.die_at(open.n, When::After);
        if let Some(seq) = open.seq {
            let _ = CALLER.try_with(|c| c.journal.close(seq));
        }
        Ok(())
    }
}
