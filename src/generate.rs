//! Shell completions (clap_complete) and manual pages (clap_mangen), generated from the
//! same clap definition that parses the arguments, so they cannot fall behind it.

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::exit;

/// The CLI definition as the generators want it: no `help` subcommand (clap's own, which
/// would get a page and completions of its own), built so subcommands know their full
/// names (`strato-plan`).
fn definition() -> clap::Command {
    let mut cmd = crate::Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// `strato completions SHELL`: the script on stdout.
pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut cmd = crate::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "strato", &mut script);
    print!("{}", String::from_utf8_lossy(&script));
    ExitCode::SUCCESS
}

/// `strato man [COMMAND...]` (one page on stdout) or `strato man --dir DIR` (every page).
pub fn man(path: &[String], dir: Option<&Path>) -> ExitCode {
    let root = definition();
    if let Some(dir) = dir {
        return match clap_mangen::generate_to(root, dir) {
            Ok(()) => {
                eprintln!("wrote the manual pages to {}", dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot write the manual pages to {}: {e}", dir.display());
                ExitCode::from(exit::FAILURE)
            }
        };
    }
    let mut page = &root;
    for (i, name) in path.iter().enumerate() {
        match page.find_subcommand(name) {
            Some(sub) => page = sub,
            None => {
                let known: Vec<&str> = page.get_subcommands().map(|c| c.get_name()).collect();
                let of = if i == 0 { "strato".to_string() } else { format!("strato {}", path[..i].join(" ")) };
                eprintln!("error: `{of}` has no command `{name}`; its commands: {}", known.join(", "));
                return ExitCode::from(exit::INVALID_INPUT);
            }
        }
    }
    let mut roff = Vec::new();
    if let Err(e) = clap_mangen::Man::new(page.clone()).render(&mut roff) {
        eprintln!("error: cannot render the manual page: {e}");
        return ExitCode::from(exit::FAILURE);
    }
    print!("{}", String::from_utf8_lossy(&roff));
    ExitCode::SUCCESS
}
