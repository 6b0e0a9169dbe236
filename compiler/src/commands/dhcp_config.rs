//! `dhcp-config`: the router's configuration for a site that passes `check`.

use std::net::Ipv4Addr;
use std::path::Path;

use netboot_compile::dhcp::{DhcpFormat, DhcpPlan};
use netboot_compile::error::Error;
use netboot_compile::loader::Loader;

use super::{checked_config, write_output};

pub fn run(
    loader: &Loader,
    format: DhcpFormat,
    next_server: Option<Ipv4Addr>,
    file: Option<&Path>,
) -> Result<(), Error> {
    let site = checked_config(loader)?.site;
    let plan = DhcpPlan::new(&site, next_server).map_err(Error::Dhcp)?;
    write_output(file, &plan.render(format))
}
