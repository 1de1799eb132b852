//! Where a deployment's state lives (a local directory or an S3 prefix), the lock a run
//! holds on it, and the commands that look after them: `strato state`, `strato unlock` and
//! `strato list`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use strato_aws::state_s3::{S3State, S3Url};
use strato_aws::Connection;
use strato_state::{Backend, Held, LocalDir, LockError, LockInfo, Store};

use crate::{exit, pretty, Output};

/// Where states are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// `<dir>/<deployment>/state.json`.
    Local(PathBuf),
    /// `s3://bucket/prefix/<deployment>/state.json`.
    S3(S3Url),
}

impl std::str::FromStr for Location {
    type Err = String;

    /// A local directory, or `s3://bucket/prefix`; any other URL is refused rather than
    /// taken for a directory named `gs:`.
    fn from_str(s: &str) -> Result<Location, String> {
        match s.split_once("://") {
            Some(("s3", _)) => s.parse().map(Location::S3),
            Some((scheme, _)) if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '+') => {
                Err(format!("`{s}`: strato keeps state in a local directory or on S3 (`s3://bucket/prefix`), not at `{scheme}://` URLs"))
            }
            _ => Ok(Location::Local(PathBuf::from(s))),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(dir) => write!(f, "{}", dir.display()),
            Location::S3(url) => write!(f, "{url}"),
        }
    }
}

/// Where the state is, on the command line.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct StateArgs {
    /// Where deployment states are kept: a local directory (<DIR>/<deployment>/state.json)
    /// or an S3 prefix (s3://BUCKET/PREFIX, one object per deployment, with conditional
    /// writes and a lock). Default: the spec's `[state] location`, else `.strato`.
    #[arg(long = "state", visible_alias = "state-dir", value_name = "DIR|S3-URL")]
    pub location: Option<Location>,
    /// The KMS key an S3 state is encrypted with (SSE-KMS); without it, SSE-S3.
    #[arg(long, value_name = "KEY-ID")]
    pub state_kms_key: Option<String>,
}

impl StateArgs {
    /// The location given, else the spec's, else `.strato`.
    pub fn resolve(&self, spec: Option<&strato_spec::Spec>) -> Result<(Location, Option<String>), String> {
        let from_spec = spec.and_then(|s| s.state.as_ref());
        let location = match (&self.location, from_spec.and_then(|s| s.location.as_ref())) {
            (Some(l), _) => l.clone(),
            (None, Some(l)) => l.value.parse().map_err(|e| format!("[state] location: {e}"))?,
            (None, None) => Location::Local(PathBuf::from(".strato")),
        };
        let kms =
            self.state_kms_key.clone().or_else(|| from_spec.and_then(|s| s.kms_key.as_ref()).map(|k| k.value.clone()));
        Ok((location, kms))
    }
}

/// How long an S3 lock holds without renewal, on AWS's clock (scaled like every other
/// wait on an emulator that scales time), but never less than `MIN_LEASE` of real time:
/// it is renewed every third of it, and a renewal is a round trip to S3.
const LEASE: Duration = Duration::from_secs(120);
const MIN_LEASE: Duration = Duration::from_secs(10);

/// The store of one deployment's state.
pub fn backend(
    location: &Location,
    kms: Option<String>,
    connection: &Connection,
    deployment: &str,
) -> Box<dyn Backend> {
    match location {
        Location::Local(dir) => Box::new(LocalDir::new(dir, deployment)),
        Location::S3(url) => {
            let lease = LEASE.div_f64(connection.time_scale.max(1.0)).max(MIN_LEASE);
            Box::new(S3State::new(connection, url, deployment, kms, lease))
        }
    }
}

/// The deployments with a state at `location`.
pub fn deployments(location: &Location, connection: &Connection) -> Result<Vec<String>, String> {
    match location {
        Location::Local(dir) => Ok(strato_state::deployments(dir)),
        Location::S3(url) => S3State::deployments(connection, url),
    }
}

/// The command line of this run, for the lock's owner.
fn command_line() -> String {
    let args: Vec<String> =
        std::env::args().map(|a| if a.contains(' ') || a.is_empty() { format!("{a:?}") } else { a }).collect();
    args.join(" ")
}

/// Takes the deployment's lock for this run, or says who holds it (exit 1).
pub fn lock(backend: &dyn Backend, name: &str, output: Output) -> Result<Box<dyn Held>, ExitCode> {
    match backend.lock(&command_line()) {
        Ok(held) => Ok(held),
        Err(LockError::Held(info)) => {
            report_locked(name, &info, output);
            Err(ExitCode::from(exit::FAILURE))
        }
        Err(LockError::Failed(e)) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(exit::FAILURE))
        }
    }
}

