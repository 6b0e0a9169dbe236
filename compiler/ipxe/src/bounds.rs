//! What one simulated boot may hold and do. `check` simulates every machine of the fleet
//! from templates anyone with commit access writes, so a script that doubles a setting in
//! a loop, prints for ever or counts for ever must end in a clear failure, fast, instead
//! of taking the memory or the time of the machine running `check`.
//!
//! The bounds are far above what a boot needs: a setting holds a name, a URL or a kernel
//! command line (Linux takes 2 KiB of one on x86 and arm64), and a line holds a command
//! with a few of them.

use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// The most one setting may hold, in bytes.
pub const MAX_SETTING: usize = 16 * 1024;
/// The most one line may hold once its settings are expanded.
pub const MAX_LINE: usize = 64 * 1024;
/// The most one boot may expand, over all its lines: what its lines cost to run is in
/// their length as well as in their number.
pub const MAX_EXPANDED: usize = 64 * 1024 * 1024;
/// The most a boot may print with `echo`.
pub const MAX_CONSOLE: usize = 256 * 1024;
/// The most one boot may hold: settings, menu items, the trace (console output included)
/// and the states seen at jumps.
pub const MAX_HELD: usize = 4 * 1024 * 1024;
/// Lines and commands a boot may run whatever its scripts: the built-in machine script's
/// five retries take about a hundred.
pub const BASE_WORK: usize = 2_000;
/// Lines and commands a boot may run besides, per byte of the scripts it loaded: a script
/// run from top to bottom runs at most one line and one command per two bytes, so a long
/// one (a 10,000-item menu) runs in full, twice over, and only a loop that never repeats
/// a state (a counter with no limit) runs out.
pub const WORK_PER_SCRIPT_BYTE: usize = 2;

/// A bound a boot went over, as the reason it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exceeded {
    Setting { name: String, bytes: usize },
    Line { bytes: usize },
    Expanded,
    Console,
    Held,
    Work { script_bytes: usize },
}

impl Exceeded {
    pub fn reason(&self) -> String {
        match self {
            Self::Setting { name, bytes } => format!(
                "setting `{name}` would hold {bytes} bytes, over the simulator's limit of {} KiB for one setting",
                MAX_SETTING / 1024
            ),
            Self::Line { bytes } => format!(
                "the line is {bytes} bytes or more once its settings are expanded, over the simulator's limit of {} KiB for one line",
                MAX_LINE / 1024
            ),
            Self::Expanded => format!(
                "the boot expands more than {} MiB of lines, the simulator's limit for the lines of one boot",
                MAX_EXPANDED / (1024 * 1024)
            ),
            Self::Console => format!(
                "the boot prints more than {} KiB with `echo`, the simulator's limit for console output",
                MAX_CONSOLE / 1024
            ),
            Self::Held => format!(
                "the boot holds more than {} MiB (settings, menu items, console output and every fetch), the simulator's limit for one boot",
                MAX_HELD / (1024 * 1024)
            ),
            Self::Work { script_bytes } => format!(
                "it runs more than {} lines and commands without booting and never comes back to the same state (a setting changes every time round: a counter with no limit?); the simulator's limit is {BASE_WORK} plus {WORK_PER_SCRIPT_BYTE} per byte of the {script_bytes} bytes of scripts it loaded",
                work_allowance(*script_bytes)
            ),
        }
    }
}

/// The lines and commands a boot that loaded `script_bytes` of scripts may run.
pub fn work_allowance(script_bytes: usize) -> usize {
    BASE_WORK.saturating_add(script_bytes.saturating_mul(WORK_PER_SCRIPT_BYTE))
}

/// The settings of a boot, with the bytes they hold and a fingerprint of their contents
/// kept up to date as they change: the loop check compares states at every jump, and
/// must not hash every setting each time.
#[derive(Debug, Default)]
pub struct Settings {
    values: BTreeMap<String, String>,
    bytes: usize,
    /// XOR of the hashes of every (name, value): order-free, and updated per change.
    fingerprint: u64,
}

impl Settings {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Sets `name`, unless the value is over [`MAX_SETTING`].
    pub fn set(&mut self, name: &str, value: String) -> Result<(), Exceeded> {
        if value.len() > MAX_SETTING {
            return Err(Exceeded::Setting {
                name: name.to_owned(),
                bytes: value.len(),
            });
        }
        self.clear(name);
        self.bytes += name.len() + value.len();
        self.fingerprint ^= entry_hash(name, &value);
        self.values.insert(name.to_owned(), value);
        Ok(())
    }

    pub fn clear(&mut self, name: &str) {
        if let Some((name, value)) = self.values.remove_entry(name) {
            self.bytes -= name.len() + value.len();
            self.fingerprint ^= entry_hash(&name, &value);
        }
    }

    /// The bytes of every name and value.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Equal for equal settings (and, but for a 64-bit collision, only for them).
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
}

fn entry_hash(name: &str, value: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    (name, value).hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_follows_the_contents_not_the_history() {
        let mut a = Settings::default();
        let mut b = Settings::default();
        a.set("x", "1".into()).unwrap();
        a.set("y", "2".into()).unwrap();
        b.set("y", "2".into()).unwrap();
        b.set("x", "0".into()).unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        b.set("x", "1".into()).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!((a.bytes(), b.bytes()), (4, 4));
        b.set("z", "3".into()).unwrap();
        b.clear("z");
        b.clear("never set");
        assert_eq!((a.fingerprint(), b.bytes()), (b.fingerprint(), 4));
        // Swapped values are another state.
        let mut c = Settings::default();
        c.set("x", "2".into()).unwrap();
        c.set("y", "1".into()).unwrap();
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn a_setting_over_the_bound_is_refused_and_leaves_the_old_value() {
        let mut settings = Settings::default();
        settings.set("a", "old".into()).unwrap();
        let big = "x".repeat(MAX_SETTING + 1);
        assert_eq!(
            settings.set("a", big),
            Err(Exceeded::Setting {
                name: "a".into(),
                bytes: MAX_SETTING + 1
            })
        );
        assert_eq!(settings.get("a"), Some("old"));
        settings.set("a", "x".repeat(MAX_SETTING)).unwrap();
        assert_eq!(settings.bytes(), 1 + MAX_SETTING);
    }
}
