//! What the commands write to the terminal. `println!` and `eprintln!` panic when the
//! stream is broken (a closed `| head`, a full disk): results on stdout fail the command
//! with an I/O error instead, and progress, warnings and prompts on stderr are dropped, so
//! a publish never dies half-way over a log line.

use std::io::{self, Write};

use netboot_compile::error::Error;

/// A command's result on stdout.
pub fn print(text: &str) -> Result<(), Error> {
    io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(Error::io("<stdout>"))
}

/// Progress, a warning or a prompt on stderr; lost if stderr is broken.
pub fn to_stderr(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}
