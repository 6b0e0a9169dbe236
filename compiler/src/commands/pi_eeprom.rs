//! `pi-eeprom`: a Raspberry Pi machine's EEPROM settings, for `rpi-eeprom-config --apply`.

use std::net::Ipv4Addr;
use std::path::Path;

use netboot_compile::loader::Loader;
use netboot_compile::pi;

use super::{checked_config, find_machine, write_output};
use crate::error::Error;

pub fn run(
    loader: &Loader,
    query: &str,
    tftp_ip: Option<Ipv4Addr>,
    file: Option<&Path>,
) -> Result<(), Error> {
    let config = checked_config(loader)?;
    let machine = &config.machines[find_machine(&config, query)?];
    let board = machine
        .pi
        .as_ref()
        .ok_or_else(|| Error::NotAPi(machine.name.clone()))?;
    write_output(
        file,
        &pi::eeprom_settings(&machine.name, &board.value, tftp_ip),
    )
}
