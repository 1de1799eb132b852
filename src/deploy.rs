//! `strato provision`, `destroy` and `status`: the commands that touch AWS (or an emulator).
//!
//! Each one validates first (an invalid spec costs no AWS call), opens the deployment's
//! state file, runs the engine with live progress, and ends with one summary: text for
//! people, or one JSON document for scripts. Ctrl-C stops new work, lets running calls
//! finish, keeps the state, and exits with 130.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use strato_aws::{Connection, Deployment};
use strato_engine::{Cancel, Event, Options, Outcome, Report, Task};
use strato_graph::plan::Action;
use strato_graph::Graph;
use strato_state::Store;

use crate::progress::{print_summary, secs, Renderer, Style};
use crate::{check, exit, pretty, Output};

/// Where and how to reach AWS, and where the state lives.
#[derive(clap::Args, Clone)]
pub struct AwsArgs {
    /// AWS region; must agree with the spec's `[deployment] region` when given.
    #[arg(long)]
    pub region: Option<String>,
    /// Named profile from the shared AWS config and credentials files.
    #[arg(long)]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (an emulator such as moto or LocalStack).
    /// Without it, AWS_ENDPOINT_URL and then the real AWS endpoints apply.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    #[command(flatten)]
    pub state: crate::state::StateArgs,
}

/// How to run the engine.
#[derive(clap::Args, Clone)]
pub struct RunArgs {
    /// At most this many AWS objects being created or deleted at once; an object that only
    /// waits to become ready or gone does not count.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub parallelism: u16,
    /// After a failure, go on with everything that does not depend on it (destroy always
    /// does).
    #[arg(long)]
    pub keep_going: bool,
    /// Print nothing but errors.
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also print the objects left unchanged and, on a terminal, every status change.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// After the run (also one that failed or was interrupted), draw it as a Gantt chart with
    /// its critical path: FILE.svg, or FILE.html (the chart in a page, with tooltips).
    #[arg(long, value_name = "FILE", value_parser = crate::timeline::parse)]
    pub timeline: Option<crate::timeline::TimelineFile>,
    /// The deployment the run is of, for the timeline's title.
    #[arg(skip)]
    pub deployment: String,
}

struct Target {
    deployment: Deployment,
    connection: Connection,
    store: Store,
    /// The deployment's lock, held for the whole run (provision, destroy); released when
    /// dropped.
    _lock: Option<Arc<dyn strato_state::Held>>,
}

/// Validates the spec and opens the deployment's state; with `lock`, takes the
/// deployment's lock first.
fn target(spec: &crate::SpecArgs, aws: &AwsArgs, lock: bool) -> Result<(crate::Checked, Target), ExitCode> {
    let output = spec.output;
    let checked = check(spec)?;
    let d = &checked.doc.spec.deployment;
    if let Some(r) = &aws.region {
        if *r != d.region.value {
            eprintln!("error: --region {r} disagrees with the spec, which deploys to {}", d.region.value);
            return Err(ExitCode::from(exit::INVALID_INPUT));
        }
    }
    let (location, kms) = aws.state.resolve(Some(&checked.doc.spec)).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(exit::INVALID_INPUT)
    })?;
    let connection = connection(aws, d.region.value.clone())?;
    let backend = crate::state::backend(&location, kms, &connection, &d.name.value);
    let held: Option<Arc<dyn strato_state::Held>> =
        if lock { Some(Arc::from(crate::state::lock(backend.as_ref(), &d.name.value, output)?)) } else { None };
    let store = match Store::open(backend, &d.name.value, &d.region.value) {
        Ok(mut s) => {
            if let Some(h) = &held {
                s.guard(h.clone());
            }
            s
        }
        Err(e) => return Err(crate::state::unreadable(&e)),
    };
    if store.state().region != d.region.value {
        eprintln!(
            "error: the state at {} is for region {}, the spec says {}",
            store.location(),
            store.state().region,
            d.region.value
        );
        return Err(ExitCode::from(exit::INVALID_INPUT));
    }
    let deployment = Deployment {
        name: d.name.value.clone(),
        id: store.state().deployment_id.clone().unwrap_or_default(),
        tags: spec_tags(&checked.doc),
    };
    Ok((checked, Target { deployment, connection, store, _lock: held }))
}

/// The spec's tags, which every object carries.
pub fn spec_tags(doc: &strato_spec::Document) -> Vec<(String, String)> {
    doc.spec.deployment.tags.iter().map(|t| (t.key.value.clone(), t.value.value.clone())).collect()
}

/// Where and as whom to reach AWS for `region`, from the command line and the environment.
pub(crate) fn connection(aws: &AwsArgs, region: String) -> Result<Connection, ExitCode> {
    Ok(Connection {
        region,
        profile: aws.profile.clone(),
        endpoint_url: aws.endpoint_url.clone(),
        time_scale: time_scale()?,
        api_limits: api_limits(aws.endpoint_url.is_none())?,
    })
}

/// `STRATO_TIME_SCALE`: how many times faster than AWS the endpoint lets time pass, for
/// emulators that scale AWS's durations down (the project's AWS-faithful test bed). Waits,
/// retry windows and deadlines shrink by the factor; API rate limits stay AWS's. Unset for
/// AWS itself.
fn time_scale() -> Result<f64, ExitCode> {
    let Ok(raw) = std::env::var("STRATO_TIME_SCALE") else { return Ok(1.0) };
    match raw.trim().parse::<f64>() {
        Ok(f) if (1.0..=10_000.0).contains(&f) => Ok(f),
        _ => {
            eprintln!("error: STRATO_TIME_SCALE is `{raw}`; it must be a number from 1 to 10000 (1 for AWS itself)");
            Err(ExitCode::from(exit::INVALID_INPUT))
        }
    }
}

