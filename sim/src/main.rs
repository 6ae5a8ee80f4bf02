//! `mirrorlab`: the command line. Each subcommand lives in its own library module; this file
//! only parses arguments and maps results to exit codes (0 ok, 1 a property or run failed,
//! 2 bad input).

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mirrorlab",
    version,
    about = "Model checker and discrete-event simulator of storage replication: atomic split, \
             no-copy second remote mirror, and what each copy mode costs.",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: anyhow::Result<ExitCode> = match cli.command {
        None => mirrorlab::demo::run().map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
