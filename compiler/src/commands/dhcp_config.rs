//! `dhcp-config`: the router's configuration for a site that passes `check`.

use std::net::Ipv4Addr;
use std::path::Path;

use netboot_compile::dhcp::{DhcpFormat, DhcpPlan};
use netboot_compile::loader::Loader;

use super::{checked_config, write_output};

use crate::error::Error;

pub fn run(
    loader: &Loader,
    format: DhcpFormat,
    next_server: Option<Ipv4Addr>,
    file: Option<&Path>,
) -> Result<(), Error> {
    let config = checked_config(loader)?;
    let plan = DhcpPlan::for_config(&config, next_server).map_err(Error::Dhcp)?;
    write_output(file, &plan.render(format))
}
