//! `netbootc completions` and `netbootc man`: generated from the clap definitions, so they
//! cannot drift from the command line.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use netboot_compile::error::Error;

use crate::cli::Cli;
use crate::output;

/// `completions`: the script for `shell` on stdout.
pub fn completions_command(shell: clap_complete::Shell) -> Result<(), Error> {
    let mut stdout = io::stdout().lock();
    completions(shell, &mut stdout);
    stdout.flush().map_err(Error::io("<stdout>"))
}

/// `man`: the top-level page on stdout, or every page into `out_dir`.
pub fn man_command(out_dir: Option<&Path>) -> Result<(), Error> {
    match out_dir {
        None => man_page(&mut io::stdout().lock()).map_err(Error::io("<stdout>")),
        Some(dir) => {
            for path in man_pages(dir)? {
                output::print(&format!("wrote {}\n", path.display()))?;
            }
            Ok(())
        }
    }
}

/// Writes the completion script for `shell` to `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "netbootc", out);
}

/// Writes netbootc.1 (every command listed, each flag of the top level) to `out`.
pub fn man_page(out: &mut dyn Write) -> io::Result<()> {
    clap_mangen::Man::new(command()).render(out)
}

/// Writes netbootc.1 and one `netbootc-<command>.1` per command into `dir`; returns the
/// files written, top-level page first.
pub fn man_pages(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let top = command();
    let mut pages = vec![top.clone()];
    pages.extend(top.get_subcommands().filter(|c| !c.is_hide_set()).cloned());
    let mut written = Vec::with_capacity(pages.len());
    for page in pages {
        let man = clap_mangen::Man::new(page);
        let path = dir.join(man.get_filename());
        let mut bytes = Vec::new();
        man.render(&mut bytes).map_err(Error::io(&path))?;
        netboot_bundle::write_atomic(&path, &bytes, false)?;
        written.push(path);
    }
    Ok(written)
}

/// The command as the pages describe it: built, so subcommands are named
/// `netbootc-<command>`, and without clap's `help` subcommand (it has no page of its own).
fn command() -> clap::Command {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    command
}
