//! Secure Boot verification: any bytes as an EFI image (PE/COFF layout, the Authenticode
//! digest, the CMS SignedData and its certificates) get a decision, never a panic.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use netboot_compile::secure_boot::authenticode::{parse_certificates, verify};

fuzz_target!(|image: &[u8]| {
    // A fixed clock: the same input always takes the same path.
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    // The image's own certificates as the trust, so chain building runs too.
    let trusted = parse_certificates(image).unwrap_or_default();
    let _ = verify(image, &trusted, now);
});
