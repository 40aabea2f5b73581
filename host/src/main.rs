//! The `netcap` binary: parses the command line, runs it, prints a fatal error once as
//! `netcap: <error chain>` and maps outcomes to exit codes (0 ok, 1 partial output, 2 fatal;
//! clap's usage errors are 2 as well).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = netcap::cli::Cli::parse();
    match netcap::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("netcap: {e:#}");
            ExitCode::from(2)
        }
    }
}
