//! Simulation against a compiled config: the [`netboot_ipxe`] interpreter run for every
//! machine, with what it must reach taken from the config model.
//!
//! - [`origin`]: what a URL resolves to: the routes and objects of a compiled config (in
//!   memory, for `check`) or of a built bundle directory (for `simulate --bundle`);
//! - [`expect`]: what each machine must reach, so `check` and `build` can report a machine
//!   that would not boot as a diagnostic, and `simulate` can give its verdict.

pub mod expect;
pub mod origin;

pub use origin::{BundleOrigin, MemoryOrigin};