/// `STRATO_API_LIMITS`: `aws` keeps every call inside AWS's API rate limits, `none` sends
/// calls as fast as the work allows. By default `aws` on AWS and `none` on an endpoint given
/// with `--endpoint-url` (an emulator, which rarely throttles); the AWS-faithful test bed,
/// which throttles as AWS does, asks for `aws`.
fn api_limits(on_aws: bool) -> Result<bool, ExitCode> {
    match std::env::var("STRATO_API_LIMITS").as_deref() {
        Err(_) => Ok(on_aws),
        Ok("aws") => Ok(true),
        Ok("none") => Ok(false),
        Ok(other) => {
            eprintln!("error: STRATO_API_LIMITS is `{other}`; it must be `aws` or `none`");
            Err(ExitCode::from(exit::INVALID_INPUT))
        }
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime")
}

/// The exit code of the signal that stopped the run: 128 + its number, as shells report it
/// (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
static STOPPED_BY: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(exit::INTERRUPTED);

/// Ctrl-C, SIGTERM (what CI runners and `timeout` send) and SIGHUP (a closed terminal):
/// the first stops new work, lets running calls finish and be recorded, and keeps the
/// state; a second one exits at once.
fn on_interrupt(cancel: Cancel, quiet: bool) {
    tokio::spawn(async move {
        let Some(first) = next_signal().await else { return };
        STOPPED_BY.store(first.code, std::sync::atomic::Ordering::SeqCst);
        if !quiet {
            eprintln!(
                "\n{}: starting nothing new, letting running calls finish, keeping the state (again to quit now)",
                first.name
            );
        }
        cancel.cancel();
        if let Some(second) = next_signal().await {
            std::process::exit(i32::from(second.code));
        }
    });
}

struct Stop {
    name: &'static str,
    code: u8,
}

/// The next stop signal; `None` when none can be listened for.
async fn next_signal() -> Option<Stop> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
            return tokio::signal::ctrl_c().await.ok().map(|()| Stop { name: "interrupted", code: 130 });
        };
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.ok().map(|()| Stop { name: "interrupted", code: 130 }),
            _ = term.recv() => Some(Stop { name: "terminated (SIGTERM)", code: 143 }),
            _ = hup.recv() => Some(Stop { name: "hung up (SIGHUP)", code: 129 }),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.ok().map(|()| Stop { name: "interrupted", code: 130 })
    }
}

/// Runs the engine with live progress; returns its report and, for text output, the
/// summary table of what changed.
async fn run_engine(
    tasks: &[Task],
    work: Arc<dyn strato_engine::Work>,
    run: &RunArgs,
    cancel: &Cancel,
    verb: &'static str,
    planned: Vec<Option<&'static str>>,
    output: Output,
) -> (Report, Option<String>) {
    let style = Style::detect(output == Output::Json, run.quiet, run.verbose);
    let scale = time_scale().unwrap_or(1.0);
    let renderer = Arc::new(Mutex::new(Renderer::new(tasks, planned, verb, style, scale)));
    let ticker = {
        let r = renderer.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_millis(250));
            loop {
                every.tick().await;
                r.lock().unwrap_or_else(|p| p.into_inner()).tick();
            }
        })
    };
    let options = Options {
        parallelism: usize::from(run.parallelism),
        service_limits: strato_aws::service_limits(),
        keep_going: run.keep_going,
    };
    let r = renderer.clone();
    let mut recorder = crate::timeline::Recorder::new(tasks.len());
    let mut on_event = |e: &Event| {
        recorder.event(e);
        r.lock().unwrap_or_else(|p| p.into_inner()).event(e)
    };
    let report = strato_engine::run(tasks, work, &options, cancel, &mut on_event).await;
    ticker.abort();
    let mut renderer = renderer.lock().unwrap_or_else(|p| p.into_inner());
    renderer.finish();
    if let Some(file) = &run.timeline {
        let what = if verb == "deleted" { "destroy" } else { "provision" };
        let title = format!("{what} {}", run.deployment).trim_end().to_string();
        crate::timeline::draw(file, &recorder, &title, tasks, &report, output == Output::Json || run.quiet);
    }
    (report, renderer.summary_table())
}

/// `12 created, 3 updated`: the counts that are not zero.
fn counted(counts: &[(u64, &str)]) -> String {
    let parts: Vec<String> = counts.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
    parts.join(", ")
}

/// The exit code of a finished run.
fn exit_code(report: &Report) -> ExitCode {
    if report.interrupted {
        ExitCode::from(STOPPED_BY.load(std::sync::atomic::Ordering::SeqCst))
    } else if report.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::FAILURE)
    }
}

/// One word for how a run ended.
fn verdict(report: &Report) -> &'static str {
    if report.interrupted {
        "interrupted"
    } else if report.success() {
        "done"
    } else {
        "failed"
    }
}

/// The parts of a report every summary shows.
fn report_json(report: &Report, names: &[String], calls: &strato_aws::CallCounter) -> serde_json::Value {
    let failed: Vec<_> =
        report.failures().map(|(id, e)| serde_json::json!({ "address": names[id.0], "error": e.0 })).collect();
    let skipped: Vec<_> = report
        .outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match o {
            Outcome::Skipped { because } => {
                Some(serde_json::json!({ "address": names[i], "because": names[because.0] }))
            }
            _ => None,
        })
        .collect();
    let not_started: Vec<&str> = report
        .outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| **o == Outcome::NotStarted)
        .map(|(i, _)| names[i].as_str())
        .collect();
    serde_json::json!({
        "success": report.success(),
        "interrupted": report.interrupted,
        "elapsed_seconds": report.elapsed.as_secs_f64(),
        "failed": failed,
        "skipped": skipped,
        "not_started": not_started,
        "api_calls": calls.total(),
        "api_calls_by_operation": calls.by_operation(),
    })
}

/// What a run wants the operator to know beyond success and failure.
fn notices_json(notices: &[(String, String)]) -> serde_json::Value {
    notices.iter().map(|(a, m)| serde_json::json!({ "address": a, "notice": m })).collect()
}

fn print_notices(notices: &[(String, String)]) {
    for (address, message) in notices {
        eprintln!("note: {address}: {message}");
    }
}

/// Failures, each root cause once, and what did not happen because of them.
fn print_problems(report: &Report, verb_not: &str) {
    // Failures that share their cause (refused credentials, an unreachable endpoint) are
    // one problem: show it once, then name the other objects it hit.
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (_, e) in report.failures() {
        let (object, cause) = e.0.split_once(": ").unwrap_or(("", e.0.as_str()));
        let cause = cause.split_once(" failed: ").map_or(cause, |(_, c)| c);
        match groups.iter_mut().find(|(c, _)| *c == cause) {
            Some((_, objects)) => objects.push(object),
            None => {
                eprintln!("error: {e}");
                groups.push((cause, Vec::new()));
            }
        }
    }
    for (_, others) in groups.iter().filter(|(_, o)| !o.is_empty()) {
        eprintln!("  the same error for {} more: {}", others.len(), others.join(", "));
    }
    let skipped = report.count(|o| matches!(o, Outcome::Skipped { .. }));
    let not_started = report.count(|o| *o == Outcome::NotStarted);
    if skipped + not_started > 0 {
        eprintln!(
            "{} objects {verb_not}: {skipped} depend on a failure, {not_started} never started",
            skipped + not_started
        );
    }
}

