//! Failures that stop a command before or outside diagnostics (exit code 2): usage,
//! missing directories, I/O on the output. Problems in the config are diagnostics instead.

use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub enum Error {
    ConfigDirMissing {
        path: PathBuf,
    },
    Io {
        path: PathBuf,
        source: io::Error,
    },
    Bundle(netboot_bundle::BundleError),
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
    /// publish / releases / rollback / gc / diff; a lost race exits 1.
    Store(netboot_store::StoreError),
    /// A question before a change was answered no (exit 1; nothing was changed).
    Declined,
    /// A combination of flags that cannot work.
    Usage(&'static str),
    /// `dhcp-config` cannot say what the site needs.
    Dhcp(crate::dhcp::DhcpError),
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
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConfigDirMissing { path } => write!(
                f,
                "config directory `{}` does not exist or lacks `machines/` and `profiles/`",
                path.display()
            ),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Bundle(e) => write!(f, "{e}"),
            Self::DevCerts(e) => write!(f, "dev-certs: {e}"),
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

impl From<netboot_bundle::BundleError> for Error {
    fn from(e: netboot_bundle::BundleError) -> Self {
        Self::Bundle(e)
    }
}

impl From<netboot_store::StoreError> for Error {
    fn from(e: netboot_store::StoreError) -> Self {
        Self::Store(e)
    }
}
