//! netboot-serve's counters and the access log.
//!
//! The log line and the request metrics are written when the response body ends (or is
//! dropped because the client went away), so `bytes` is what was actually sent and the
//! duration covers the whole transfer, not just the time to the first byte.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, StatusCode};
use netboot_http::metrics::{Exposition, Histogram, LATENCY_BOUNDS};
use netboot_http::observed::{BodyObserver, observed};
use netboot_http::{Body, ConnectionInfo, ConnectionMetrics};

/// Every counter netboot-serve exports.
#[derive(Debug)]
pub struct ServeMetrics {
    by_status: Vec<AtomicU64>,
    response_bytes: AtomicU64,
    duration: Histogram,
    pub release_swaps: AtomicU64,
    pub release_refusals: AtomicU64,
    object_failures: AtomicU64,
    pub tls: Arc<ConnectionMetrics>,
    pub health: Arc<ConnectionMetrics>,
}

impl Default for ServeMetrics {
    fn default() -> Self {
        Self {
            by_status: (0..600).map(|_| AtomicU64::new(0)).collect(),
            response_bytes: AtomicU64::new(0),
            duration: Histogram::new(LATENCY_BOUNDS),
            release_swaps: AtomicU64::new(0),
            release_refusals: AtomicU64::new(0),
            object_failures: AtomicU64::new(0),
            tls: Arc::default(),
            health: Arc::default(),
        }
    }
}

impl ServeMetrics {
    pub fn note_object_failure(&self) {
        self.object_failures.fetch_add(1, Ordering::Relaxed);
    }

    fn note_request(&self, status: StatusCode, bytes: u64, seconds: f64) {
        if let Some(counter) = self.by_status.get(usize::from(status.as_u16())) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.response_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.duration.observe(seconds);
    }

    /// The Prometheus exposition. `release` labels the release being served.
    pub fn render(&self, release: Option<&str>) -> String {
        let mut out = Exposition::new("netboot_serve");
        for (code, counter) in self.by_status.iter().enumerate() {
            let n = counter.load(Ordering::Relaxed);
            if n > 0 {
                out.counter(
                    "requests_total",
                    "Requests answered, by status code.",
                    &[("code", &code.to_string())],
                    n,
                );
            }
        }
        out.counter(
            "response_body_bytes_total",
            "Response body bytes sent.",
            &[],
            self.response_bytes.load(Ordering::Relaxed),
        );
        out.histogram(
            "request_duration_seconds",
            "Time from request to the end of the response body.",
            &self.duration,
        );
        out.counter(
            "release_swaps_total",
            "Releases installed (including the first).",
            &[],
            self.release_swaps.load(Ordering::Relaxed),
        );
        out.counter(
            "release_refusals_total",
            "New releases refused because they failed verification.",
            &[],
            self.release_refusals.load(Ordering::Relaxed),
        );
        out.counter(
            "object_verification_failures_total",
            "Requests refused with 500 because an object file failed verification.",
            &[],
            self.object_failures.load(Ordering::Relaxed),
        );
        out.gauge(
            "release_info",
            "The manifest being served (1), labelled by its digest.",
            &[("manifest", release.unwrap_or("none"))],
            u64::from(release.is_some()),
        );
        self.tls.render(&mut out, "tls");
        self.health.render(&mut out, "health");
        out.finish()
    }
}

/// What the access log line says about a request.
#[derive(Debug)]
pub struct AccessRecord {
    pub method: Method,
    pub path: String,
    pub status: StatusCode,
    pub connection: Arc<ConnectionInfo>,
    pub start: Instant,
    pub metrics: Arc<ServeMetrics>,
}

/// Wraps a response body so the access log line is written when it ends.
pub fn logged(body: Body, record: AccessRecord) -> Body {
    observed(body, AccessLog { record, sent: 0 })
}

struct AccessLog {
    record: AccessRecord,
    sent: u64,
}

impl BodyObserver for AccessLog {
    fn data(&mut self, chunk: &Bytes) {
        self.sent += chunk.len() as u64;
    }

    fn end(&mut self, complete: bool) {
        let record = &self.record;
        let seconds = record.start.elapsed().as_secs_f64();
        record
            .metrics
            .note_request(record.status, self.sent, seconds);
        // Paths are attacker-chosen: cap what reaches the log.
        let path: String = record.path.chars().take(256).collect();
        tracing::info!(
            target: "access",
            method = %record.method,
            path = %path,
            status = record.status.as_u16(),
            bytes = self.sent,
            complete,
            duration_ms = format_args!("{:.3}", seconds * 1e3),
            remote = %record.connection.remote,
            tls = record.connection.tls_version.unwrap_or("none"),
            client = record.connection.client_subject.as_deref().unwrap_or("-"),
        );
    }
}