pub fn provision(
    spec: &crate::SpecArgs,
    aws: &AwsArgs,
    run: &RunArgs,
    plan_args: &crate::plan::PlanArgs,
    yes: bool,
    check_services: bool,
) -> ExitCode {
    let output = spec.output;
    let (checked, mut target) = match target(spec, aws, true) {
        Ok(t) => t,
        Err(code) => return code,
    };
    crate::state::note_unfinished(&target.store, output == Output::Json);
    // A deployment gets its id on its first provision; it is written with the first intent.
    let had_state = target.store.state().deployment_id.is_some() || !target.store.state().objects.is_empty();
    // A state written before deployment ids existed: its objects carry the name only.
    let legacy = target.store.state().deployment_id.is_none() && !target.store.state().objects.is_empty();
    if target.deployment.id.is_empty() {
        match strato_aws::new_deployment_id() {
            Ok(id) => {
                target.store.assign_id(id.clone());
                target.deployment.id = id;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(exit::FAILURE);
            }
        }
    }
    let spec_doc = checked.doc;
    let graph = Arc::new(checked.graph);
    let unsupported = strato_aws::unsupported_kinds(&graph);
    if !unsupported.is_empty() {
        let list: Vec<&str> = unsupported.iter().map(|k| k.as_str()).collect();
        eprintln!("error: this strato cannot provision {} objects yet; nothing was sent to AWS", list.join(", "));
        return ExitCode::from(exit::INVALID_INPUT);
    }
    let d = target.deployment.clone();
    let quiet = output == Output::Json || run.quiet;
    runtime().block_on(async move {
        let cancel = Cancel::default();
        on_interrupt(cancel.clone(), quiet);
        let clients = strato_aws::connect(&target.connection).await;
        let account =
            match preflight(&clients, &target, &graph, (had_state, legacy), check_services, output, quiet).await {
                Ok(a) => a,
                Err(code) => return code,
            };
        // The plan: what changes against the state and the live objects.
        let state_now = target.store.state().clone();
        let live = if plan_args.refresh && !state_now.objects.is_empty() {
            let (live, errors) = strato_aws::apply::refresh(&clients, &state_now, &d).await;
            for e in errors.iter().filter(|_| !quiet) {
                eprintln!("warning: {e}; its record is trusted");
            }
            live
        } else {
            Default::default()
        };
        let plan = match crate::plan::compute(&graph, &d.tags, &state_now, &live, &plan_args.targets) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(exit::INVALID_INPUT);
            }
        };
        let refused: Vec<String> = plan.items.iter().filter_map(|p| p.refused.clone()).collect();
        if !refused.is_empty() {
            match output {
                Output::Json => {
                    let v = serde_json::json!({ "success": false, "deployment": d.name, "refused": refused });
                    print_summary(&v);
                }
                Output::Text => {
                    for r in &refused {
                        eprintln!("error: {r}");
                    }
                    eprintln!("The plan is refused: {} problem(s); nothing was changed.", refused.len());
                }
            }
            return ExitCode::from(exit::INVALID_INPUT);
        }
        // Creating is what a provision is for; changing or deleting what exists is shown
        // first and confirmed, as destroy is.
        // (An object gone from AWS is only made again, as a resumed run would.)
        let changes_existing =
            plan.items.iter().any(|p| matches!(p.action, Action::Update | Action::Replace | Action::Delete));
        if changes_existing && !yes {
            let refreshed = !live.is_empty();
            if output == Output::Text {
                eprint!("{}", crate::plan::to_text(&plan, &d.name, &target.connection.region, refreshed));
            }
            if !confirm_changes(&d.name) {
                if output == Output::Json {
                    let v = serde_json::json!({
                        "success": false,
                        "deployment": d.name,
                        "confirmation_needed": true,
                        "plan": crate::plan::to_json(&plan, &graph, refreshed),
                    });
                    print_summary(&v);
                }
                return ExitCode::from(exit::INVALID_INPUT);
            }
        }
        let apply = Arc::new(strato_aws::apply::Apply::new(&graph, plan, &state_now));
        let tasks = apply.tasks();
        let names: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
        // What the plan does to each task's object, for the progress lines.
        let planned: Vec<Option<&'static str>> = {
            let by_address: std::collections::HashMap<&str, Action> =
                apply.plan.items.iter().map(|p| (p.address.as_str(), p.action)).collect();
            tasks.iter().map(|t| by_address.get(t.name.as_str()).map(|a| a.as_str())).collect()
        };
        if !quiet {
            let p = &apply.plan;
            let planned = counted(&[
                (p.count(Action::Create) as u64, "to create"),
                (p.count(Action::Update) as u64, "to update"),
                (p.count(Action::Replace) as u64, "to replace"),
                (p.count(Action::Delete) as u64, "to delete"),
            ]);
            let planned = if planned.is_empty() { "no changes".to_string() } else { planned };
            eprintln!(
                "Provisioning `{}` in {}: {} objects, {planned}\n  state: {}",
                d.name,
                target.connection.region,
                graph.nodes().len(),
                target.store.location()
            );
        }
        // Write-ahead: the deployment's id is on disk before the first mutating call, so that
        // whatever a run stopped at any instant made is found as this deployment's.
        let mut store = target.store;
        // The calls a run that died left open were reconciled by the refresh and the plan
        // (and, for creates, are looked for by their token, name and tags before anything
        // is created again): they are closed with this write.
        if let Err(e) = store.forget_intents(|_| true).and_then(|()| store.update(|_| ())) {
            eprintln!("error: {e}");
            return ExitCode::from(exit::FAILURE);
        }
        if uses_csr_challenge(&graph) {
            if let Err(e) = strato_aws::ensure_csr_challenge(&clients, &d).await {
                eprintln!("error: the deployment's CSR challenge: {e}");
                return ExitCode::from(exit::FAILURE);
            }
        }
        let provisioner =
            strato_aws::Provisioner::new(clients, graph.clone(), store, d.clone(), cancel.clone(), account, apply);
        let run = RunArgs { deployment: d.name.clone(), ..run.clone() };
        let (report, table) =
            run_engine(&tasks, Arc::new(provisioner.clone()), &run, &cancel, "ready", planned, output).await;
        let counts = provisioner.counts();
        let (created, unchanged) = (counts.created, counts.unchanged);
        let calls = provisioner.clients().calls.clone();
        match output {
            Output::Json => {
                let mut v = report_json(&report, &names, &calls);
                v["deployment"] = d.name.clone().into();
                v["deployment_id"] = d.id.clone().into();
                v["outputs"] = crate::outputs::to_json(&crate::outputs::render(&spec_doc.spec, &provisioner.state()));
                v["created"] = created.into();
                v["updated"] = counts.updated.into();
                v["replaced"] = counts.replaced.into();
                v["deleted"] = counts.deleted.into();
                v["unchanged"] = unchanged.into();
                v["notices"] = notices_json(&provisioner.notices());
                print_summary(&v);
            }
            Output::Text => {
                if let Some(table) = table {
                    eprint!("{table}");
                }
                print_problems(&report, "not provisioned");
                print_notices(&provisioner.notices());
                let state = provisioner.state();
                let verdict = verdict(&report);
                if quiet && report.success() {
                    return exit_code(&report);
                }
                let changed = counted(&[
                    (created, "created"),
                    (counts.updated, "updated"),
                    (counts.replaced, "replaced"),
                    (counts.deleted, "deleted"),
                ]);
                let done = match (changed.is_empty(), unchanged) {
                    (true, n) => format!("no changes ({n} unchanged)"),
                    (false, 0) => changed,
                    (false, n) => format!("{changed}, {n} unchanged"),
                };
                eprintln!(
                    "Provision {verdict} in {}: {done}; {} recorded, {} AWS API calls",
                    secs(report.elapsed),
                    state.objects.len(),
                    calls.total()
                );
                if !report.success() && !state.objects.is_empty() {
                    eprintln!(
                        "Run `strato provision` again to resume, or `strato destroy` to remove what was created."
                    );
                }
                if report.success() && !spec_doc.spec.outputs.is_empty() {
                    println!("Outputs:");
                    print!("{}", crate::outputs::to_text(&crate::outputs::render(&spec_doc.spec, &state)));
                }
            }
        }
        exit_code(&report)
    })
}

