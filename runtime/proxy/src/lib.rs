//! netboot-proxy: the boot proxy on the LAN (a Raspberry Pi next to the fleet).
//!
//! Work in progress: see issue 4.

pub mod tftp;

use netboot_listener::args::LogArgs;

/// netboot-proxy's command line. Every flag also reads an environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "netboot-proxy", version, about = "TFTP and LAN HTTP boot proxy")]
pub struct Config {
    #[command(flatten)]
    pub log: LogArgs,
}

/// Runs the proxy until SIGTERM or SIGINT.
pub async fn run(_config: Config) -> Result<(), String> {
    Err("not wired yet".into())
}
