//! `netbootc dev-certs <dir>`: local certificates so a newcomer can run netboot-serve and
//! netboot-sink with mutual TLS in a minute. The generator lives in `netboot-devcerts`,
//! which the runtime's tests use too, so the CLI and the tests cannot drift apart.

use std::error::Error;
use std::path::{Path, PathBuf};

/// Writes the CA, the server certificate (localhost, 127.0.0.1, ::1), the client
/// certificates (ECDSA, RSA, a revoked one and its CRL, plus the refusal cases the tests
/// use) into `dir`, creating it, and returns the paths written. Keys are mode 0600.
pub fn write_dev_certs(dir: &Path) -> Result<Vec<PathBuf>, Box<dyn Error + Send + Sync>> {
    netboot_devcerts::write_dev_certs(dir)
}