fn report_locked(name: &str, info: &LockInfo, output: Output) {
    let gone = info.gone(strato_state::now());
    match output {
        Output::Json => {
            let v = serde_json::json!({
                "success": false,
                "deployment": name,
                "locked_by": lock_json(info),
                "holder_gone": gone,
            });
            println!("{}", pretty(&v));
        }
        Output::Text => {
            eprintln!("error: deployment `{name}` is locked by {info}; this run changed nothing");
            match gone {
                Some(why) => eprintln!("help: the holder is gone ({why}): `strato unlock` breaks its lock"),
                None => eprintln!("help: wait for that run to end, then try again"),
            }
        }
    }
}

fn lock_json(info: &LockInfo) -> serde_json::Value {
    serde_json::json!({
        "user": info.user,
        "host": info.host,
        "pid": info.pid,
        "command": info.command,
        "since": info.since,
        "expires": info.expires,
    })
}

/// A state that cannot be opened or read: the error, with the way back when it is damaged.
pub(crate) fn unreadable(e: &strato_state::Error) -> ExitCode {
    eprintln!("error: {e}");
    if matches!(e, strato_state::Error::Corrupt { .. }) {
        eprintln!("help: `strato state recover` restores the previous good state, kept beside it");
    }
    ExitCode::from(exit::FAILURE)
}

/// The open intents a run that died left in the state, for the operator.
pub fn note_unfinished(store: &Store, quiet: bool) {
    let journal = &store.state().journal;
    if journal.is_empty() || quiet {
        return;
    }
    let by: std::collections::BTreeSet<&str> = journal.iter().map(|i| i.by.as_str()).collect();
    eprintln!(
        "note: the last run ({}) stopped with {} AWS call(s) unanswered or unrecorded; each is reconciled before anything else:",
        by.into_iter().collect::<Vec<_>>().join(", "),
        journal.len()
    );
    for i in journal.iter().take(12) {
        eprintln!("  {} {}", i.call, i.address);
    }
    if journal.len() > 12 {
        eprintln!("  ... and {} more", journal.len() - 12);
    }
}

/// The deployment a state command is about: the spec's, `--deployment`, or the only one
/// in the store.
#[derive(clap::Args, Clone)]
pub struct Which {
    /// Path of the deploy spec (TOML); only its deployment name, region and `[state]` are
    /// read.
    pub spec: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: crate::Overrides,
    #[command(flatten)]
    pub aws: crate::deploy::AwsArgs,
}

/// The deployment a command about a stored state is for, and where its state is.
pub struct Named {
    pub name: String,
    /// The spec's region, when a spec is given.
    pub region: Option<String>,
    pub location: Location,
    pub kms: Option<String>,
    /// For the store: the spec's region, else --region, else us-east-1 (an S3 store must be
    /// reached before the state says which region the deployment is in).
    pub connection: Connection,
}

/// The deployment a spec names (with its overrides), or `--deployment`, or the only one in
/// the store; invalid input is reported, with exit 2.
pub fn named(
    spec: Option<&std::path::Path>,
    overrides: &crate::Overrides,
    aws: &crate::deploy::AwsArgs,
    output: Output,
) -> Result<Named, ExitCode> {
    let invalid = |msg: String| {
        eprintln!("error: {msg}");
        ExitCode::from(exit::INVALID_INPUT)
    };
    let (name, region, spec) = match spec {
        Some(path) => {
            let doc = crate::deployment_of(path, overrides, output)?;
            let d = &doc.spec.deployment;
            (Some(d.name.value.clone()), Some(d.region.value.clone()), Some(doc.spec))
        }
        None => (overrides.deployment.clone(), None, None),
    };
    let (location, kms) = aws.state.resolve(spec.as_ref()).map_err(invalid)?;
    let store_region = region.clone().or_else(|| aws.region.clone()).unwrap_or_else(|| "us-east-1".into());
    let connection = crate::deploy::connection(aws, store_region)?;
    let name = match name {
        Some(n) => n,
        None => {
            match deployments(&location, &connection).map_err(|e| invalid(format!("{location}: {e}")))?.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(invalid(format!(
                        "no spec given, and {location} holds no state: pass a spec or --deployment"
                    )))
                }
                many => {
                    return Err(invalid(format!(
                    "no spec given, and {location} holds the state of {} deployments ({}): pass a spec or --deployment",
                    many.len(),
                    many.join(", ")
                )))
                }
            }
        }
    };
    Ok(Named { name, region, location, kms, connection })
}

/// The deployment's name, the connection to its store, and its state.
fn open(which: &Which, output: Output) -> Result<(String, Connection, Box<dyn Backend>), ExitCode> {
    let n = named(which.spec.as_deref(), &which.overrides, &which.aws, output)?;
    let backend = backend(&n.location, n.kms, &n.connection, &n.name);
    Ok((n.name, n.connection, backend))
}

