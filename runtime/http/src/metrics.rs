//! Prometheus text exposition (format 0.0.4), hand-rolled: the servers export a handful of
//! counters and one histogram, which does not justify a metrics framework in the sink.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Content type of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// An exposition being written; every metric name gets `prefix`.
#[derive(Debug)]
pub struct Exposition {
    prefix: &'static str,
    out: String,
    /// Families whose HELP/TYPE lines are already out (a family may have several samples).
    declared: Vec<String>,
}

impl Exposition {
    pub fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            out: String::with_capacity(4096),
            declared: Vec::new(),
        }
    }

    pub fn finish(self) -> String {
        self.out
    }

    fn declare(&mut self, name: &str, help: &str, kind: &str) {
        let full = format!("{}_{name}", self.prefix);
        if !self.declared.contains(&full) {
            let _ = writeln!(self.out, "# HELP {full} {help}");
            let _ = writeln!(self.out, "# TYPE {full} {kind}");
            self.declared.push(full);
        }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let _ = write!(self.out, "{}_{name}", self.prefix);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let escaped = val
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.out, "{key}=\"{escaped}\"");
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: u64) {
        self.declare(name, help, "counter");
        self.sample(name, labels, value);
    }

    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: u64) {
        self.declare(name, help, "gauge");
        self.sample(name, labels, value);
    }

    pub fn histogram(&mut self, name: &str, help: &str, histogram: &Histogram) {
        self.declare(name, help, "histogram");
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        for (bound, count) in histogram.bounds.iter().zip(&histogram.counts) {
            cumulative += count.load(Ordering::Relaxed);
            self.sample(&bucket, &[("le", &bound.to_string())], cumulative);
        }
        let total = histogram.count.load(Ordering::Relaxed);
        self.sample(&bucket, &[("le", "+Inf")], total);
        let sum = histogram.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        self.sample(&format!("{name}_sum"), &[], sum);
        self.sample(&format!("{name}_count"), &[], total);
    }
}

/// A latency histogram in seconds with fixed bucket bounds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Bounds suited to a static file server: from 0.5 ms to a slow 20 MB transfer.
pub const LATENCY_BOUNDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, seconds: f64) {
        if let Some(i) = self.bounds.iter().position(|&b| seconds <= b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn renders_families_once_with_escaped_labels() {
        let mut out = Exposition::new("x");
        out.counter("hits_total", "Hits.", &[("code", "200")], 3);
        out.counter("hits_total", "Hits.", &[("code", "a\"b")], 1);
        let h = Histogram::new(&[0.1, 1.0]);
        h.observe(0.05);
        h.observe(0.5);
        h.observe(5.0);
        out.histogram("latency_seconds", "Latency.", &h);
        let text = out.finish();
        assert_eq!(text.matches("# TYPE x_hits_total counter").count(), 1);
        assert!(text.contains("x_hits_total{code=\"a\\\"b\"} 1\n"), "{text}");
        assert!(
            text.contains("x_latency_seconds_bucket{le=\"0.1\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("x_latency_seconds_bucket{le=\"1\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("x_latency_seconds_bucket{le=\"+Inf\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("x_latency_seconds_count 3\n"), "{text}");
    }
}
