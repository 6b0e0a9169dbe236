//! `netbootc publish | releases | rollback | gc | diff`: the command line over
//! [`netboot_store`], which does the work. Here: arguments, the question before a change,
//! progress on a terminal, and what is printed.

mod diff;
mod gc;
mod publish;
mod releases;
mod rollback;

pub use diff::diff;
pub use gc::gc;
pub use publish::publish;
pub use releases::releases;
pub use rollback::rollback;

use std::io::{self, BufRead, IsTerminal, Write};

use netboot_bundle::Digest;
use netboot_store::{Location, StoreError};

use crate::cli::StoreWriteArgs;
use crate::error::Error;
use crate::output::to_stderr;

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::io("<tokio runtime>"))
}

/// Asks on a terminal; `--yes` or no terminal answers yes.
fn confirm(question: &str, yes: bool) -> Result<(), Error> {
    if yes || !io::stdin().is_terminal() || !io::stderr().is_terminal() {
        return Ok(());
    }
    to_stderr(&format!("{question} [y/N] "));
    let _ = io::stderr().flush();
    let mut answer = String::new();
    io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(Error::io("<stdin>"))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Error::Declined)
    }
}

/// `url` opened for a command that writes to it.
fn open_for_writing(
    url: &str,
    create: bool,
    args: &StoreWriteArgs,
) -> Result<Location, StoreError> {
    let mut location = Location::open(url, create)?;
    if args.allow_unconditional_store {
        location.allow_unconditional = true;
        to_stderr(&format!(
            "warning: {}: --allow-unconditional-store: conditional writes are not checked; if another netbootc writes this store at the same time, a release can be lost\n",
            location.label
        ));
    }
    Ok(location)
}

fn short(d: &Digest) -> String {
    d.hex()[..12].to_owned()
}
