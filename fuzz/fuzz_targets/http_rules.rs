//! The HTTP representation rules both servers follow (method, Range, If-None-Match,
//! If-Match, If-Range, HEAD): any request head gives a response plan without a panic, and
//! a plan never sends a byte outside the representation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netboot_http::representation::{self, Head, Representation};

const SHA256: [u8; 32] = [7; 32];
const SIZE: u64 = 1000;

fuzz_target!(|text: &str| {
    // Line 1: the method; line 2: the path; then `name: value` header lines.
    let mut lines = text.split('\n');
    let method = lines.next().unwrap_or("GET");
    let path = lines.next().unwrap_or("/");
    let mut builder = http::Request::builder().method(method).uri(path);
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            builder = builder.header(name.trim(), value.trim());
        }
    }
    let Ok(request) = builder.body(()) else {
        return;
    };
    if representation::method_not_allowed(&request).is_some() {
        return;
    }
    let rep = Representation {
        sha256: &SHA256,
        size: SIZE,
        content_type: "application/octet-stream",
        cache_control: "public, max-age=31536000, immutable",
    };
    if let Head::Send(plan) = representation::head(&request, &rep) {
        assert!(plan.range.start <= plan.range.end && plan.range.end <= SIZE, "{plan:?}");
    }
});
