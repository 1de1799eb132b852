//! What strato knows of AWS that needs no SDK, in one place that the AWS drivers
//! (`strato-aws`) and the simulated AWS (`strato-sim`) share, so that what is benchmarked is
//! what runs:
//! - [`tasks`]: the engine tasks of a provision (one per graph node) and of a destroy (from
//!   the state, with the orderings AWS enforces), and the per-service concurrency limits;
//! - [`limits`]: AWS's documented token buckets, which calls draw from which, and the share
//!   of them strato allows itself;
//! - [`waits`]: how each kind's waits poll (the [`Backoff`](strato_engine::pace::Backoff)
//!   values), and the retry policy of every call.

pub mod limits;
pub mod tasks;
pub mod waits;

pub use tasks::{
    destroy_tasks, explicit_destroy_tasks, goes_with, implied_deletes, provision_tasks, service, service_limits,
};