/// `strato plan`: without a state, the objects to create; with one, the difference
/// against it and (unless `--refresh=false`) against the live objects, read with describe
/// calls only.
pub fn plan(
    args: &crate::SpecArgs,
    aws: &AwsArgs,
    plan_args: &crate::plan::PlanArgs,
    detailed_exitcode: bool,
) -> ExitCode {
    // With --detailed-exitcode, 2 means "changes": every error is 1 (terraform's convention).
    let error = |code: ExitCode| if detailed_exitcode { ExitCode::from(exit::FAILURE) } else { code };
    let (checked, target) = match target(args, aws, false) {
        Ok(t) => t,
        Err(code) => return error(code),
    };
    let state = target.store.state().clone();
    if state.objects.is_empty() {
        let code = crate::creation_plan(args, &checked.doc, &checked.graph, &plan_args.targets);
        return match code == ExitCode::SUCCESS {
            true if detailed_exitcode => ExitCode::from(2),
            true => code,
            false => error(code),
        };
    }
    let d = target.deployment.clone();
    let live = if plan_args.refresh {
        match read_live(&target, &state, args.output) {
            Ok((live, errors)) => {
                for e in &errors {
                    eprintln!("warning: {e}; its record is trusted");
                }
                live
            }
            Err(code) => return error(code),
        }
    } else {
        Default::default()
    };
    let plan = match crate::plan::compute(&checked.graph, &d.tags, &state, &live, &plan_args.targets) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return error(ExitCode::from(exit::INVALID_INPUT));
        }
    };
    let cost = crate::plan::CostView::new(&checked.graph, Some(&state), &target.connection.region);
    match args.output {
        Output::Json => {
            let mut v = crate::plan::to_json(&plan, &checked.graph, plan_args.refresh);
            v["deployment"] = d.name.clone().into();
            v["region"] = target.connection.region.clone().into();
            v["cost"] = cost.as_ref().map(crate::plan::cost_json).unwrap_or_default();
            println!("{}", pretty(&v));
        }
        Output::Text => {
            print!("{}", crate::plan::to_text(&plan, &d.name, &target.connection.region, plan_args.refresh));
            print!("{}", cost.as_ref().map(crate::plan::cost_text).unwrap_or_default());
        }
    }
    let changes = plan.changes().next().is_some();
    if plan.items.iter().any(|p| p.refused.is_some()) {
        return error(ExitCode::from(exit::INVALID_INPUT));
    }
    if detailed_exitcode && changes {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// Every recorded object as AWS reports it (describe calls only), after the identity check;
/// the objects that could not be read are named in the errors. An identity problem is
/// reported as the preflight reports it, with exit 2.
fn read_live(
    target: &Target,
    state: &strato_state::State,
    output: Output,
) -> Result<(std::collections::BTreeMap<String, strato_graph::plan::Live>, Vec<String>), ExitCode> {
    let r = runtime().block_on(async {
        let clients = strato_aws::connect(&target.connection).await;
        strato_aws::preflight::identity(&clients, &target.connection).await?;
        Ok::<_, String>(strato_aws::apply::refresh(&clients, state, &target.deployment).await)
    });
    r.map_err(|e| {
        report_preflight(&[e], &[], output);
        ExitCode::from(exit::INVALID_INPUT)
    })
}

/// Destroy flags beyond the common ones.
#[derive(clap::Args, Clone)]
pub struct DestroyArgs {
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Delete databases without taking a final snapshot.
    #[arg(long)]
    pub skip_final_snapshot: bool,
    /// Turn off deletion protection (databases, load balancers) and delete, instead of
    /// refusing.
    #[arg(long)]
    pub lift_deletion_protection: bool,
    /// Also find, by their tags and names, the spec's objects the state does not record
    /// (a state lost or damaged, a run killed before it recorded them), and delete them
    /// with the rest. Only objects tagged with this deployment's id are touched. Needs the
    /// spec.
    #[arg(long)]
    pub sweep: bool,
    /// With --sweep and no state: the deployment id to sweep, when AWS holds objects of
    /// more than one deployment of the same name.
    #[arg(long, value_name = "ID", requires = "sweep")]
    pub deployment_id: Option<String>,
}

/// What a destroy is told to destroy: a spec (only its `[deployment]` name, region and
/// `[state]` are read, so a spec whose templates or key files are gone still names its
/// deployment), or a deployment name and the state store.
pub struct DestroyTarget<'a> {
    pub spec: Option<&'a Path>,
    pub overrides: &'a crate::Overrides,
}

