//! `netbootc`: the command line over [`netboot_compile`] (the pipeline), [`netboot_ipxe`]
//! (the script interpreter) and netboot-store (publishing). Argument parsing is in [`cli`];
//! each command is a module of [`commands`].

mod cli;
mod commands;
mod output;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use netboot_compile::error::Error;

use crate::cli::Cli;

fn main() -> ExitCode {
    ExitCode::from(run(std::env::args_os()))
}

/// Runs the command line and returns the process exit code: 0 clean, 1 diagnostics with
/// errors, 2 usage or I/O failure.
fn run(args: impl IntoIterator<Item = OsString>) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match commands::execute(cli.command) {
        Ok(()) => 0,
        Err(e) => {
            if e.exit_code() == 2 || matches!(e, Error::Store(_) | Error::Declined) {
                output::to_stderr(&format!("error: {e}\n"));
            }
            e.exit_code()
        }
    }
}
