//! strato's AWS layer, the only crate that imports `aws-sdk-*`.
//!
//! - [`client`]: clients from the standard credential chain, with region, profile, endpoint
//!   override, deliberate retries and a count of every request;
//! - [`drivers`]: one module per kind of object behind one trait;
//! - [`meter`]: client-side rate limits shaped like AWS's token buckets;
//! - [`poll`]: the one poller every wait goes through;
//! - [`error`]: AWS errors classified by code, naming the call;
//! - [`provision`]: the engine's work for `provision` and `destroy`, on top of the state file.

pub mod client;
pub mod drivers;
pub mod error;
pub mod meter;
pub mod poll;
pub mod provision;

pub use client::{connect, CallCounter, Clients, Connection};
pub use drivers::DestroyOptions;
pub use provision::{
    csr_challenge, delete_csr_challenge, destroy_tasks, provision_tasks, resolve_intents, service_limits,
    unsupported_kinds, Deployment, Destroyer, Provisioner,
};
