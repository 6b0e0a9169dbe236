//! The sender's side of a transfer as a state machine: which block goes out next, what an
//! ACK means, what a timeout rewinds. No sockets, no clock, no buffer: the session feeds
//! it events and does what it says, so windows, duplicate ACKs and block-number wraparound
//! are tested here without a packet on the wire.
//!
//! Block numbers are absolute (from 1, never wrapping) inside; the wire carries them
//! modulo 65536 ([`Window::wire`]), and an ACK's wire number is mapped back to the one
//! absolute block it can mean: the window never spans more than 65535 blocks.

/// What an ACK did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acked {
    /// Not for a block sent and not yet acknowledged: a duplicate, or stale. Never
    /// answered (only the timer resends), which is what prevents the Sorcerer's
    /// Apprentice syndrome (RFC 1123 §4.2.3.1).
    Ignored,
    /// Blocks up to `through` are acknowledged; the next window starts after it.
    Advanced { through: u64 },
    /// The last block is acknowledged: the transfer is complete.
    Complete,
}

/// One transfer's window (RFC 7440; a window of 1 is RFC 1350's lockstep).
#[derive(Debug, Clone)]
pub(crate) struct Window {
    size: u64,
    blksize: u64,
    window: u64,
    /// The last block: the first one shorter than `blksize` (possibly empty).
    last_block: u64,
    /// First block not yet acknowledged.
    base: u64,
    /// Next block to send in the current pass over the window.
    next_send: u64,
    highest_sent: u64,
}

impl Window {
    /// A transfer of `size` bytes in blocks of `blksize`, `window` blocks per window.
    pub(crate) fn new(size: u64, blksize: usize, window: usize) -> Self {
        let blksize = blksize.max(1) as u64;
        Self {
            size,
            blksize,
            window: (window.max(1) as u64).min(u64::from(u16::MAX)),
            last_block: size / blksize + 1,
            base: 1,
            next_send: 1,
            highest_sent: 0,
        }
    }

    /// The block number on the wire.
    pub(crate) fn wire(block: u64) -> u16 {
        (block % 65_536) as u16
    }

    /// File offset of block `block`'s first byte, and its length.
    pub(crate) fn span(&self, block: u64) -> (u64, usize) {
        let start = (block - 1) * self.blksize;
        let len = (self.size - start.min(self.size)).min(self.blksize) as usize;
        (start, len)
    }

    /// The next block to send now, if the window has one left and its bytes (up to file
    /// offset `readable`) have been read.
    pub(crate) fn next(&self, readable: u64) -> Option<u64> {
        let end = (self.base + self.window - 1).min(self.last_block);
        let block = self.next_send;
        let (start, len) = self.span(block);
        (block <= end && start + len as u64 <= readable).then_some(block)
    }

    /// Records that `block` (from [`next`](Self::next)) was sent; true if it had been sent
    /// before (a retransmission).
    pub(crate) fn sent(&mut self, block: u64) -> bool {
        self.next_send = block + 1;
        let again = block <= self.highest_sent;
        self.highest_sent = self.highest_sent.max(block);
        again
    }

    /// Whether every block of the current window has gone out: the client's turn.
    pub(crate) fn window_sent(&self) -> bool {
        self.next_send > (self.base + self.window - 1).min(self.last_block)
    }

    /// An ACK with wire block number `wire`.
    pub(crate) fn ack(&mut self, wire: u16) -> Acked {
        let acked = self.base - 1;
        let ahead = u64::from(wire.wrapping_sub(Self::wire(acked)));
        if ahead == 0 || ahead > self.highest_sent - acked {
            return Acked::Ignored;
        }
        let block = acked + ahead;
        self.base = block + 1;
        // Whether the whole window was acknowledged or an earlier block (RFC 7440 §4: the
        // client saw a gap), the next window starts right after the acknowledged block.
        self.next_send = self.base;
        if block == self.last_block {
            Acked::Complete
        } else {
            Acked::Advanced { through: block }
        }
    }

    /// The retransmission timer fired: send the window again from its start.
    pub(crate) fn timed_out(&mut self) {
        self.next_send = self.base;
    }

    /// File bytes the client has acknowledged.
    pub(crate) fn acked_bytes(&self) -> u64 {
        ((self.base - 1) * self.blksize).min(self.size)
    }

