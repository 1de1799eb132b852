//! `strato iam-policy`: the least-privilege IAM policy for a spec, printed as JSON. Made
//! without AWS from the spec's kinds, its deployment name and region, and where its state is
//! kept; the table of calls and the statements are `strato_aws::drivers::policy`'s.

use std::collections::BTreeSet;
use std::process::ExitCode;

use strato_aws::drivers::policy::{self, StateBucket, Target};

use crate::state::{Location, StateArgs};
use crate::{exit, pretty, Overrides};

/// The only output: the policy document is JSON.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum JsonOnly {
    Json,
}

#[derive(clap::Args)]
pub(crate) struct IamPolicyArgs {
    /// Path of the deploy spec (TOML).
    spec: std::path::PathBuf,
    #[command(flatten)]
    overrides: Overrides,
    /// AWS region; must agree with the spec's `[deployment] region` when given.
    #[arg(long)]
    region: Option<String>,
    /// The AWS account id to put in the policy's ARNs; `*` without it.
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    #[command(flatten)]
    state: StateArgs,
    /// Output format: the policy is a JSON document.
    #[arg(long, value_enum, default_value = "json")]
    output: JsonOnly,
}

pub(crate) fn iam_policy(args: &IamPolicyArgs) -> ExitCode {
    let spec =
        crate::SpecArgs { spec: args.spec.clone(), output: crate::Output::Text, overrides: args.overrides.clone() };
    let checked = match crate::check(&spec) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let invalid = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(exit::INVALID_INPUT)
    };
    let d = &checked.doc.spec.deployment;
    if let Some(r) = args.region.as_ref().filter(|r| **r != d.region.value) {
        return invalid(format!("--region {r} disagrees with the spec, which deploys to {}", d.region.value));
    }
    // An account id is twelve digits ("Your AWS account ID", AWS Account Management guide).
    if let Some(a) = args.account.as_ref().filter(|a| a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit())) {
        return invalid(format!("--account {a} is not an AWS account id (12 digits)"));
    }
    let (location, kms_key) = match args.state.resolve(Some(&checked.doc.spec)) {
        Ok(l) => l,
        Err(e) => return invalid(e),
    };
    let state = match location {
        Location::S3(url) => Some(StateBucket { bucket: url.bucket, prefix: url.prefix, kms_key }),
        Location::Local(_) => None,
    };
    let kinds: BTreeSet<_> = checked.graph.nodes().iter().map(|n| n.kind).collect();
    let target = Target {
        deployment: d.name.value.clone(),
        region: d.region.value.clone(),
        kinds,
        state,
        account: args.account.clone(),
    };
    println!("{}", pretty(&policy::document(&target)));
    ExitCode::SUCCESS
}
