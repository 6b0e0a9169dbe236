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
    /// Write a starting site for one LAN into a new directory: the site (origin, chain
    /// mode, the first-stage iPXE builds), one profile with its kernel and initrd pinned by
    /// sha256, one machine by MAC; then print what is left to do. Never overwrites.
    Init(Box<InitArgs>),
    /// A fleet's certificate authority in a directory: the CA, the origin's server
    /// certificate, the clients' (the Pi's; iPXE's in direct mode), renewal and a CRL.
    #[command(subcommand)]
    Pki(PkiCommand),
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
    /// Write a Raspberry Pi machine's EEPROM settings, for `rpi-eeprom-config --apply` on
    /// the board: network boot first, its serial-number TFTP prefix, a per-file timeout
    /// long enough for an initramfs, and the TFTP server if given.
    PiEeprom {
        #[command(flatten)]
        config: ConfigArgs,
        /// The machine: its name, a MAC or its UUID.
        machine: String,
        /// Set `TFTP_IP`: for a router that can send neither option 43 nor a TFTP server.
        #[arg(long, value_name = "IPV4")]
        tftp_ip: Option<std::net::Ipv4Addr>,
        /// Write the settings to this file instead of stdout.
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

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to write the site into (created if missing; must not hold a site).
    pub dir: PathBuf,
    /// The origin's URL: where netboot-serve is reached (`https://host[:port]`).
    #[arg(long, value_name = "URL")]
    pub origin: String,
    /// How iPXE reaches the bundle: through the Pi's LAN HTTP (`via-proxy`: stock iPXE,
    /// the client key stays on the Pi) or from the origin (`direct`: an iPXE build with
    /// HTTPS and an embedded client certificate).
    #[arg(long, value_enum, default_value_t = ChainMode::ViaProxy)]
    pub chain: ChainMode,
    /// The Pi's fixed LAN address (required with `--chain via-proxy`).
    #[arg(long, value_name = "IPV4")]
    pub pi: Option<std::net::Ipv4Addr>,
    /// The first machine's name.
    #[arg(long, default_value = "machine-01")]
    pub machine: String,
    /// The MAC address of the NIC the machine boots from.
    #[arg(long)]
    pub mac: String,
    /// The profile's name.
    #[arg(long, default_value = "linux")]
    pub profile: String,
    /// The profile's CPU architecture.
    #[arg(long, default_value = "x86_64", value_parser = clap::builder::PossibleValuesParser::new(<netboot_protocol::Arch as netboot_protocol::Named>::NAMES))]
    pub arch: String,
    /// The kernel: a local file (copied into the site and pinned by its sha256) or an
    /// http(s) URL (with `--kernel-sha256`).
    #[arg(long, value_name = "FILE|URL")]
    pub kernel: String,
    /// The kernel URL's sha256 (64 hex digits).
    #[arg(long, value_name = "HEX")]
    pub kernel_sha256: Option<String>,
    /// The initrd: a local file or an http(s) URL (with `--initrd-sha256`).
    #[arg(long, value_name = "FILE|URL")]
    pub initrd: String,
    /// The initrd URL's sha256 (64 hex digits).
    #[arg(long, value_name = "HEX")]
    pub initrd_sha256: Option<String>,
    /// The kernel command line.
    #[arg(long, default_value = "console=tty0 console=ttyS0,115200n8")]
    pub cmdline: String,
    /// A directory holding first-stage iPXE builds (`undionly.kpxe`, `snponly.efi`,
    /// `snp-arm64.efi`; Debian's `ipxe` package: /usr/lib/ipxe): each found is copied in
    /// and declared as the boot file of its firmware class.
    #[arg(long, value_name = "DIR")]
    pub ipxe_dir: Option<PathBuf>,
    /// The iPXE build `--ipxe-dir` holds, declared for each class found there (`ipxe-build`:
    /// which commands its scripts may use; Debian's package is `debian-2019`, which has no
    /// `sha256sum` to check images with).
    #[arg(long, default_value = "debian-2019", value_parser = clap::builder::PossibleValuesParser::new(<netboot_ipxe::IpxeBuild as netboot_protocol::Named>::NAMES))]
    pub ipxe_dir_build: String,
    /// A first-stage iPXE build for one firmware class (`bios`, `uefi-x86_64`,
    /// `uefi-arm64`), e.g. `uefi-arm64=ipxe/src/bin-arm64-efi/snp.efi`: copied in under its
    /// file name and declared for that class; repeatable, one per class.
    #[arg(long = "boot-file", value_name = "CLASS=FILE")]
    pub boot_files: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChainMode {
    ViaProxy,
    Direct,
}

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Make the fleet CA (RSA 3072, 10 years) and an empty CRL in DIR (created if
    /// missing); never replaces a CA.
    Init {
        /// The CA's directory: ca.pem, ca.key (0600), crl.pem, index.json.
        dir: PathBuf,
        /// The CA's common name.
        #[arg(long, default_value = "netboot fleet CA")]
        name: String,
    },
    /// Issue a server certificate (ECDSA P-256, EKU serverAuth) for the origin: NAME and
    /// every --san are its DNS names or IP addresses. Writes NAME.pem and NAME.key.
    Server {
        dir: PathBuf,
        /// The host name clients connect to (the `origin` URL's host).
        name: String,
        /// Another DNS name or IP address of the server; repeatable.
        #[arg(long = "san", value_name = "NAME|IP")]
        sans: Vec<String>,
        #[arg(long, default_value_t = 397)]
        days: i64,
        /// Issue it again with a new key (the old one stays valid until it expires unless
        /// revoked).
        #[arg(long)]
        renew: bool,
    },
    /// Issue a client certificate (EKU clientAuth) for a Pi's netboot-proxy, or with --rsa
    /// for an iPXE build in direct mode. Writes NAME.pem and NAME.key.
    Client {
        dir: PathBuf,
        /// What the client is, e.g. `pi-home` or `ipxe`.
        name: String,
        /// An RSA 2048 key (iPXE embeds RSA client keys) instead of ECDSA P-256.
        #[arg(long)]
        rsa: bool,
        #[arg(long, default_value_t = 365)]
        days: i64,
        /// Issue it again with a new key.
        #[arg(long)]
        renew: bool,
    },
    /// Revoke every certificate issued under NAME and sign the CRL again.
    Revoke {
        dir: PathBuf,
        name: String,
        #[arg(long, value_enum, default_value_t = RevokeReason::KeyCompromise)]
        reason: RevokeReason,
    },
    /// Sign the CRL again (fresh for 30 days): run it from a timer, then copy crl.pem to
    /// the origin (netboot-serve --crl reloads it).
    Crl { dir: PathBuf },
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum RevokeReason {
    KeyCompromise,
    Superseded,
    CessationOfOperation,
}