/// The deployment a destroy is about, and the state it works from, locked.
fn destroy_target(what: &DestroyTarget<'_>, aws: &AwsArgs, output: Output) -> Result<Target, ExitCode> {
    let invalid = |msg: String| {
        eprintln!("error: {msg}");
        ExitCode::from(exit::INVALID_INPUT)
    };
    let crate::state::Named { name, region, location, kms, connection: store } =
        crate::state::named(what.spec, what.overrides, aws, output)?;
    let backend = crate::state::backend(&location, kms.clone(), &store, &name);
    let held: Arc<dyn strato_state::Held> = Arc::from(crate::state::lock(backend.as_ref(), &name, output)?);
    let store = match Store::load(backend) {
        Ok(Ok(s)) => Some(s),
        Ok(Err(_)) => None,
        Err(e) => return Err(crate::state::unreadable(&e)),
    };
    if let (Some(s), Some(r)) = (&store, &region) {
        if s.state().region != *r {
            return Err(invalid(format!(
                "the state at {} is for region {}, the spec says {r}",
                s.location(),
                s.state().region
            )));
        }
    }
    let region = match (&store, region, &aws.region) {
        (Some(s), _, _) => s.state().region.clone(),
        (None, Some(r), _) => r,
        (None, None, Some(r)) => r.clone(),
        (None, None, None) => String::new(),
    };
    if let Some(r) = aws.region.as_ref().filter(|r| !region.is_empty() && **r != region) {
        return Err(invalid(format!("--region {r} disagrees with the deployment, which is in {region}")));
    }
    let connection = connection(aws, region.clone())?;
    let mut store = match store {
        Some(s) => s,
        None => {
            let backend = crate::state::backend(&location, kms, &connection, &name);
            Store::open(backend, &name, &region).map_err(|e| crate::state::unreadable(&e))?
        }
    };
    store.guard(held.clone());
    let deployment = Deployment { name, id: store.state().deployment_id.clone().unwrap_or_default(), tags: Vec::new() };
    Ok(Target { deployment, connection, store, _lock: Some(held) })
}

/// Final snapshots the destroy took, from its notices.
fn final_snapshots(notices: &[(String, String)]) -> Vec<serde_json::Value> {
    notices
        .iter()
        .filter_map(|(a, m)| {
            let name = m.strip_prefix("final snapshot ")?;
            Some(serde_json::json!({ "address": a, "snapshot": name }))
        })
        .collect()
}

pub fn destroy(
    what: &DestroyTarget<'_>,
    aws: &AwsArgs,
    run: &RunArgs,
    args: &DestroyArgs,
    targets: &[String],
    output: Output,
) -> ExitCode {
    let yes = args.yes;
    let options = strato_aws::DestroyOptions {
        skip_final_snapshot: args.skip_final_snapshot,
        lift_deletion_protection: args.lift_deletion_protection,
    };
    let mut target = match destroy_target(what, aws, output) {
        Ok(t) => t,
        Err(code) => return code,
    };
    crate::state::note_unfinished(&target.store, output == Output::Json);
    let mut swept = false;
    if args.sweep {
        match sweep(what, args, &mut target, output) {
            Ok(true) => swept = true,
            Ok(false) => {}
            Err(code) => return code,
        }
    }
    let d = target.deployment.clone();
    let only = match targeted(target.store.state(), targets) {
        Ok(only) => only,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::INVALID_INPUT);
        }
    };
    let count = only.as_ref().map_or(target.store.state().objects.len(), |o| o.len());
    if count == 0 {
        return nothing_recorded(target, output);
    }
    if !yes && !confirm(&d.name, &target.connection.region, count) {
        return ExitCode::from(exit::INVALID_INPUT);
    }
    let quiet = output == Output::Json || run.quiet;
    if !quiet {
        eprintln!("Destroying `{}` in {} ({count} objects)", d.name, target.connection.region);
    }
    let mut store = target.store;
    runtime().block_on(async move {
        let cancel = Cancel::default();
        on_interrupt(cancel.clone(), quiet);
        let clients = strato_aws::connect(&target.connection).await;
        if let Err(e) = strato_aws::preflight::identity(&clients, &target.connection).await {
            report_preflight(&[e], &[], output);
            return ExitCode::from(exit::INVALID_INPUT);
        }
        // Objects an interrupted run recorded only as intents are looked for first.
        if store.state().objects.values().any(|o| o.id.is_none()) {
            match strato_aws::resolve_intents(&clients, &mut store, &d).await {
                Ok((_, errors)) => {
                    for e in errors.iter().filter(|_| !quiet) {
                        eprintln!("warning: {e}");
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(exit::FAILURE);
                }
            }
        }
        // Deletes are idempotent (already gone is success) and an unanswered create was
        // just looked for: what a run that died left open is reconciled.
        if let Err(e) = store.forget_intents(|_| true) {
            eprintln!("error: {e}");
            return ExitCode::from(exit::FAILURE);
        }
        // Nothing is deleted unless the whole destroy can proceed: nothing recorded belongs
        // to someone else, nothing is protected (unless that is to be lifted).
        let mut doomed = store.state().clone();
        if let Some(only) = &only {
            doomed.objects.retain(|a, _| only.contains(a));
        }
        let checked =
            strato_aws::ownership::check_recorded(&clients, &doomed, &d.id, options.lift_deletion_protection).await;
        if !checked.problems.is_empty() {
            report_refusal(&d.name, &checked.problems, output);
            return ExitCode::from(exit::FAILURE);
        }
        let count = doomed.objects.len();
        let (tasks, addresses, implied) = strato_aws::destroy_tasks(&doomed);
        // What could not be checked is not deleted by this run, nor what it sits in.
        let blocked = checked.unchecked.into_iter().map(|(a, e)| (a, format!("not checked before the destroy: {e}")));
        let destroyer =
            strato_aws::Destroyer::new(clients.clone(), store, d.clone(), cancel.clone(), addresses.clone(), options)
                .blocking(blocked.collect())
                .implying(implied);
        // A destroy goes on with everything that does not depend on a failure (a service
        // that does not answer stops only what is under it), so that one run removes all
        // it can and names the rest.
        let run = RunArgs { keep_going: true, deployment: d.name.clone(), ..run.clone() };
        let (report, table) =
            run_engine(&tasks, Arc::new(destroyer.clone()), &run, &cancel, "deleted", Vec::new(), output).await;
        // The challenge is made at the start of a provision that has instances, before any of
        // them exists: whatever the state recorded, it goes with the deployment (if it is
        // this deployment's), and before the state does: a run killed in between leaves the
        // state, which still knows the deployment's id, for the next destroy to finish.
        let emptied = report.success() && only.is_none() && destroyer.state().objects.is_empty();
        let mut removed = false;
        if emptied {
            match strato_aws::delete_csr_challenge(&clients, &d).await {
                Ok(()) => removed = destroyer.finish().unwrap_or(false),
                Err(e) => eprintln!("warning: the deployment's CSR challenge parameter was not deleted: {e}; the state is kept for the next destroy"),
            }
        }
        let leftovers = if swept && removed { sweep_leftovers(&clients, &d).await } else { Vec::new() };
        let left = match &only {
            Some(only) => destroyer.state().objects.keys().filter(|a| only.contains(*a)).count(),
            None => destroyer.state().objects.len(),
        };
        let calls = destroyer.clients().calls.clone();
        let notices = destroyer.notices();
        match output {
            Output::Json => {
                let mut v = report_json(&report, &addresses, &calls);
                v["deployment"] = d.name.clone().into();
                v["deleted"] = (count - left).into();
                v["remaining"] = left.into();
                v["final_snapshots"] = final_snapshots(&notices).into();
                v["swept"] = swept.into();
                v["leftovers"] = leftovers.clone().into();
                v["notices"] = notices_json(&notices);
                print_summary(&v);
            }
            Output::Text => {
                if let Some(table) = table {
                    eprint!("{table}");
                }
                print_problems(&report, "not deleted");
                print_notices(&notices);
                let verdict = verdict(&report);
                if quiet && report.success() && leftovers.is_empty() {
                    return exit_code(&report);
                }
                eprintln!(
                    "Destroy {verdict} in {}: {} deleted, {left} left{}; {} AWS API calls",
                    secs(report.elapsed),
                    count - left,
                    if removed { ", state file removed" } else { "" },
                    calls.total()
                );
                let snapshots = final_snapshots(&notices);
                if !snapshots.is_empty() {
                    let names: Vec<&str> = snapshots.iter().filter_map(|s| s["snapshot"].as_str()).collect();
                    eprintln!("Final snapshots kept: {}", names.join(", "));
                }
                if left > 0 {
                    eprintln!(
                        "The state still records the {left} objects not deleted; run `strato destroy` again to resume."
                    );
                }
                if !leftovers.is_empty() {
                    eprintln!(
                        "warning: {} object(s) tagged with this deployment remain, which the spec does not describe:",
                        leftovers.len()
                    );
                    for o in leftovers.iter().take(20) {
                        eprintln!("  {o}");
                    }
                }
            }
        }
        if !leftovers.is_empty() {
            return ExitCode::from(exit::FAILURE);
        }
        exit_code(&report)
    })
}

