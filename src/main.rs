//! The `strato` command line: reads arguments, calls the library crates, renders their
//! results for people (text) or scripts (`--output json`), and maps outcomes to exit codes
//! (0 success, 1 failure, 2 invalid input, 130 interrupted, 141 output cut off by a closed
//! pipe). Library crates never print.

#[macro_use]
mod out;
mod deploy;
mod generate;
mod iam;
mod outputs;
mod plan;
mod progress;
mod state;
mod timeline;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use strato_graph::{minutes, Durations, Graph, Kind};
use strato_spec::diag::{render_human, render_json};
use strato_spec::{Diagnostic, Document, Severity};

/// Provision the WSO2 API Manager + Enterprise Integrator platform on AWS from one deploy
/// spec, and tear it down again.
#[derive(Parser)]
#[command(name = "strato", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a deploy spec and report every problem at once (no AWS access).
    Validate(SpecArgs),
    /// Show what `provision` would do: without a state, every object it creates, in
    /// dependency order, with time estimates; against a deployment's state and its live
    /// objects (describe calls only), what it creates, updates in place, replaces and
    /// deletes, and what drifted.
    Plan {
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        aws: deploy::AwsArgs,
        #[command(flatten)]
        plan: plan::PlanArgs,
        /// Exit 0 when there is nothing to change, 2 when there is, 1 on any error.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Draw the dependency graph of the spec's AWS objects.
    Graph {
        /// Path of the deploy spec (TOML).
        spec: PathBuf,
        /// Drawing format: Graphviz DOT, Mermaid, JSON, or an SVG picture laid out by tier
        /// and availability zone (no external tools).
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
    },
    /// Make the deployment what the spec says: create what is missing, update in place or
    /// replace what changed (a node behind load balancers one member of its group at a
    /// time), delete what the spec no longer has, repair drift. Changes to existing objects
    /// are shown first and need confirmation (or --yes).
    Provision {
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        aws: deploy::AwsArgs,
        #[command(flatten)]
        run: deploy::RunArgs,
        #[command(flatten)]
        plan: plan::PlanArgs,
        /// Apply changes to existing objects without asking.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Before anything is created, ask each AWS service the spec needs (RDS, EFS, ELB,
        /// ACM, IAM) whether the endpoint serves it, and refuse the run if one does not (an
        /// emulator without that service).
        #[arg(long)]
        check_services: bool,
    },
    /// Delete every AWS object recorded for the deployment, in the order AWS requires. Works
    /// from the state alone: the spec only names the deployment, and may be left out.
    Destroy {
        /// Path of the deploy spec (TOML); only its `[deployment]` name and region and its
        /// `[state]` are read (all of it with --sweep). Without a spec, --deployment names
        /// the deployment (by default the only one in the state store).
        spec: Option<PathBuf>,
        #[command(flatten)]
        overrides: Overrides,
        /// Output for people (text) or scripts (json).
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
        #[command(flatten)]
        aws: deploy::AwsArgs,
        #[command(flatten)]
        run: deploy::RunArgs,
        #[command(flatten)]
        destroy: deploy::DestroyArgs,
        /// Only this recorded object and what depends on it. Repeatable.
        #[arg(long = "target", value_name = "ADDRESS")]
        targets: Vec<String>,
    },
    /// Print the least-privilege IAM policy (JSON) for every call provision, day-two
    /// updates and destroy make for the spec, scoped by the deployment's tags and names
    /// (no AWS access).
    IamPolicy(iam::IamPolicyArgs),
    /// Print the spec's outputs (URLs, addresses, an SSH line) from the recorded state.
    Outputs {
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        aws: deploy::AwsArgs,
    },
    /// Compare the live objects with the state (describe calls only): each recorded object
    /// in sync, missing, changed (which attribute, expected and actual) or in transition.
    /// Exits 0 only when every recorded object is in sync.
    Status {
        #[command(flatten)]
        spec: SpecArgs,
        #[command(flatten)]
        aws: deploy::AwsArgs,
    },
    /// The deployments in a state store, with their status (settled, interrupted, locked);
    /// with --tagged, also every deployment whose objects carry strato's tags in the region.
    List {
        #[command(flatten)]
        aws: deploy::AwsArgs,
        /// Also look in the region for objects tagged by strato (describe calls only).
        #[arg(long)]
        tagged: bool,
        /// Output for people (text) or scripts (json).
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Inspect a deployment's state, or recover the previous good one.
    #[command(subcommand)]
    State(state::StateCommand),
    /// Print a shell completion script to stdout, e.g. `strato completions bash >
    /// ~/.local/share/bash-completion/completions/strato`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print strato's manual page (roff) to stdout: `strato man | man -l -`; with a command,
    /// that command's page (`strato man plan`); with --dir, write every page to DIR.
    Man {
        /// The command whose page to print, e.g. `plan` or `state list`.
        command: Vec<String>,
        /// Write strato.1 and a page per command into this directory instead.
        #[arg(long, value_name = "DIR", conflicts_with = "command")]
        dir: Option<PathBuf>,
    },
    /// Break the lock of a run that is gone: its process is not running on this host, or
    /// its lease expired. A lock whose holder may still run is never broken.
    Unlock {
        #[command(flatten)]
        which: state::Which,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Output for people (text) or scripts (json).
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
    },
}

#[derive(clap::Args, Clone)]
pub(crate) struct SpecArgs {
    /// Path of the deploy spec (TOML).
    pub(crate) spec: PathBuf,
    /// Output for people (text) or scripts (json).
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) output: Output,
    #[command(flatten)]
    pub(crate) overrides: Overrides,
}