    /// File offset up to which the buffer is no longer needed (everything acknowledged).
    pub(crate) fn acked_offset(&self) -> u64 {
        (self.base - 1) * self.blksize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends everything the window allows with the whole file readable.
    fn send_all(w: &mut Window) -> Vec<u64> {
        let mut sent = Vec::new();
        while let Some(block) = w.next(u64::MAX) {
            w.sent(block);
            sent.push(block);
        }
        sent
    }

    #[test]
    fn lockstep_sends_one_block_per_ack_and_ends_with_a_short_block() {
        let mut w = Window::new(1024, 512, 1);
        assert_eq!(send_all(&mut w), [1]);
        assert!(w.window_sent());
        assert_eq!(w.ack(1), Acked::Advanced { through: 1 });
        assert_eq!(send_all(&mut w), [2]);
        assert_eq!(w.ack(2), Acked::Advanced { through: 2 });
        // 1024 bytes in 512-byte blocks end with an empty third block.
        assert_eq!(w.span(3), (1024, 0));
        assert_eq!(send_all(&mut w), [3]);
        assert_eq!(w.ack(3), Acked::Complete);
        assert_eq!(w.acked_bytes(), 1024);
    }

    #[test]
    fn windows_advance_by_whole_windows_and_stop_at_the_last_block() {
        let mut w = Window::new(10 * 512 + 7, 512, 4);
        assert_eq!(send_all(&mut w), [1, 2, 3, 4]);
        assert_eq!(w.ack(4), Acked::Advanced { through: 4 });
        assert_eq!(send_all(&mut w), [5, 6, 7, 8]);
        assert_eq!(w.ack(8), Acked::Advanced { through: 8 });
        assert_eq!(send_all(&mut w), [9, 10, 11]);
        assert_eq!(w.span(11), (10 * 512, 7));
        assert_eq!(w.ack(11), Acked::Complete);
    }

    #[test]
    fn blocks_wait_for_their_bytes() {
        let mut w = Window::new(2048, 512, 4);
        assert_eq!(w.next(511), None);
        assert_eq!(w.next(512), Some(1));
        w.sent(1);
        assert_eq!(w.next(1000), None);
        assert_eq!(w.next(1024), Some(2));
    }

    #[test]
    fn duplicate_and_stale_acks_are_ignored_and_never_resend() {
        let mut w = Window::new(100 * 512, 512, 4);
        send_all(&mut w);
        assert_eq!(w.ack(4), Acked::Advanced { through: 4 });
        let next = send_all(&mut w);
        assert_eq!(next, [5, 6, 7, 8]);
        // The same ACK again (a duplicate), an older one, and one for a block not yet
        // sent: nothing changes, nothing is queued.
        for wire in [4, 2, 0, 9, 500] {
            assert_eq!(w.ack(wire), Acked::Ignored, "ack {wire}");
            assert_eq!(w.next(u64::MAX), None, "ack {wire} queued a resend");
        }
        assert_eq!(w.ack(8), Acked::Advanced { through: 8 });
    }

    #[test]
    fn an_ack_inside_the_window_rolls_back_to_the_gap() {
        let mut w = Window::new(100 * 512, 512, 8);
        assert_eq!(send_all(&mut w), [1, 2, 3, 4, 5, 6, 7, 8]);
        // The client lost block 4: it acknowledges 3, and the window restarts at 4.
        assert_eq!(w.ack(3), Acked::Advanced { through: 3 });
        assert_eq!(send_all(&mut w), [4, 5, 6, 7, 8, 9, 10, 11]);
    }

    #[test]
    fn a_timeout_resends_the_window_and_counts_as_retransmission() {
        let mut w = Window::new(100 * 512, 512, 3);
        for block in send_all(&mut w) {
            assert!(!w.sent(block) || block <= 3);
        }
        w.timed_out();
        let mut again = Vec::new();
        while let Some(block) = w.next(u64::MAX) {
            assert!(
                w.sent(block),
                "block {block} not counted as a retransmission"
            );
            again.push(block);
        }
        assert_eq!(again, [1, 2, 3]);
    }

    #[test]
    fn block_numbers_wrap_past_65535() {
        // 65,537 full blocks and a short one: block 65536 is 0 on the wire, 65537 is 1.
        let size = 65_537 * 512 + 10;
        let mut w = Window::new(size, 512, 16);
        let mut through = 0;
        while through < 65_520 {
            let sent = send_all(&mut w);
            let last = *sent.last().unwrap();
            assert_eq!(w.ack(Window::wire(last)), Acked::Advanced { through: last });
            through = last;
        }
        let sent = send_all(&mut w);
        assert_eq!(sent.first(), Some(&65_521));
        assert_eq!(sent.last(), Some(&65_536));
        assert_eq!(Window::wire(65_536), 0);
        // An ACK of wire 0 here means block 65536, not block 0.
        assert_eq!(w.ack(0), Acked::Advanced { through: 65_536 });
        assert_eq!(send_all(&mut w), [65_537, 65_538]);
        assert_eq!(Window::wire(65_537), 1);
        // Wire 1 now means block 65537, the one in flight (block 1 is long acknowledged).
        assert_eq!(w.ack(1), Acked::Advanced { through: 65_537 });
        assert_eq!(w.ack(2), Acked::Complete);
        assert_eq!(w.acked_bytes(), size);
    }
}