/// `destroy --sweep`: adds to the state an intent for every object of the spec it does not
/// record, under the deployment's id (from the state, `--deployment-id`, or the tags AWS
/// holds), so that the destroy's resolution finds each by its tags and names. `false` when
/// nothing is tagged with the deployment.
fn sweep(what: &DestroyTarget<'_>, args: &DestroyArgs, target: &mut Target, output: Output) -> Result<bool, ExitCode> {
    let invalid = |msg: String| {
        eprintln!("error: {msg}");
        ExitCode::from(exit::INVALID_INPUT)
    };
    let Some(path) = what.spec else {
        return Err(invalid("--sweep needs the spec: it says which objects to look for".into()));
    };
    let checked =
        crate::check(&crate::SpecArgs { spec: path.to_path_buf(), output, overrides: what.overrides.clone() })?;
    let name = target.deployment.name.clone();
    let recorded_id = target.store.state().deployment_id.clone();
    let connection = target.connection.clone();
    let ids = runtime().block_on(async {
        let clients = strato_aws::connect(&connection).await;
        strato_aws::preflight::identity(&clients, &connection).await?;
        strato_aws::ownership::tagged_deployments(&clients, Some(&name)).await.map_err(|e| e.to_string())
    });
    let tagged = match ids {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(ExitCode::from(exit::FAILURE));
        }
    };
    let ids: std::collections::BTreeSet<String> = tagged.iter().filter_map(|t| t.id.clone()).collect();
    let id = match (recorded_id.or_else(|| args.deployment_id.clone()), ids.len()) {
        (Some(id), _) => id,
        (None, 0) => return Ok(false),
        (None, 1) => ids.into_iter().next().unwrap_or_default(),
        (None, _) => {
            return Err(invalid(format!(
            "AWS holds objects of {} deployments named `{name}` (ids {}): pass --deployment-id to say which to sweep",
            ids.len(),
            ids.into_iter().collect::<Vec<_>>().join(", ")
        )))
        }
    };
    target.store.assign_id(id.clone());
    target.deployment.id = id;
    match strato_aws::sweep_intents(&checked.graph, &mut target.store) {
        Ok(n) => {
            if output == Output::Text {
                eprintln!(
                    "Sweeping `{name}` ({}): looking for {n} objects the state does not record",
                    target.deployment.id
                );
            }
            Ok(true)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(exit::FAILURE))
        }
    }
}

/// What a sweep left tagged with the deployment: objects the spec does not describe.
async fn sweep_leftovers(clients: &strato_aws::Clients, d: &Deployment) -> Vec<String> {
    match strato_aws::ownership::tagged_deployments(clients, Some(&d.name)).await {
        Ok(tagged) => {
            tagged.into_iter().filter(|t| t.id.as_deref() == Some(d.id.as_str())).flat_map(|t| t.objects).collect()
        }
        Err(e) => vec![format!("(cannot look for what is left: {e})")],
    }
}

/// The recorded objects a targeted destroy deletes: each target and everything the state
/// records as depending on it (AWS deletes dependents first). `None` without targets.
fn targeted(
    state: &strato_state::State,
    targets: &[String],
) -> Result<Option<std::collections::BTreeSet<String>>, String> {
    if targets.is_empty() {
        return Ok(None);
    }
    let mut only = std::collections::BTreeSet::new();
    for t in targets {
        if !state.objects.contains_key(t) {
            let hint = strato_spec::diag::did_you_mean(t, state.objects.keys().map(String::as_str))
                .map(|a| format!(" (did you mean `{a}`?)"))
                .unwrap_or_default();
            return Err(format!("--target {t}: the state records no object of that address{hint}"));
        }
        only.insert(t.clone());
        only.extend(crate::plan::dependents(state, t));
    }
    Ok(Some(only))
}