/// Many deployments from one spec: each name has its own state, lock and id.
#[derive(clap::Args, Clone, Debug, Default)]
pub(crate) struct Overrides {
    /// The deployment's name, instead of the spec's: the same as
    /// `--set deployment.name=NAME`.
    #[arg(long, value_name = "NAME")]
    pub(crate) deployment: Option<String>,
    /// Change one value of the spec: PATH=VALUE, e.g. `vpc.main.cidr=10.1.0.0/16`,
    /// `instance.apim.count=3`, `deployment.tags.Owner=team-a`. Repeatable; applied in
    /// order, after --overlay.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub(crate) set: Vec<strato_spec::Override>,
    /// A TOML file merged into the spec (tables key by key, `[[...]]` entries by name).
    #[arg(long, value_name = "FILE")]
    pub(crate) overlay: Option<PathBuf>,
}

impl Overrides {
    fn all(&self) -> Vec<strato_spec::Override> {
        let mut all = self.set.clone();
        if let Some(name) = &self.deployment {
            all.push(strato_spec::Override::deployment_name(name));
        }
        all
    }

    /// Reads the spec with the overlay and overrides applied.
    fn load(&self, path: &Path) -> Result<Document, String> {
        if self.overlay.is_none() && self.set.is_empty() && self.deployment.is_none() {
            return strato_spec::load(path).map_err(|e| format!("cannot read spec `{}`: {e}", path.display()));
        }
        strato_spec::load_with(path, self.overlay.as_deref(), &self.all()).map_err(|e| e.to_string())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Dot,
    Mermaid,
    Json,
    Svg,
}

/// Exit codes every subcommand keeps to.
mod exit {
    pub const FAILURE: u8 = 1;
    pub const INVALID_INPUT: u8 = 2;
    pub const INTERRUPTED: u8 = 130;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = run(cli);
    if out::closed() {
        return ExitCode::from(out::CLOSED_PIPE);
    }
    code
}

fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Plan { spec, aws, plan, detailed_exitcode } => deploy::plan(&spec, &aws, &plan, detailed_exitcode),
        Command::Graph { spec, format } => graph(&spec, format),
        Command::Provision { spec, aws, run, plan, yes, check_services } => {
            deploy::provision(&spec, &aws, &run, &plan, yes, check_services)
        }
        Command::Destroy { spec, overrides, output, aws, run, destroy, targets } => {
            let what = deploy::DestroyTarget { spec: spec.as_deref(), overrides: &overrides };
            deploy::destroy(&what, &aws, &run, &destroy, &targets, output)
        }
        Command::IamPolicy(args) => iam::iam_policy(&args),
        Command::Outputs { spec, aws } => deploy::outputs(&spec, &aws),
        Command::Status { spec, aws } => deploy::status(&spec, &aws),
        Command::List { aws, tagged, output } => state::list(&aws, tagged, output),
        Command::State(command) => state::state(&command),
        Command::Unlock { which, yes, output } => state::unlock(&which, yes, output),
        Command::Completions { shell } => generate::completions(shell),
        Command::Man { command, dir } => generate::man(&command, dir.as_deref()),
    }
}

