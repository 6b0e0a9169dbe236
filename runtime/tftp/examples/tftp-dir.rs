//! Serves a directory over TFTP with netboot-proxy's TFTP server (benchmarks, manual
//! tests): `cargo run --release -p netboot-tftp --example tftp-dir -- DIR [ADDR]`.
//! The TFTP flags (`--tftp-max-blksize`, …) are netboot-proxy's.

use std::sync::Arc;

use clap::Parser;
use netboot_tftp::{DirFiles, TftpArgs, TftpMetrics};

#[derive(Debug, Parser)]
struct Cli {
    /// Directory to serve.
    dir: std::path::PathBuf,
    /// UDP address to listen on.
    #[arg(default_value = "127.0.0.1:6969")]
    listen: std::net::SocketAddr,
    #[command(flatten)]
    tftp: TftpArgs,
    #[command(flatten)]
    log: netboot_http::flags::LogArgs,
}

fn main() -> Result<(), String> {
    let cli = Cli::parse();
    cli.log.init();
    let limits = cli.tftp.limits()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let socket = tokio::net::UdpSocket::bind(cli.listen)
            .await
            .map_err(|e| format!("binding {}: {e}", cli.listen))?;
        let shutdown = netboot_http::Shutdown::new();
        tokio::spawn(netboot_http::process::cancel_on_signal(shutdown.clone()));
        let metrics = Arc::new(TftpMetrics::default());
        netboot_tftp::serve(
            socket,
            Arc::new(DirFiles::new(cli.dir)),
            limits,
            metrics.clone(),
            shutdown,
        )
        .await;
        let mut out = netboot_http::metrics::Exposition::new("tftp_dir");
        metrics.render(&mut out);
        eprint!("{}", out.finish());
        Ok(())
    })
}