/// A destroy refused before anything was deleted.
fn report_refusal(name: &str, problems: &[String], output: Output) {
    match output {
        Output::Json => {
            let v = serde_json::json!({ "deployment": name, "success": false, "deleted": 0, "refused": problems });
            print_summary(&v);
        }
        Output::Text => {
            for p in problems {
                eprintln!("error: {p}");
            }
            eprintln!("Destroy refused: {} problem(s); nothing was deleted.", problems.len());
        }
    }
}

/// No state records any object: unless AWS holds objects tagged with the deployment's name
/// (a lost state), there is nothing to do but remove the deployment's CSR challenge, which a
/// provision stopped before its first create may have made.
fn nothing_recorded(mut target: Target, output: Output) -> ExitCode {
    let d = target.deployment.clone();
    let found = if target.connection.region.is_empty() {
        Vec::new()
    } else {
        let r = runtime().block_on(async {
            let clients = strato_aws::connect(&target.connection).await;
            strato_aws::preflight::identity(&clients, &target.connection).await?;
            let id = target.store.state().deployment_id.as_deref();
            let owner = strato_aws::ownership::Owner { name: &d.name, id, legacy: false };
            let found = strato_aws::ownership::strangers(&clients, &d.name, owner, target.store.state(), None)
                .await
                .map_err(|e| e.to_string())?;
            if found.is_empty() && id.is_some() {
                strato_aws::delete_csr_challenge(&clients, &d)
                    .await
                    .map_err(|e| format!("the deployment's CSR challenge parameter was not deleted: {e}"))?;
            }
            Ok::<_, String>(found)
        });
        match r {
            Ok(found) => found,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(exit::FAILURE);
            }
        }
    };
    if !found.is_empty() {
        let mut problems = vec![format!(
            "no object of `{}` is recorded in {}, but AWS holds {} object(s) tagged with its name:",
            d.name,
            target.store.location(),
            found.len()
        )];
        problems.extend(found.iter().take(12).map(|s| format!("  {s}")));
        problems.push(
            "strato deletes only what its state records: restore the state of this deployment (`strato state recover`), or, if they are this deployment's, remove them with `strato destroy SPEC --sweep`".into(),
        );
        report_refusal(&d.name, &problems, output);
        return ExitCode::from(exit::FAILURE);
    }
    match output {
        Output::Json => print_summary(&serde_json::json!({ "deployment": d.name, "success": true, "deleted": 0 })),
        Output::Text => {
            eprintln!("Nothing to destroy: no object of `{}` is recorded in {}", d.name, target.store.location())
        }
    }
    let _ = target.store.delete_file();
    ExitCode::SUCCESS
}

/// Whether any instance role may read the deployment's CSR challenge, which must then exist.
fn uses_csr_challenge(graph: &Graph) -> bool {
    graph
        .nodes()
        .iter()
        .any(|n| matches!(&n.desired, Some(strato_graph::Desired::InstanceRole { csr_challenge: true, .. })))
}

/// Everything checked before the first mutating call of a provision (see
/// `strato_aws::preflight`): who the credentials are, the zones, instance types and quotas
/// the spec needs, and anything in AWS that claims the deployment's names without being
/// its own. Problems are reported all at once, with exit 2; nothing was changed.
async fn preflight(
    clients: &strato_aws::Clients,
    target: &Target,
    graph: &Graph,
    (had_state, legacy): (bool, bool),
    check_services: bool,
    output: Output,
    quiet: bool,
) -> Result<strato_aws::Account, ExitCode> {
    let account = match strato_aws::preflight::identity(clients, &target.connection).await {
        Ok(a) => a,
        Err(e) => {
            report_preflight(&[e], &[], output);
            return Err(ExitCode::from(exit::INVALID_INPUT));
        }
    };
    let state = target.store.state();
    let mut findings = strato_aws::preflight::capacity(clients, graph, state).await;
    if check_services {
        findings.problems.extend(strato_aws::preflight::services(clients, graph).await);
    }
    let owner = strato_aws::ownership::Owner {
        name: &target.deployment.name,
        id: had_state.then_some(target.deployment.id.as_str()),
        legacy,
    };
    match strato_aws::ownership::strangers(clients, &target.deployment.name, owner, state, Some(graph)).await {
        Ok(found) if !found.is_empty() => {
            findings.problems.push(strangers_message(&target.deployment.name, had_state, &found))
        }
        Ok(_) => {}
        Err(e) => findings.problems.push(format!("cannot look for objects in the way of this deployment: {e}")),
    }
    if !findings.is_clear() {
        report_preflight(&findings.problems, &findings.notes, output);
        return Err(ExitCode::from(exit::INVALID_INPUT));
    }
    if output == Output::Text && !quiet {
        for note in &findings.notes {
            eprintln!("note: {note}");
        }
    }
    Ok(account)
}

/// What was found in the way, and what to do about it.
fn strangers_message(name: &str, had_state: bool, found: &[strato_aws::ownership::Stranger]) -> String {
    const SHOWN: usize = 12;
    // The objects that say most first: networks, instances, databases.
    let rank = |s: &strato_aws::ownership::Stranger| {
        let kind = s.what.split(' ').next().unwrap_or_default();
        ["vpc", "instance", "database", "load", "target", "IAM", "SSM", "key-pair", "key"]
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(usize::MAX)
    };
    let mut found = found.to_vec();
    found.sort_by_key(|s| rank(s));
    let mut msg = if had_state {
        format!(
            "{} object(s) in AWS claim deployment `{name}` or its names, but are not this deployment's:",
            found.len()
        )
    } else {
        format!(
            "deployment `{name}` has no state here, but {} object(s) in AWS already claim it or its names:",
            found.len()
        )
    };
    for s in found.iter().take(SHOWN) {
        msg += &format!("\n    {s}");
    }
    if found.len() > SHOWN {
        msg += &format!("\n    ... and {} more", found.len() - SHOWN);
    }
    msg += &format!(
        "\n  strato adopts nothing that is not this deployment's. If they are this deployment's and its state was lost, \
         restore the state file (or run from the directory that holds it, or `strato state recover`) or remove them with \
         `strato destroy SPEC --sweep`; if another deployment uses the name `{name}`, give this one another name \
         (`[deployment] name` or `--deployment`); objects made by hand must be renamed or removed by their owner."
    );
    msg
}

