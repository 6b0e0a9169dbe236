//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::Format;

#[derive(Debug, Parser)]
#[command(
    name = "netbootc",
    version,
    about = "Compiles a fleet's KDL definitions into a netboot bundle"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the config and render every script in memory; writes nothing, no network.
    Check {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        output: DiagnosticArgs,
    },
    /// Check, then write the bundle (objects, manifest, `current` last).
    Build {
        #[command(flatten)]
        bundle: OutDirArgs,
        #[command(flatten)]
        output: DiagnosticArgs,
        /// Remove objects the new release no longer references.
        #[arg(long)]
        clean: bool,
        /// Download cache for image URLs [default: $XDG_CACHE_HOME/netbootc/images]
        #[arg(long, env = "NETBOOTC_IMAGE_CACHE")]
        image_cache: Option<PathBuf>,
    },
    /// Print the iPXE script a machine will boot (by name, MAC or UUID).
    Render {
        /// Machine name, MAC address (any separator or case) or UUID.
        machine: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Rewrite the KDL files in canonical format.
    Fmt {
        #[command(flatten)]
        config: ConfigArgs,
        /// List files that are not formatted and exit 1, changing nothing.
        #[arg(long)]
        check: bool,
    },
    /// Upload the built bundle to a store (gs://, s3://, file://, a directory) and point
    /// its `current` at it. Exit 1 if another publisher changed `current` meanwhile.
    Publish(crate::store_commands::PublishArgs),
    /// List a store's releases, newest first.
    Releases(crate::store_commands::ReleasesArgs),
    /// Point a store's `current` back at an earlier release.
    Rollback(crate::store_commands::RollbackArgs),
    /// Delete objects no longer reachable from the newest releases.
    Gc(crate::store_commands::GcArgs),
    /// Show what changes between two releases (store URLs or bundle directories).
    Diff(crate::store_commands::DiffArgs),
    /// Write a local CA, a server certificate for localhost, ECDSA and RSA client
    /// certificates and a CRL, for trying the servers with mutual TLS. Not for production.
    DevCerts {
        /// Directory to write the PEM files into (created if missing).
        dir: PathBuf,
        /// Another DNS name or IP address for the server certificate (besides localhost,
        /// 127.0.0.1 and ::1), e.g. the LAN address the origin listens on; repeatable.
        #[arg(long = "san", value_name = "NAME|IP")]
        names: Vec<String>,
    },
    /// Write the script to embed in an iPXE build (`make ... EMBED=<file>`): bring up the
    /// network with DHCP and chain-load the site's dispatcher, retrying until it answers.
    IpxeBootstrap {
        #[command(flatten)]
        config: ConfigArgs,
        /// Write the script to this file instead of stdout.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Print a shell completion script for netbootc to stdout.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print netbootc's man page (roff) to stdout, or write one page per command.
    Man {
        /// Write netbootc.1 and netbootc-<command>.1 for every command into this directory
        /// (created if missing) instead of printing netbootc.1.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Directory holding `machines/` and `profiles/`.
    #[arg(
        long = "config",
        short = 'c',
        env = "NETBOOTC_CONFIG",
        default_value = "."
    )]
    pub dir: PathBuf,
}

/// The config directory and the bundle directory built from it: `build` writes there,
/// `publish` and `diff` read it, so every command finds the same directory.
#[derive(Debug, Args)]
pub struct OutDirArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The bundle directory [default: <config>/out]
    #[arg(short, long, alias = "from", env = "NETBOOTC_OUT", value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl OutDirArgs {
    /// `--out`, else `$NETBOOTC_OUT`, else `out/` inside the config directory.
    pub fn dir(&self) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| self.config.dir.join("out"))
    }
}

#[derive(Debug, Default, Args)]
pub struct DiagnosticArgs {
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Treat warnings as errors.
    #[arg(long)]
    pub deny_warnings: bool,
}
