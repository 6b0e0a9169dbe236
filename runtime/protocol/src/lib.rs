//! What crosses a process boundary, as types: the compiler writes it, the servers and the
//! proxy read it, `netbootc status` reads what the proxy writes. One definition each, so
//! a change to a contract is a change to one type that every side then has to follow.
//!
//! - [`firmware`]: the firmware classes ([`Firmware`]), how a client fetches its boot file
//!   ([`Transport`]), CPU architectures ([`Arch`]) and the DHCP boot-file policy
//!   ([`BootFileAnswer`]: which firmware gets which file, and how to say it in DHCP),
//!   used by `netbootc dhcp-config` and the proxy's proxyDHCP alike.
//! - [`Mac`]: the one MAC address parser, and the spellings each side needs.
//! - [`routes`]: the routes of a bundle, built and parsed back in one place.
//! - [`rpi`]: how a Raspberry Pi bootloader is recognised and answered in DHCP.
//! - [`status`]: the proxy's `GET /status` document and its boot journal lines.
//!
//! Every enum here is exhaustive and takes its names from one derive (strum's), through
//! [`Named`]; serde names come from the same derive ([`serde_by_name!`]). A new variant
//! does not compile until every `match` over it says what it means.
//!
//! This is the lowest floor of the workspace: it depends on std, serde and strum only.
//!
//! What a new firmware class costs, tried on a scratch branch (`UefiRiscv64` added to
//! [`Firmware`], then `cargo build --workspace --all-targets`): the compiler demanded, in
//! this crate, `Firmware::arch_types` (its option-93 codes per transport), `cpu_arch`,
//! `platform` and `dhcp_tag`; `cpu_arch` wanted a new [`Arch`] (`Riscv64`), whose
//! `Arch::uefi` then demanded its class; once this crate built, `netboot-ipxe`'s
//! `Client::buildarch` (`${buildarch}`). Nothing else: the names in KDL, the manifest,
//! `--firmware`'s possible values, suggestions, `dhcp-config`'s rules and the proxyDHCP's
//! option-93 lookup all follow from the derive and these matches, and the test of the names
//! failed until the new name was added to it.

pub mod firmware;
mod mac;
mod named;
pub mod routes;
pub mod rpi;
pub mod status;

pub use firmware::{Arch, BootFileAnswer, Firmware, Platform, Transport};
pub use mac::Mac;
pub use named::Named;
