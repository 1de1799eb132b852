//! strato's AWS layer, the only crate that imports `aws-sdk-*`.
//!
//! - [`client`]: clients from the standard credential chain, with region, profile, endpoint
//!   override, deliberate retries and a count of every request;
//! - [`drivers`]: one module per kind of object behind one trait;
//! - [`meter`]: client-side rate limits shaped like AWS's token buckets;
//! - [`poll`]: the one poller every wait goes through;
//! - [`error`]: AWS errors classified by code, naming the call;
//! - [`journal`]: every mutating call's intent made durable in the state before it is made;
//! - [`preflight`] and [`ownership`]: what is checked before the first mutating call:
//!   credentials, zones, instance types, quotas, and whose the objects in the way are;
//! - [`apply`]: a plan as engine tasks (updates, rolling replacements, removals) and the
//!   refresh that reads the live objects;
//! - [`state_s3`]: deployment state and locks on S3, with conditional writes;
//! - [`provision`]: the engine's work for `provision` and `destroy`, on top of the state file.

pub mod apply;
pub mod batch;
pub mod client;
pub mod drivers;
pub mod error;
pub mod journal;
pub mod meter;
pub mod ownership;
pub mod poll;
pub mod preflight;
pub mod provision;
pub mod state_s3;

pub use client::{connect, CallCounter, Clients, Connection};
pub use drivers::{Account, DestroyOptions};
pub use provision::{
    delete_csr_challenge, destroy_tasks, ensure_csr_challenge, implied_deletes, new_deployment_id, provision_tasks,
    resolve_intents, service_limits, sweep_intents, unsupported_kinds, Counts, Deployment, Destroyer, Provisioner,
};