/// A spec that passed every check, with its graph.
pub(crate) struct Checked {
    pub(crate) doc: Document,
    pub(crate) graph: Graph,
}

/// Loads, validates and builds the graph; on any error prints the diagnostics (text to
/// stderr, or the JSON report to stdout) and returns the exit code. Warnings alone do not
/// stop the command: they go to stderr as text.
pub(crate) fn check(args: &SpecArgs) -> Result<Checked, ExitCode> {
    let (checked, warnings) = check_with_warnings(args)?;
    if !warnings.is_empty() {
        eprint!("{}", render_human(&checked.doc.sources, &warnings));
    }
    Ok(checked)
}

/// Reads a spec and builds its graph; every diagnostic of both, sorted.
fn diagnose(path: &Path, overrides: &Overrides) -> Result<(Checked, Vec<Diagnostic>), String> {
    let doc = overrides.load(path)?;
    let graph = if doc.parsed { Graph::from_document(&doc) } else { Graph::default() };
    let mut diags: Vec<Diagnostic> = doc.diagnostics.iter().cloned().collect();
    diags.extend(strato_graph::check(&graph));
    strato_spec::diag::sort(&mut diags);
    Ok((Checked { doc, graph }, diags))
}

/// Prints the diagnostics of a spec with errors (text to stderr, or the JSON report to
/// stdout) and returns the exit code.
fn report_invalid(checked: &Checked, diags: &[Diagnostic], output: Output) -> ExitCode {
    match output {
        Output::Json => println!("{}", pretty(&render_json(&checked.doc.sources, diags))),
        Output::Text => eprint!("{}", render_human(&checked.doc.sources, diags)),
    }
    ExitCode::from(exit::INVALID_INPUT)
}

/// [`check`], handing back the warnings of a spec without errors instead of printing them.
fn check_with_warnings(args: &SpecArgs) -> Result<(Checked, Vec<Diagnostic>), ExitCode> {
    let (checked, diags) = diagnose(&args.spec, &args.overrides).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(exit::INVALID_INPUT)
    })?;
    if diags.iter().all(|d| d.severity == Severity::Warning) {
        return Ok((checked, diags));
    }
    Err(report_invalid(&checked, &diags, args.output))
}

/// The deployment a spec names, for `destroy`, which works from the state: a spec whose
/// user-data templates or key files are gone still names its deployment, so missing files
/// are only noted; any other problem is reported as `check` reports it.
pub(crate) fn deployment_of(path: &Path, overrides: &Overrides, output: Output) -> Result<Document, ExitCode> {
    let (checked, diags) = diagnose(path, overrides).map_err(|e| {
        eprintln!("error: {e}");
        eprintln!("help: destroy works from the state alone: leave the spec out and pass --deployment NAME");
        ExitCode::from(exit::INVALID_INPUT)
    })?;
    let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.severity == Severity::Error).collect();
    if !checked.doc.parsed || errors.iter().any(|d| d.code != "file-not-found") {
        return Err(report_invalid(&checked, &diags, output));
    }
    if !errors.is_empty() && output == Output::Text {
        eprintln!("note: some files the spec names are missing; destroy needs only the state, so it goes on");
    }
    Ok(checked.doc)
}

