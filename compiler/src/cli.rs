//! The command line, as clap sees it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use netboot_store::LOCATION_FORMS;
use netboot_store::publish::DEFAULT_CONCURRENCY;

use netboot_compile::report::Format;

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
    /// Print the iPXE script a machine will boot (by name, MAC or UUID), or one of its
    /// provisioning files (with stand-ins for its secrets).
    Render {
        /// Machine name, MAC address (any separator or case) or UUID.
        machine: String,
        /// Print this provisioning file of the machine instead (its `file` name), rendered
        /// with stand-ins for the secrets (`SECRET-<name>`, 0, false), never their values.
        #[arg(long, value_name = "NAME")]
        file: Option<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Simulate a machine's network boot (by name, MAC or UUID; an unknown MAC is an
    /// unregistered machine): every fetch, the route and object it resolves to, and how the
    /// boot ends. Errors elsewhere in the config are printed and do not stop it. Exit 1 if
    /// the machine would not boot as its KDL says, or cannot be resolved.
    Simulate {
        /// Machine name, MAC address or UUID.
        client: String,
        /// Firmware class [default: each class the site has a boot file for, of the
        /// machine's architecture]
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(<netboot_protocol::Firmware as netboot_protocol::Named>::NAMES))]
        firmware: Option<String>,
        /// The client's iPXE build: `debian-2019` (no HTTPS), `2.0` (HTTPS on EFI) or
        /// `custom` (HTTPS everywhere) [default: the site's `ipxe-build` for each class,
        /// else `2.0` in via-proxy mode, `custom` in direct mode]
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(<netboot_ipxe::IpxeBuild as netboot_protocol::Named>::NAMES))]
        ipxe: Option<String>,
        /// Simulate against this built bundle directory (its `current`) instead of the
        /// config compiled in memory.
        #[arg(long, value_name = "DIR")]
        bundle: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Show every value a machine resolves to (profile chain, images and digests, command
    /// line, template, variables, provisioning files, routes) and the file:line that set it,
    /// and what it boots on each firmware class. Errors elsewhere in the config are printed
    /// and do not stop it. Exit 1 if the machine would not boot as its KDL says, or cannot
    /// be resolved.
    Explain {
        /// Machine name, MAC address or UUID.
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
    /// Upload the built bundle to a store and point its `current` at it. Exit 1 if another
    /// publisher changed `current` meanwhile.
    Publish(PublishArgs),
    /// List a store's releases, newest first.
    Releases(ReleasesArgs),
    /// Point a store's `current` back at an earlier release.
    Rollback(RollbackArgs),
    /// Delete objects no longer reachable from the newest releases.
    Gc(GcArgs),
    /// Show what changes between two releases (store URLs or bundle directories).
    Diff(DiffArgs),
    /// What each machine did on its last boot, as a netboot-proxy saw it (`GET /status`),
    /// joined with the config: never seen, done, stuck, an old release, unknown MACs.
    /// Exit 0 when every machine seen is done, 1 when one is not (stalled, failed, still
    /// booting) or an unknown MAC asked, 2 when the proxy or the config cannot be read.
    Status(StatusArgs),
    /// Write a local CA, a server certificate for localhost, ECDSA and RSA client
    /// certificates and a CRL, for trying the servers with mutual TLS, and a LAN CA with
    /// the Pi's LAN server certificate. Not for production.
    DevCerts {
        /// Directory to write the PEM files into (created if missing).
        dir: PathBuf,
        /// Another DNS name or IP address for the server certificate (besides localhost,
        /// 127.0.0.1 and ::1), e.g. the LAN address the origin listens on; repeatable.
        #[arg(long = "san", value_name = "NAME|IP")]
        names: Vec<String>,
        /// A DNS name or IP address for the LAN server certificate (issued by the LAN CA,
        /// `lan-ca.pem`, for netboot-proxy's `--https-listen`), e.g. the Pi's LAN address;
        /// repeatable.
        #[arg(long = "lan-san", value_name = "NAME|IP")]
        lan_names: Vec<String>,
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
    /// Write the router's DHCP configuration for this site: the boot file for each
    /// firmware class (by option 93) from the TFTP next-server, and the dispatcher's URL
    /// for iPXE (user class `iPXE`) so nothing loops.
    DhcpConfig {
        #[command(flatten)]
        config: ConfigArgs,
        /// The DHCP server the file is for.
        #[arg(long, value_enum)]
        format: netboot_compile::dhcp::DhcpFormat,
        /// The TFTP server's IPv4 address [default: the proxy's, in `via-proxy` mode]
        #[arg(long, value_name = "IPV4")]
        next_server: Option<std::net::Ipv4Addr>,
        /// Write the configuration to this file instead of stdout.
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

/// For the commands that change a store.
#[derive(Debug, Args)]
pub struct StoreWriteArgs {
    /// Write to a store that ignores conditional writes (If-None-Match / If-Match), which
    /// netbootc otherwise refuses: safe only if one netbootc at a time ever writes it.
    #[arg(long)]
    pub allow_unconditional_store: bool,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    #[arg(help = format!("Where to publish: {LOCATION_FORMS}"))]
    pub url: String,
    #[command(flatten)]
    pub bundle: OutDirArgs,
    /// Print what would be uploaded and the pointer change; touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Uploads in flight at once.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY as u16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Do not ask for confirmation on a terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub store: StoreWriteArgs,
}

#[derive(Debug, Args)]
pub struct ReleasesArgs {
    #[arg(help = format!("The store: {LOCATION_FORMS}"))]
    pub url: String,
    /// Show at most this many releases.
    #[arg(long, short = 'n')]
    pub limit: Option<usize>,
    /// Print JSON (one array, newest first) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[arg(help = format!("The store: {LOCATION_FORMS}"))]
    pub url: String,
    /// The release to return to: a manifest or record digest from `netbootc releases`
    /// (`sha256:<hex>`, or a unique hex prefix of at least 6 digits).
    /// [default: the release before the current one]
    #[arg(long)]
    pub to: Option<String>,
    /// Print the pointer change; touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation on a terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub store: StoreWriteArgs,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    #[arg(help = format!("The store: {LOCATION_FORMS}"))]
    pub url: String,
    /// Keep every object reachable from the newest N releases.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: u32,
    /// Only delete objects last modified longer ago than this (e.g. 36h, 7d, 1h 30m).
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    pub grace: Duration,
    /// List what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete without asking (required when not on a terminal, unless --dry-run).
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub store: StoreWriteArgs,
    /// Allow what is normally refused: `--grace 0s` (objects a publish uploaded a moment
    /// ago are not protected), or collecting past a release record that cannot be read
    /// (the records older than it would be deleted).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[arg(help = format!("The release to compare from, whose `current` is read: {LOCATION_FORMS}"))]
    pub old: String,
    /// The release to compare to [default: the build output, as for `publish`]
    pub new: Option<String>,
    #[command(flatten)]
    pub bundle: OutDirArgs,
    /// Only the counts, not each machine and route.
    #[arg(long)]
    pub stat: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The proxy's admin listener (plain HTTP), e.g. http://127.0.0.1:9180 on the proxy's host
    /// (its --admin-listen; the LAN listener does not serve the status).
    #[arg(long, value_name = "URL")]
    pub proxy: String,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t = StatusFormat::Human)]
    pub format: StatusFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum StatusFormat {
    Human,
    Json,
}
