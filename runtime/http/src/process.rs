//! A server process's life: the runtime, the exit code, and the signals that end it.

use std::future::Future;

/// The whole `main` of a server after its flags are parsed: a Tokio runtime from `builder`
/// (the sink's is current-thread, so this crate does not force the multi-threaded
/// scheduler on it), `run` on it, and the exit code: 0, or 2 with the error on stderr
/// (once: the log goes to stderr too).
pub fn main_with(
    name: &str,
    mut builder: tokio::runtime::Builder,
    run: impl Future<Output = Result<(), String>>,
) -> std::process::ExitCode {
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            report(format_args!("{name}: cannot start the runtime: {e}"));
            return std::process::ExitCode::from(2);
        }
    };
    match runtime.block_on(run) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            report(format_args!("{name}: {e}"));
            std::process::ExitCode::from(2)
        }
    }
}

/// The exit's reason on stderr; `eprintln!` would panic (exit 101) if stderr is broken.
fn report(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Waits for SIGTERM or SIGINT, then cancels `shutdown`.
pub async fn cancel_on_signal(shutdown: crate::Shutdown) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop with SIGKILL");
        return;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    tracing::info!(
        signal = name,
        "shutting down: no new connections, finishing requests in flight"
    );
    shutdown.cancel();
}