fn report_preflight(problems: &[String], notes: &[String], output: Output) {
    match output {
        Output::Json => {
            let v = serde_json::json!({
                "success": false,
                "preflight": { "problems": problems, "notes": notes },
            });
            print_summary(&v);
        }
        Output::Text => {
            for p in problems {
                eprintln!("error: {p}");
            }
            for n in notes {
                eprintln!("note: {n}");
            }
            eprintln!("Preflight found {} problem(s); nothing was created.", problems.len());
        }
    }
}

/// Asks the operator to agree to a plan that changes existing objects; never assumes
/// consent without a terminal.
fn confirm_changes(name: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        eprintln!("error: refusing to change existing objects of `{name}` without confirmation; pass --yes (standard input is not a terminal)");
        return false;
    }
    if !typed_yes(&format!("Apply these changes to `{name}`? Only `yes` is accepted: ")) {
        eprintln!("Not confirmed; nothing was changed.");
        return false;
    }
    true
}

/// Asks on the terminal; true only when the answer is `yes` (never when standard input is
/// not a terminal).
pub(crate) fn typed_yes(prompt: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).is_ok() && answer.trim() == "yes"
}

/// Asks the operator to type the deployment name; never assumes consent without a terminal.
fn confirm(name: &str, region: &str, count: usize) -> bool {
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "error: refusing to destroy `{name}` without confirmation; pass --yes (standard input is not a terminal)"
        );
        return false;
    }
    eprint!("Destroy deployment `{name}` in {region}: {count} AWS objects will be deleted.\nType the deployment name to confirm: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() || answer.trim() != name {
        eprintln!("Not confirmed; nothing was deleted.");
        return false;
    }
    true
}

/// `strato status`: the live objects against the state. Each recorded object is in sync,
/// missing, changed (attribute, expected, actual) or in transition; the spec's objects not
/// recorded are absent. Exits 0 only when every recorded object is in sync.
pub fn status(spec: &crate::SpecArgs, aws: &AwsArgs) -> ExitCode {
    let output = spec.output;
    let (checked, target) = match target(spec, aws, false) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let graph: &Graph = &checked.graph;
    let state = target.store.state().clone();
    let d = target.deployment.clone();
    if state.objects.is_empty() {
        match output {
            Output::Json => {
                let v = serde_json::json!({ "deployment": d.name, "in_sync": false, "objects": [], "not_recorded": graph.nodes().iter().map(|n| n.address.as_str()).collect::<Vec<_>>() });
                println!("{}", pretty(&v));
            }
            Output::Text => eprintln!(
                "Deployment `{}` has no state at {}: nothing is provisioned (run `strato provision`)",
                d.name,
                target.store.location()
            ),
        }
        return ExitCode::from(exit::FAILURE);
    }
    let (live, errors) = match read_live(&target, &state, output) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let mut rows: Vec<serde_json::Value> = Vec::new();
    let mut in_sync = true;
    for (address, obj) in &state.objects {
        let mut row = serde_json::json!({ "address": address, "kind": obj.kind, "id": obj.id });
        let (status, changed): (String, Vec<serde_json::Value>) = match (obj.id.as_ref(), live.get(address)) {
            (None, _) => ("pending".into(), Vec::new()),
            (Some(_), None) => ("unknown".into(), Vec::new()),
            (Some(_), Some(l)) if !l.exists => ("missing".into(), Vec::new()),
            (Some(_), Some(l)) => {
                let changed: Vec<serde_json::Value> = l
                    .drift(&obj.inputs)
                    .into_iter()
                    .filter(|_| !obj.inputs.is_empty())
                    .map(|(a, was, now)| serde_json::json!({ "attribute": a, "expected": was, "actual": now }))
                    .collect();
                match (&l.transition, changed.is_empty()) {
                    (_, false) => ("changed".into(), changed),
                    (Some(t), true) => (format!("in transition: {t}"), changed),
                    (None, true) => ("in sync".into(), changed),
                }
            }
        };
        in_sync &= status == "in sync";
        row["status"] = status.into();
        row["changed"] = changed.into();
        row["in_spec"] = graph.find(address).is_some().into();
        rows.push(row);
    }
    let absent: Vec<&str> =
        graph.nodes().iter().map(|n| n.address.as_str()).filter(|a| !state.objects.contains_key(*a)).collect();
    match output {
        Output::Json => {
            let v = serde_json::json!({
                "deployment": d.name,
                "region": target.connection.region,
                "in_sync": in_sync,
                "objects": rows,
                "not_recorded": absent,
                "errors": errors,
            });
            println!("{}", pretty(&v));
        }
        Output::Text => {
            let synced = rows.iter().filter(|r| r["status"] == "in sync").count();
            println!(
                "Deployment `{}` in {}: {synced} of {} recorded objects in sync with AWS ({})",
                d.name,
                target.connection.region,
                rows.len(),
                target.store.location()
            );
            for r in &rows {
                let address = r["address"].as_str().unwrap_or_default();
                let status = r["status"].as_str().unwrap_or_default();
                let id = r["id"].as_str().unwrap_or_default();
                let gone = if r["in_spec"] == false { " (no longer in the spec)" } else { "" };
                println!("  {address:<60} {status} {id}{gone}");
                for c in r["changed"].as_array().into_iter().flatten() {
                    let show = |v: &serde_json::Value| v.as_str().map_or("(absent)".to_string(), |s| format!("{s:?}"));
                    println!(
                        "      {}: expected {}, actual {}",
                        c["attribute"].as_str().unwrap_or_default(),
                        show(&c["expected"]),
                        show(&c["actual"])
                    );
                }
            }
            for a in &absent {
                println!("  {a:<60} not recorded (not provisioned)");
            }
            for e in &errors {
                eprintln!("warning: {e}");
            }
            if !in_sync {
                eprintln!("Not in sync: run `strato plan` to see what `strato provision` would repair.");
            }
        }
    }
    if in_sync && errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::FAILURE)
    }
}

pub fn outputs(spec: &crate::SpecArgs, aws: &AwsArgs) -> ExitCode {
    let output = spec.output;
    let (checked, target) = match target(spec, aws, false) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let store = target.store;
    if store.state().objects.is_empty() {
        let name = &target.deployment.name;
        eprintln!("error: deployment `{name}` has no state at {}; provision it first", store.location());
        return ExitCode::from(exit::FAILURE);
    }
    let rendered = crate::outputs::render(&checked.doc.spec, store.state());
    match output {
        Output::Json => println!("{}", pretty(&crate::outputs::to_json(&rendered))),
        Output::Text => print!("{}", crate::outputs::to_text(&rendered)),
    }
    if rendered.iter().all(|(_, v)| v.is_ok()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::FAILURE)
    }
}
