//! The bundle's documents (manifest, pointer, release record): any bytes parse or are
//! refused without a panic, and what parses re-encodes canonically to a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netboot_bundle::{Manifest, Pointer, Record};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(manifest) = Manifest::parse(bytes) {
        let canonical = manifest.to_canonical();
        let again = Manifest::parse(&canonical).expect("a canonical manifest parses");
        assert_eq!(again.to_canonical(), canonical);
    }
    if let Ok(pointer) = Pointer::parse(bytes) {
        let canonical = pointer.to_canonical();
        let again = Pointer::parse(&canonical).expect("a canonical pointer parses");
        assert_eq!(again.to_canonical(), canonical);
    }
    if let Ok(record) = Record::parse(bytes) {
        let canonical = record.to_canonical();
        let again = Record::parse(&canonical).expect("a canonical record parses");
        assert_eq!(again.to_canonical(), canonical);
    }
});
