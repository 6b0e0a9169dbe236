//! `dev-certs`: a development CA and certificates for the servers.

use std::path::Path;

use crate::error::Error;
use crate::output;

pub fn run(dir: &Path, names: &[String], lan_names: &[String]) -> Result<(), Error> {
    let written = netboot_devcerts::write_dev_certs(dir, names, lan_names)
        .map_err(|e| Error::DevCerts(e.to_string()))?;
    for path in written {
        output::print(&format!("wrote {}\n", path.display()))?;
    }
    Ok(())
}
