//! netboot-proxy's counters, exported as Prometheus text on the admin listener's `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use http::StatusCode;
use netboot_http::ConnectionMetrics;
use netboot_http::metrics::Exposition;

use crate::cache::CacheStats;

/// Every counter of the proxy but the TFTP server's own.
#[derive(Debug)]
pub struct ProxyMetrics {
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    corrupt_cache_files: AtomicU64,
    origin_fetches_ok: AtomicU64,
    origin_fetches_failed: AtomicU64,
    verification_failures: AtomicU64,
    evictions: AtomicU64,
    /// 0 before the first look at the origin, then 1 (up) or 2 (down).
    origin_state: AtomicU8,
    origin_checks_failed: AtomicU64,
    pub release_swaps: AtomicU64,
    http_by_status: Vec<AtomicU64>,
    pub http: Arc<ConnectionMetrics>,
    pub admin_http: Arc<ConnectionMetrics>,
}

impl Default for ProxyMetrics {
    fn default() -> Self {
        Self {
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            corrupt_cache_files: AtomicU64::new(0),
            origin_fetches_ok: AtomicU64::new(0),
            origin_fetches_failed: AtomicU64::new(0),
            verification_failures: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            origin_state: AtomicU8::new(0),
            origin_checks_failed: AtomicU64::new(0),
            release_swaps: AtomicU64::new(0),
            http_by_status: (0..600).map(|_| AtomicU64::new(0)).collect(),
            http: Arc::default(),
            admin_http: Arc::default(),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl ProxyMetrics {
    pub fn note_cache(&self, hit: bool) {
        bump(if hit {
            &self.cache_hits
        } else {
            &self.cache_misses
        });
    }

    pub fn note_corrupt_cache_file(&self) {
        bump(&self.corrupt_cache_files);
    }

    pub fn note_origin_fetch(&self, ok: bool) {
        bump(if ok {
            &self.origin_fetches_ok
        } else {
            &self.origin_fetches_failed
        });
    }

    pub fn note_verification_failure(&self) {
        bump(&self.verification_failures);
    }

    pub fn note_evictions(&self, n: u64) {
        self.evictions.fetch_add(n, Ordering::Relaxed);
    }

    /// Records the outcome of a look at the origin's `current`; returns whether the
    /// origin's state changed (for a log line on each transition, not on each poll).
    pub fn note_origin_check(&self, up: bool) -> bool {
        if !up {
            bump(&self.origin_checks_failed);
        }
        let state = if up { 1 } else { 2 };
        self.origin_state.swap(state, Ordering::Relaxed) != state
    }

    pub fn origin_up(&self) -> bool {
        self.origin_state.load(Ordering::Relaxed) == 1
    }

    /// Whether the last look at the origin failed (not merely: none has answered yet).
    pub fn origin_down(&self) -> bool {
        self.origin_state.load(Ordering::Relaxed) == 2
    }

    pub fn note_http(&self, status: StatusCode) {
        if let Some(counter) = self.http_by_status.get(usize::from(status.as_u16())) {
            bump(counter);
        }
    }

    /// The Prometheus exposition; `release` is the manifest digest served, `more` adds
    /// the TFTP server's own counters.
    pub fn render(
        &self,
        release: Option<&str>,
        cache: CacheStats,
        more: impl FnOnce(&mut Exposition),
    ) -> String {
        let mut out = Exposition::new("netboot_proxy");
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        out.gauge(
            "origin_up",
            "1 if the last look at the origin's current succeeded; 0 while serving from the cache alone.",
            &[],
            u64::from(self.origin_up()),
        );
        out.counter(
            "origin_checks_failed_total",
            "Looks at the origin's current that failed.",
            &[],
            load(&self.origin_checks_failed),
        );
        for (outcome, counter) in [
            ("ok", &self.origin_fetches_ok),
            ("failed", &self.origin_fetches_failed),
        ] {
            out.counter(
                "origin_fetches_total",
                "Objects downloaded from the origin, by outcome.",
                &[("outcome", outcome)],
                load(counter),
            );
        }
        out.counter(
            "verification_failures_total",
            "Objects from the origin refused because their sha256 did not match.",
            &[],
            load(&self.verification_failures),
        );
        for (result, counter) in [("hit", &self.cache_hits), ("miss", &self.cache_misses)] {
            out.counter(
                "cache_lookups_total",
                "Object lookups in the disk cache.",
                &[("result", result)],
                load(counter),
            );
        }
        out.counter(
            "cache_corrupt_files_total",
            "Cache files found truncated or corrupt, deleted and fetched again.",
            &[],
            load(&self.corrupt_cache_files),
        );
        out.counter(
            "cache_evictions_total",
            "Objects evicted to keep the cache under its limit.",
            &[],
            load(&self.evictions),
        );
        out.gauge(
            "cache_objects",
            "Objects in the disk cache.",
            &[],
            cache.objects,
        );
        out.gauge("cache_bytes", "Bytes in the disk cache.", &[], cache.bytes);
        out.counter(
            "release_swaps_total",
            "Releases installed (including one loaded from the cache at start).",
            &[],
            load(&self.release_swaps),
        );
        out.gauge(
            "release_info",
            "The manifest being served (1), labelled by its digest.",
            &[("manifest", release.unwrap_or("none"))],
            u64::from(release.is_some()),
        );
        for (code, counter) in self.http_by_status.iter().enumerate() {
            let n = load(counter);
            if n > 0 {
                out.counter(
                    "http_requests_total",
                    "LAN HTTP requests answered, by status code.",
                    &[("code", &code.to_string())],
                    n,
                );
            }
        }
        self.http.render(&mut out, "http");
        self.admin_http.render(&mut out, "admin_http");
        more(&mut out);
        out.finish()
    }
}
