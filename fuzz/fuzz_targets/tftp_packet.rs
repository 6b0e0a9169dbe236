//! The TFTP codec: any datagram parses or is refused without a panic, and a packet that
//! parses encodes to bytes that parse to the same packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netboot_tftp::packet;

fuzz_target!(|datagram: &[u8]| {
    if let Ok(parsed) = packet::parse(datagram) {
        let bytes = parsed.to_vec();
        let again = packet::parse(&bytes).expect("an encoded packet parses");
        assert_eq!(again.to_vec(), bytes, "encode ∘ parse is stable");
    }
});
