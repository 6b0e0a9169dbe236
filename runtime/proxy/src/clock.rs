//! Wall-clock time for the boot status ([`crate::status`]): the system's, or, in tests,
//! the time written in a file.
//!
//! Whether a boot has stalled is a matter of minutes between requests; a test cannot wait
//! that long, and must not sleep at all. With `NETBOOT_PROXY_TEST_CLOCK=<file>` in the
//! environment the proxy reads "now" from that file (an RFC 3339 timestamp) every time it
//! asks, so a test moves time forward by rewriting the file. Nothing else in the proxy
//! uses this clock: timeouts on the wire keep using the monotonic runtime timers.

use std::path::PathBuf;
use std::time::SystemTime;

/// The environment variable naming the test clock's file.
pub const TEST_CLOCK_ENV: &str = "NETBOOT_PROXY_TEST_CLOCK";

#[derive(Debug, Clone)]
pub enum Clock {
    System,
    /// "Now" is the RFC 3339 timestamp in this file (tests only).
    File(PathBuf),
}

impl Clock {
    /// The test clock if [`TEST_CLOCK_ENV`] is set, else the system's.
    pub fn from_env() -> Self {
        match std::env::var_os(TEST_CLOCK_ENV) {
            Some(path) => {
                tracing::warn!(file = %PathBuf::from(&path).display(), "boot status time comes from a test clock file");
                Self::File(path.into())
            }
            None => Self::System,
        }
    }

    pub fn now(&self) -> SystemTime {
        match self {
            Self::System => SystemTime::now(),
            Self::File(path) => std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|text| humantime::parse_rfc3339(text.trim()).map_err(|e| e.to_string()))
                .unwrap_or_else(|e| {
                    // A test that writes a bad clock sees times from the epoch: loud, never
                    // silently the system's.
                    tracing::error!(file = %path.display(), error = %e, "unreadable test clock");
                    SystemTime::UNIX_EPOCH
                }),
        }
    }
}

/// `t` as RFC 3339 in UTC, to the second (what `/status` shows).
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}
