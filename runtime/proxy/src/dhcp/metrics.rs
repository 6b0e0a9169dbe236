//! proxyDHCP's counters: answers by kind, silences by reason.

use std::sync::atomic::{AtomicU64, Ordering};

use netboot_http::metrics::Exposition;
use netboot_protocol::Named;

use super::answer::{Answered, Silence};

#[derive(Debug, Default)]
pub struct DhcpMetrics {
    pxe: AtomicU64,
    http_boot: AtomicU64,
    ipxe: AtomicU64,
    raspberry_pi: AtomicU64,
    silent: [AtomicU64; Silence::ALL.len()],
}

impl DhcpMetrics {
    pub fn answered(&self, kind: Answered) {
        let counter = match kind {
            Answered::Pxe(_) => &self.pxe,
            Answered::HttpBoot(_) => &self.http_boot,
            Answered::Ipxe => &self.ipxe,
            Answered::RaspberryPi => &self.raspberry_pi,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn silent(&self, why: Silence) {
        self.silent[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Packets left unanswered for `why`.
    pub fn silences(&self, why: Silence) -> u64 {
        self.silent[why as usize].load(Ordering::Relaxed)
    }

    /// Answers sent, all kinds.
    pub fn answers(&self) -> u64 {
        [&self.pxe, &self.http_boot, &self.ipxe, &self.raspberry_pi]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    pub fn render(&self, out: &mut Exposition) {
        for (kind, counter) in [
            ("pxe", &self.pxe),
            ("http_boot", &self.http_boot),
            ("ipxe", &self.ipxe),
            ("raspberry_pi", &self.raspberry_pi),
        ] {
            out.counter(
                "dhcp_answers_total",
                "proxyDHCP answers sent, by kind of client.",
                &[("client", kind)],
                counter.load(Ordering::Relaxed),
            );
        }
        for &why in Silence::ALL {
            out.counter(
                "dhcp_ignored_total",
                "DHCP packets left unanswered, by reason.",
                &[("reason", why.name())],
                self.silences(why),
            );
        }
    }
}