pub(crate) fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn validate(args: &SpecArgs) -> ExitCode {
    let (checked, warnings) = match check_with_warnings(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let d = &checked.doc.spec.deployment;
    match args.output {
        Output::Json => println!("{}", pretty(&render_json(&checked.doc.sources, &warnings))),
        Output::Text => {
            eprint!("{}", render_human(&checked.doc.sources, &warnings));
            let noted = match warnings.len() {
                0 => String::new(),
                1 => " (1 warning)".to_string(),
                n => format!(" ({n} warnings)"),
            };
            println!(
                "{}: valid: deployment `{}` in {}, {} AWS objects{noted}",
                args.spec.display(),
                d.name.value,
                d.region.value,
                checked.graph.nodes().len()
            )
        }
    }
    ExitCode::SUCCESS
}

/// The plan of a spec with no deployment yet: every object to create.
pub(crate) fn creation_plan(args: &SpecArgs, doc: &Document, graph: &Graph, targets: &[String]) -> ExitCode {
    // A graph that passed the cycle check always has an order.
    let mut order = graph.topological_order().unwrap_or_default();
    let empty = strato_state::State::new(&doc.spec.deployment.name.value, &doc.spec.deployment.region.value);
    let tags = deploy::spec_tags(doc);
    let plan = match plan::compute(graph, &tags, &empty, &Default::default(), targets) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::INVALID_INPUT);
        }
    };
    order.retain(|id| plan.get(graph.node(*id).address.as_str()).is_some());
    let cost = plan::CostView::new(graph, None, &doc.spec.deployment.region.value);
    if args.output == Output::Json {
        let mut v = plan::to_json(&plan, graph, false);
        v["cost"] = cost.as_ref().map(plan::cost_json).unwrap_or_default();
        println!("{}", pretty(&v));
        return ExitCode::SUCCESS;
    }
    let d = &doc.spec.deployment;
    let mut out = String::new();
    out += &format!(
        "Plan for deployment `{}` in {} ({} zones): {} objects to create\n",
        d.name.value,
        d.region.value,
        d.zones.len(),
        order.len()
    );
    // Kinds in the order their first object can start; objects in dependency order.
    let mut kinds: Vec<Kind> = Vec::new();
    for &id in &order {
        let k = graph.node(id).kind;
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    for k in kinds {
        let of_kind: Vec<_> = order.iter().filter(|&&id| graph.node(id).kind == k).collect();
        out += &format!("\n{k} ({})\n", of_kind.len());
        for &&id in &of_kind {
            let node = graph.node(id);
            // The name AWS knows the object by, where it knows it by name (a load balancer,
            // an RDS identifier); a derived one may be shortened to fit AWS's limit.
            if node.kind.known_by_name() {
                out += &format!("  + {} ({})\n", node.address, node.aws_name);
            } else {
                out += &format!("  + {}\n", node.address);
            }
        }
    }
    if let Some(est) = graph.estimate(&Durations::default()) {
        let path: Vec<&str> = est.critical_path.iter().map(|&id| graph.node(id).address.as_str()).collect();
        out += "\nEstimated wall time on AWS (typical durations):\n";
        out += &format!("  all objects in parallel:  {}\n", minutes(est.parallel_secs));
        out += &format!("  one object at a time:     {}\n", minutes(est.serial_secs));
        out += &format!("  critical path: {}\n", path.join(" -> "));
    }
    out += &cost.as_ref().map(plan::cost_text).unwrap_or_default();
    print!("{out}");
    ExitCode::SUCCESS
}

fn graph(spec: &Path, format: GraphFormat) -> ExitCode {
    let args = SpecArgs { spec: spec.to_path_buf(), output: Output::Text, overrides: Overrides::default() };
    let Checked { doc, graph } = match check(&args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let text = match format {
        GraphFormat::Dot => strato_graph::to_dot(&graph, &doc.spec.deployment.name.value),
        GraphFormat::Mermaid => strato_graph::to_mermaid(&graph),
        GraphFormat::Json => pretty(&strato_graph::to_json(&graph)) + "\n",
        GraphFormat::Svg => strato_graph::to_svg(&graph, &doc.spec.deployment.name.value),
    };
    print!("{text}");
    ExitCode::SUCCESS
}
