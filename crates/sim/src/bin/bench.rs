//! `strato-sim-bench [--seeds N] [--spec FILE] [--json] [--out FILE] [--background F]`:
//! strato against the critical path and a Terraform-style policy on the simulated AWS,
//! over N seeds (default 100); a table on standard output, or JSON with `--json`, and the
//! JSON written to FILE with `--out`.

use std::path::PathBuf;
use std::process::ExitCode;

use strato_sim::bench::{json, run_seed, summarise, table, Setup};

struct Args {
    seeds: u64,
    spec: PathBuf,
    json: bool,
    out: Option<PathBuf>,
    setup: Setup,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        seeds: 100,
        spec: PathBuf::from("deploy-specs/wso2-apim-ei.toml"),
        json: false,
        out: None,
        setup: Setup::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--seeds" => {
                let v = value("--seeds")?;
                a.seeds = v.parse().map_err(|_| format!("--seeds: `{v}` is not a whole number"))?;
                if a.seeds == 0 {
                    return Err("--seeds: at least one seed".into());
                }
            }
            "--spec" => a.spec = PathBuf::from(value("--spec")?),
            "--json" => a.json = true,
            "--out" => a.out = Some(PathBuf::from(value("--out")?)),
            "--background" => {
                let v = value("--background")?;
                let f: f64 = v.parse().map_err(|_| format!("--background: `{v}` is not a number"))?;
                if !(0.0..0.95).contains(&f) {
                    return Err(format!("--background: {f} is not a share from 0 to 0.95"));
                }
                a.setup.background = f;
            }
            "-h" | "--help" => {
                return Err(
                    "usage: strato-sim-bench [--seeds N] [--spec FILE] [--json] [--out FILE] [--background F]".into()
                )
            }
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("strato-sim-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let graph = match strato_sim::load_graph(&args.spec) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("strato-sim-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let started = std::time::Instant::now();
    let results: Vec<_> = (1..=args.seeds).map(|seed| run_seed(&graph, seed, &args.setup)).collect();
    let real = started.elapsed();
    let summary = summarise(&results, &args.setup);
    let doc = json(&summary, &results);
    if let Some(path) = &args.out {
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("strato-sim-bench: cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print!("{}", table(&summary));
        println!(
            "real time: {:.2} s for {} seeds ({:.1} ms per seed: strato and TF-style, provision and destroy)",
            real.as_secs_f64(),
            args.seeds,
            real.as_secs_f64() * 1000.0 / args.seeds as f64
        );
    }
    ExitCode::SUCCESS
}
