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
//! - [`status`]: the proxy's `GET /status` document and its boot journal lines.
//!
//! Every enum here is exhaustive and takes its names from one derive (strum's), through
//! [`Named`]; serde names come from the same derive ([`serde_by_name!`]). A new variant
//! does not compile until every `match` over it says what it means.
//!
//! This is the lowest floor of the workspace: it depends on std, serde and strum only.

pub mod firmware;
mod mac;
mod named;
pub mod routes;
pub mod status;

pub use firmware::{Arch, BootFileAnswer, Firmware, Transport};
pub use mac::Mac;
pub use named::Named;
