//! A per-second budget: for ERROR replies from the listening port (a spoofed flood must not
//! make the server a reflector) and for the log lines of refused requests (a flood of
//! requests for missing files must not fill the disk, an SD card on a Pi, with log).

use std::time::{Duration, Instant};

/// At most `per_second` uses in each one-second window.
#[derive(Debug)]
pub(crate) struct Budget {
    per_second: u32,
    window_start: Instant,
    used: u32,
    /// Uses refused since the last one allowed.
    refused: u64,
}

impl Budget {
    pub(crate) fn new(per_second: u32) -> Self {
        Self {
            per_second,
            window_start: Instant::now(),
            used: 0,
            refused: 0,
        }
    }

    /// `Some(n)` if this use is within the budget, `n` being how many were refused since the
    /// last one allowed (for a log line to say what it stands for); `None` if not.
    pub(crate) fn take(&mut self) -> Option<u64> {
        self.take_at(Instant::now())
    }

    fn take_at(&mut self, now: Instant) -> Option<u64> {
        if now.duration_since(self.window_start) >= Duration::from_secs(1) {
            self.window_start = now;
            self.used = 0;
        }
        if self.used < self.per_second {
            self.used += 1;
            Some(std::mem::take(&mut self.refused))
        } else {
            self.refused += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_share_and_the_next_one_reports_what_was_refused() {
        let start = Instant::now();
        let mut budget = Budget {
            per_second: 3,
            window_start: start,
            used: 0,
            refused: 0,
        };
        let early = start + Duration::from_millis(500);
        let uses: Vec<_> = (0..5).map(|_| budget.take_at(early)).collect();
        assert_eq!(uses, [Some(0), Some(0), Some(0), None, None]);
        let next = start + Duration::from_millis(1500);
        assert_eq!(budget.take_at(next), Some(2));
        assert_eq!(budget.take_at(next), Some(0));
    }
}