/// `strato unlock`: breaks the lock of a run that is gone.
pub fn unlock(which: &Which, yes: bool, output: Output) -> ExitCode {
    let (name, _, backend) = match open(which, output) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let info = match backend.lock_info() {
        Ok(Some(info)) => info,
        Ok(None) => {
            match output {
                Output::Json => println!("{}", pretty(&serde_json::json!({ "deployment": name, "locked": false }))),
                Output::Text => eprintln!("Deployment `{name}` is not locked."),
            }
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let Some(why) = info.gone(strato_state::now()) else {
        // A local lock held by a live process, or a lease still renewed.
        report_locked(&name, &info, output);
        eprintln!("error: its holder may still be running: the lock is not broken");
        return ExitCode::from(exit::FAILURE);
    };
    if !yes {
        eprintln!("Deployment `{name}` is locked by {info}; {why}.");
        if !crate::deploy::typed_yes(
            "Breaking the lock lets another run change the deployment. Type `yes` to break it: ",
        ) {
            eprintln!("Not broken (pass --yes to break it without asking).");
            return ExitCode::from(exit::INVALID_INPUT);
        }
    }
    match backend.break_lock(&info) {
        Ok(()) => {
            match output {
                Output::Json => println!(
                    "{}",
                    pretty(&serde_json::json!({ "deployment": name, "broken": lock_json(&info), "reason": why }))
                ),
                Output::Text => eprintln!("Lock of `{name}` broken ({why})."),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

#[derive(clap::Subcommand)]
pub enum StateCommand {
    /// List the recorded objects (address, kind, status, id) and any unfinished calls.
    List {
        #[command(flatten)]
        which: Which,
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Print the state document as stored (JSON).
    Show {
        #[command(flatten)]
        which: Which,
        /// The previous good state (as the last run that wrote found it) instead.
        #[arg(long)]
        backup: bool,
    },
    /// Replace a damaged state with the previous good one, kept beside it. Objects created
    /// after that state are found again by their tags on the next provision.
    Recover {
        #[command(flatten)]
        which: Which,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `strato state ...`.
pub fn state(command: &StateCommand) -> ExitCode {
    match command {
        StateCommand::List { which, output } => list_objects(which, *output),
        StateCommand::Show { which, backup } => show(which, *backup),
        StateCommand::Recover { which, yes } => recover(which, *yes),
    }
}

fn list_objects(which: &Which, output: Output) -> ExitCode {
    let (name, _, backend) = match open(which, output) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let store = match Store::load(backend) {
        Ok(Ok(store)) => store,
        Ok(Err(backend)) => {
            eprintln!("error: deployment `{name}` has no state at {}", backend.location());
            return ExitCode::from(exit::FAILURE);
        }
        Err(e) => return unreadable(&e),
    };
    let s = store.state();
    match output {
        Output::Json => {
            let objects: Vec<serde_json::Value> = s
                .objects
                .iter()
                .map(|(a, o)| serde_json::json!({ "address": a, "kind": o.kind, "status": o.status, "id": o.id }))
                .collect();
            let v = serde_json::json!({
                "deployment": s.deployment,
                "deployment_id": s.deployment_id,
                "region": s.region,
                "serial": s.serial,
                "location": store.location(),
                "objects": objects,
                "journal": s.journal,
            });
            println!("{}", pretty(&v));
        }
        Output::Text => {
            println!(
                "Deployment `{}` ({}) in {}: {} objects, serial {}, at {}",
                s.deployment,
                s.deployment_id.as_deref().unwrap_or("no id"),
                s.region,
                s.objects.len(),
                s.serial,
                store.location()
            );
            for (a, o) in &s.objects {
                let status = serde_json::to_value(o.status).ok().and_then(|v| v.as_str().map(str::to_string));
                println!("  {a:<60} {:<8} {}", status.unwrap_or_default(), o.id.as_deref().unwrap_or("-"));
            }
            for i in &s.journal {
                println!("  unfinished: {} {} (by {})", i.call, i.address, i.by);
            }
        }
    }
    ExitCode::SUCCESS
}

fn show(which: &Which, backup: bool) -> ExitCode {
    let (name, _, backend) = match open(which, Output::Text) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let bytes = if backup { backend.read_backup() } else { backend.read().map(|s| s.map(|s| s.bytes)) };
    match bytes {
        Ok(Some(b)) => {
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(&b);
            ExitCode::SUCCESS
        }
        Ok(None) => {
            let what = if backup { "no previous state" } else { "no state" };
            eprintln!("error: deployment `{name}` has {what} at {}", backend.location());
            ExitCode::from(exit::FAILURE)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

fn recover(which: &Which, yes: bool) -> ExitCode {
    let (name, _, backend) = match open(which, Output::Text) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let _held = match lock(backend.as_ref(), &name, Output::Text) {
        Ok(h) => h,
        Err(code) => return code,
    };
    let backup = match backend.read_backup() {
        Ok(Some(b)) => b,
        Ok(None) => {
            eprintln!("error: deployment `{name}` has no previous state to recover (at {})", backend.location());
            return ExitCode::from(exit::FAILURE);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let previous = match strato_state::parse("the previous state", &backup) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}; nothing recovered");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let current = backend.read();
    let damaged = match &current {
        Ok(Some(s)) => strato_state::parse(&backend.location(), &s.bytes).err().map(|e| e.to_string()),
        Ok(None) => Some("missing".into()),
        Err(e) => Some(e.to_string()),
    };
    eprintln!(
        "The previous state of `{name}` has {} objects (serial {}); the current one is {}.",
        previous.objects.len(),
        previous.serial,
        damaged.as_deref().map_or("readable".to_string(), |d| format!("unusable: {d}"))
    );
    if !yes && !crate::deploy::typed_yes("Type `yes` to replace the current state with it: ") {
        eprintln!("Nothing recovered (pass --yes to recover without asking).");
        return ExitCode::from(exit::INVALID_INPUT);
    }
    let version = current.ok().flatten().map(|s| s.version.unwrap_or_default());
    match backend.write(&backup, version.as_deref()) {
        Ok(_) => {
            eprintln!("Recovered. Run `strato plan` to see what the state now lacks or records wrongly.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

/// `strato list`: the deployments in a state store, with their status; with `--tagged`,
/// also the deployments whose objects carry strato's tags in the region.
pub fn list(aws: &crate::deploy::AwsArgs, tagged: bool, output: Output) -> ExitCode {
    let (location, kms) = match aws.state.resolve(None) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::INVALID_INPUT);
        }
    };
    let region = aws.region.clone().unwrap_or_else(|| "us-east-1".into());
    let connection = match crate::deploy::connection(aws, region.clone()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let names = match deployments(&location, &connection) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {location}: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let mut rows = Vec::new();
    for name in &names {
        let backend = backend(&location, kms.clone(), &connection, name);
        let lock = backend.lock_info().ok().flatten();
        let row = match Store::load(backend) {
            Ok(Ok(store)) => {
                let s = store.state();
                let pending = s.objects.values().filter(|o| o.id.is_none()).count();
                let status = match (&lock, s.journal.is_empty() && pending == 0) {
                    (Some(_), _) => "locked (a run is under way)",
                    (None, true) => "settled",
                    (None, false) => "interrupted (provision or destroy again to finish)",
                };
                serde_json::json!({
                    "deployment": name, "deployment_id": s.deployment_id, "region": s.region,
                    "objects": s.objects.len(), "status": status,
                    "locked_by": lock.as_ref().map(lock_json),
                })
            }
            Ok(Err(_)) => serde_json::json!({ "deployment": name, "status": "no state" }),
            Err(e) => serde_json::json!({ "deployment": name, "status": format!("damaged: {e}") }),
        };
        rows.push(row);
    }
    let mut found = Vec::new();
    if tagged {
        let r = crate::deploy::runtime().block_on(async {
            let clients = strato_aws::connect(&connection).await;
            strato_aws::preflight::identity(&clients, &connection).await?;
            strato_aws::ownership::tagged_deployments(&clients, None).await.map_err(|e| e.to_string())
        });
        match r {
            Ok(f) => found = f,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(exit::FAILURE);
            }
        }
    }
    match output {
        Output::Json => {
            let tagged: Vec<serde_json::Value> = found
                .iter()
                .map(|t| serde_json::json!({ "deployment": t.name, "deployment_id": t.id, "objects": t.objects.len(), "in_store": names.contains(&t.name) }))
                .collect();
            let v = serde_json::json!({ "location": location.to_string(), "deployments": rows, "tagged": tagged, "region": region });
            println!("{}", pretty(&v));
        }
        Output::Text => {
            println!("Deployments in {location}: {}", rows.len());
            for r in &rows {
                println!(
                    "  {:<24} {:<4} objects  {}",
                    r["deployment"].as_str().unwrap_or_default(),
                    r["objects"].as_u64().map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
                    r["status"].as_str().unwrap_or_default()
                );
            }
            if tagged {
                println!("Tagged in {region}: {}", found.len());
                for t in &found {
                    let note = if names.contains(&t.name) {
                        ""
                    } else {
                        "  (no state here: `strato destroy --sweep` removes it)"
                    };
                    println!(
                        "  {:<24} {:<4} objects  id {}{note}",
                        t.name,
                        t.objects.len(),
                        t.id.as_deref().unwrap_or("none")
                    );
                }
            }
        }
    }
    ExitCode::SUCCESS
}
