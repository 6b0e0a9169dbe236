//! proxyDHCP: any datagram on either port gets an answer or a silence, never a panic.
#![no_main]

use std::net::{Ipv4Addr, SocketAddrV4};

use libfuzzer_sys::fuzz_target;
use netboot_proxy::dhcp::answer::{Identity, PXE_PORT, SERVER_PORT, answer};

fuzz_target!(|datagram: &[u8]| {
    let identity = Identity {
        address: Ipv4Addr::new(192, 168, 1, 2),
        http_base: "http://192.168.1.2:8080".into(),
    };
    let from = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68);
    let broadcast = SocketAddrV4::new(Ipv4Addr::BROADCAST, 68);
    for port in [SERVER_PORT, PXE_PORT] {
        let _ = answer(datagram, from, port, &identity, None, broadcast);
    }
});
