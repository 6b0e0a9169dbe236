//! Failures that stop a command before or outside diagnostics (exit code 2, unless said
//! otherwise): the pipeline's (a missing config directory, I/O), usage, the store, the
//! proxy. Problems in the config are diagnostics instead.

use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub enum Error {
    /// The compile pipeline's, and I/O of the commands themselves.
    Compile(netboot_compile::error::Error),
    NoSuchMachine {
        query: String,
        suggestion: Option<String>,
    },
    /// `simulate --bundle` could not read the bundle's release.
    SimulationBundle(String),
    /// `render --file` named a file the machine does not have.
    NoSuchFile {
        machine: String,
        file: String,
        known: Vec<String>,
    },
    /// Diagnostics with errors were reported (exit 1, already printed).
    Diagnostics,
    /// `fmt --check` found files to reformat (exit 1, already printed).
    Unformatted,
    /// `dev-certs` could not generate or write the certificates.
    DevCerts(String),
    /// `init` was given something it cannot write, or the site exists.
    Init(String),
    /// `pki` could not read, sign or write.
    Pki(String),
    /// publish / releases / rollback / gc / diff; a lost race exits 1.
    Store(netboot_store::StoreError),
    /// A question before a change was answered no (exit 1; nothing was changed).
    Declined,
    /// A combination of flags that cannot work.
    Usage(&'static str),
    /// `dhcp-config` cannot say what the site needs.
    Dhcp(netboot_compile::dhcp::DhcpError),
    /// `status` could not read the proxy's status.
    Proxy(String),
    /// `status` found a machine that is not done, or an unknown MAC (exit 1, already printed).
    NeedsAttention,
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Diagnostics | Self::Unformatted | Self::Declined | Self::NeedsAttention => 1,
            Self::Store(e) => e.exit_code(),
            _ => 2,
        }
    }

    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let io = netboot_compile::error::Error::io(path);
        move |source| Self::Compile(io(source))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Compile(e) => write!(f, "{e}"),
            Self::DevCerts(e) => write!(f, "dev-certs: {e}"),
            Self::Init(e) => write!(f, "init: {e}"),
            Self::Pki(e) => write!(f, "pki: {e}"),
            Self::NoSuchMachine { query, suggestion } => {
                write!(f, "no machine has the name, MAC or UUID `{query}`")?;
                if let Some(s) = suggestion {
                    write!(f, " (did you mean `{s}`?)")?;
                }
                Ok(())
            }
            Self::NoSuchFile {
                machine,
                file,
                known,
            } => {
                write!(f, "machine `{machine}` has no provisioning file `{file}`")?;
                match known.as_slice() {
                    [] => write!(f, " (it has none)"),
                    names => write!(f, " (it has: {})", names.join(", ")),
                }
            }
            Self::SimulationBundle(e) => write!(f, "cannot simulate against the bundle: {e}"),
            Self::Diagnostics => write!(f, "the configuration has errors"),
            Self::Unformatted => write!(f, "some files are not formatted"),
            Self::Store(e) => write!(f, "{e}"),
            Self::Declined => write!(f, "cancelled; nothing was changed"),
            Self::Usage(message) => f.write_str(message),
            Self::Dhcp(e) => write!(f, "dhcp-config: {e}"),
            Self::Proxy(e) => write!(f, "status: {e}"),
            Self::NeedsAttention => write!(f, "some machines need attention"),
        }
    }
}

impl std::error::Error for Error {}

impl From<netboot_compile::error::Error> for Error {
    fn from(e: netboot_compile::error::Error) -> Self {
        Self::Compile(e)
    }
}

impl From<netboot_bundle::BundleError> for Error {
    fn from(e: netboot_bundle::BundleError) -> Self {
        Self::Compile(e.into())
    }
}

impl From<netboot_store::StoreError> for Error {
    fn from(e: netboot_store::StoreError) -> Self {
        Self::Store(e)
    }
}
