//! Time for the boot status ([`crate::status`]) and the proxyDHCP rate limits: the
//! system's, or, in tests, the time written in a file.
//!
//! Two readings are taken together ([`Timestamp`]): wall time, only ever shown (`/status`,
//! the boot journal), and monotonic time, the only one durations are measured on (stalls,
//! rate limits). A Pi without a real-time clock boots at some date in the past and is
//! stepped by NTP minutes later; a stall measured on wall time would appear or vanish with
//! the step.
//!
//! Whether a boot has stalled is a matter of minutes between requests; a test cannot wait
//! that long, and must not sleep at all. In a build with the `test-clock` feature, and
//! with `NETBOOT_PROXY_TEST_CLOCK=<file>` in the environment, the proxy reads "now" from
//! that file every time it asks, so a test moves time by rewriting the file: an RFC 3339
//! timestamp (wall time) on the first line, and optionally `monotonic <duration>`
//! (humantime, `125s`) on the second; without that line monotonic time is the wall time's
//! distance from the epoch (both move together). Timeouts on the wire keep using the
//! runtime's own monotonic timers.
//!
//! Only the proxy's own tests turn the feature on (a dev-dependency of the package on
//! itself), so `cargo test` builds have the test clock and `cargo build`, `cargo install`
//! and the Debian package do not: there the variable is not even read, and whoever can set
//! a service's environment cannot move the time its stall detection and rate limits see.

#[cfg(feature = "test-clock")]
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

/// The environment variable naming the test clock's file.
#[cfg(feature = "test-clock")]
pub const TEST_CLOCK_ENV: &str = "NETBOOT_PROXY_TEST_CLOCK";

/// One reading of the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// For display only: it may jump either way.
    pub wall: SystemTime,
    /// Since an arbitrary start; never goes back.
    pub monotonic: Duration,
}

impl Timestamp {
    /// Monotonic time from `earlier` to `self` (zero if `earlier` is later).
    pub fn since(&self, earlier: &Self) -> Duration {
        self.monotonic.saturating_sub(earlier.monotonic)
    }
}

#[derive(Debug, Clone)]
pub enum Clock {
    /// Monotonic time counts from `start`.
    System { start: Instant },
    /// "Now" is read from this file (tests only).
    #[cfg(feature = "test-clock")]
    File(PathBuf),
}

impl Clock {
    pub fn system() -> Self {
        Self::System {
            start: Instant::now(),
        }
    }

    /// The test clock if the build has one and `NETBOOT_PROXY_TEST_CLOCK` is set, else
    /// the system's.
    pub fn from_env() -> Self {
        #[cfg(feature = "test-clock")]
        if let Some(path) = std::env::var_os(TEST_CLOCK_ENV) {
            tracing::warn!(file = %PathBuf::from(&path).display(), "boot status time comes from a test clock file");
            return Self::File(path.into());
        }
        Self::system()
    }

    pub fn now(&self) -> Timestamp {
        match self {
            Self::System { start } => Timestamp {
                wall: SystemTime::now(),
                monotonic: start.elapsed(),
            },
            #[cfg(feature = "test-clock")]
            Self::File(path) => std::fs::read_to_string(path)
                .map_err(|e| e.to_string())
                .and_then(|text| parse_test_clock(&text))
                .unwrap_or_else(|e| {
                    // A test that writes a bad clock sees times from the epoch: loud, never
                    // silently the system's.
                    tracing::error!(file = %path.display(), error = %e, "unreadable test clock");
                    Timestamp {
                        wall: SystemTime::UNIX_EPOCH,
                        monotonic: Duration::ZERO,
                    }
                }),
        }
    }
}

#[cfg(feature = "test-clock")]
fn parse_test_clock(text: &str) -> Result<Timestamp, String> {
    let mut lines = text.lines();
    let wall = humantime::parse_rfc3339(lines.next().unwrap_or_default().trim())
        .map_err(|e| e.to_string())?;
    let monotonic = match lines.next().map(str::trim).filter(|l| !l.is_empty()) {
        Some(line) => {
            let value = line
                .strip_prefix("monotonic ")
                .ok_or_else(|| format!("second line {line:?} is not `monotonic <duration>`"))?;
            humantime::parse_duration(value.trim()).map_err(|e| e.to_string())?
        }
        None => wall
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default(),
    };
    Ok(Timestamp { wall, monotonic })
}

/// `t` as RFC 3339 in UTC, to the second (what `/status` shows).
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(all(test, feature = "test-clock"))]
mod tests {
    use super::*;

    #[test]
    fn the_test_clock_reads_wall_and_monotonic_time() {
        let wall = humantime::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        let both = parse_test_clock("2026-01-01T00:00:00Z\nmonotonic 125s\n").unwrap();
        assert_eq!(both.wall, wall);
        assert_eq!(both.monotonic, Duration::from_secs(125));
        let wall_only = parse_test_clock("2026-01-01T00:00:00Z\n").unwrap();
        assert_eq!(
            wall_only.monotonic,
            wall.duration_since(SystemTime::UNIX_EPOCH).unwrap()
        );
        assert!(parse_test_clock("2026-01-01T00:00:00Z\n125s\n").is_err());
        let (a, b) = (
            both,
            parse_test_clock("2025-01-01T00:00:00Z\nmonotonic 130s").unwrap(),
        );
        assert_eq!(
            b.since(&a),
            Duration::from_secs(5),
            "a wall step back is not a duration"
        );
        assert_eq!(a.since(&b), Duration::ZERO);
    }
}
