//! What the proxyDHCP server says to one packet: a pure function of the packet, the port it
//! came to, and what the proxy serves. No sockets, so every rule is a unit test.

use std::net::{Ipv4Addr, SocketAddrV4};

use dhcproto::v4::{self, DhcpOption, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Encodable};
use netboot_bundle::Manifest;
use netboot_protocol::{BootFileAnswer, Firmware, Mac, Named, Transport, routes, rpi};
use strum::{EnumString, IntoStaticStr, VariantArray, VariantNames};

/// The port PXE clients broadcast to (with every other DHCP client).
pub const SERVER_PORT: u16 = 67;
/// The PXE boot server port: clients that already have an address ask here.
pub const PXE_PORT: u16 = 4011;
/// Where a client without an address listens.
pub const CLIENT_PORT: u16 = 68;
/// Bytes 236..240 of every DHCP message (RFC 2131 §3).
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

/// What the proxy tells clients about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The proxy's address on the LAN: the TFTP next-server and the server identifier.
    pub address: Ipv4Addr,
    /// The proxy's LAN HTTP base (`http://<address>:<port>`), for firmware HTTP Boot.
    pub http_base: String,
    /// Where iPXE is sent for the dispatcher: `http_base`, or the LAN HTTPS listener's
    /// base (`https://<address>:<port>`) with `--proxy-dhcp-https`.
    pub dispatcher_base: String,
}

/// Why a packet got no answer. Every one is counted; none is answered.
#[derive(EnumString, IntoStaticStr, VariantArray, VariantNames)]
#[strum(serialize_all = "snake_case")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silence {
    /// Not a DHCP request this server understands.
    Malformed,
    /// A DHCP client that is not booting from the network (the router answers it).
    NotPxe,
    /// Not a DISCOVER (port 67) or a REQUEST (port 4011): leases are the router's job.
    NotForUs,
    /// The proxy serves no release yet, so it knows no boot file.
    NoRelease,
    /// The site declares no boot file for this client's firmware class.
    NoBootFile,
    /// The datagram was larger than any DHCP message this server reads.
    Oversize,
    /// Over the reply rate limit (the client's own or the server's).
    RateLimited,
    /// A relay address (`giaddr`) no relay agent can have: loopback, multicast,
    /// broadcast, link-local, `0.0.0.0/8`, reserved, or the proxy's own. Answering would
    /// send the reply to the proxy itself or to a whole network.
    BadRelay,
    /// A request on port 4011 (answered to its source) from an address no client can
    /// answer at: unspecified (the reply would go to the proxy's own port 68), multicast,
    /// broadcast, `0.0.0.0/8`, reserved.
    BadSource,
}

/// What kind of client an answer went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// Firmware PXE: its first-stage boot file over TFTP.
    Pxe(Firmware),
    /// UEFI HTTP Boot: its first-stage boot file as a URL.
    HttpBoot(Firmware),
    /// iPXE: the dispatcher's URL.
    Ipxe,
    /// A Raspberry Pi 4/5 bootloader: option 43 "Raspberry Pi Boot" and the TFTP server;
    /// it fetches its tree under its serial number.
    RaspberryPi,
}

/// A reply and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub bytes: Vec<u8>,
    pub to: SocketAddrV4,
    pub kind: Answered,
    /// The client's hardware address (`aa:bb:…`), for the log: DISCOVERs all come from
    /// 0.0.0.0:68.
    pub client: String,
    /// The boot file or URL given.
    pub file: String,
}

/// The answer to `packet`, which came from `from` to port `port` ([`SERVER_PORT`] or
/// [`PXE_PORT`]). `manifest` is the release served, if any.
pub fn answer(
    packet: &[u8],
    from: SocketAddrV4,
    port: u16,
    identity: &Identity,
    manifest: Option<&Manifest>,
    broadcast: SocketAddrV4,
) -> Result<Reply, Silence> {
    // dhcproto does not check the magic cookie, and its `chaddr()` panics on a hardware
    // address length over 16 (found by this module's proptest): both are checked here.
    if packet.get(236..240) != Some(&MAGIC_COOKIE[..]) {
        return Err(Silence::Malformed);
    }
    let packet = options_read_here(packet).ok_or(Silence::Malformed)?;
    let request =
        Message::decode(&mut v4::Decoder::new(&packet)).map_err(|_| Silence::Malformed)?;
    if request.opcode() != Opcode::BootRequest || request.hlen() > 16 {
        return Err(Silence::Malformed);
    }
    let relay = request.giaddr();
    if !relay.is_unspecified() && !can_be_relay(relay, identity.address) {
        return Err(Silence::BadRelay);
    }
    let reply_type = match (request.opts().msg_type(), port) {
        (Some(MessageType::Discover), SERVER_PORT) => MessageType::Offer,
        (Some(MessageType::Request), PXE_PORT) => MessageType::Ack,
        (Some(_), _) => return Err(Silence::NotForUs),
        (None, _) => return Err(Silence::Malformed),
    };
    // Loopback is let through: no other host can send from it (the kernel drops such
    // packets as martians), so it is this host asking.
    if port == PXE_PORT && !(from.ip().is_loopback() || is_unicast(*from.ip())) {
        return Err(Silence::BadSource);
    }
    let class = match request.opts().get(OptionCode::ClassIdentifier) {
        Some(DhcpOption::ClassIdentifier(class)) => class.as_slice(),
        _ => return Err(Silence::NotPxe),
    };
    // The vendor class the client asks with: `PXEClient` (PXE firmware, iPXE) or
    // `HTTPClient` (UEFI HTTP Boot); the answer says the same.
    let asked_over = Transport::ALL
        .iter()
        .copied()
        .find(|t| class.starts_with(t.vendor_class().as_bytes()))
        .ok_or(Silence::NotPxe)?;
    let http_client = asked_over == Transport::Http;
    let ipxe = matches!(
        request.opts().get(OptionCode::UserClass),
        Some(DhcpOption::UserClass(user)) if user.as_slice() == b"iPXE"
    );
    let manifest = manifest.ok_or(Silence::NoRelease)?;
    // Only a Pi MAC with the bootloader's class: a PC's BIOS ROM sends that class too.
    let raspberry_pi = !ipxe
        && request.chaddr().len() >= 6
        && rpi::is_pi_bootloader(class, &Mac::new(hardware_address(request.chaddr())));
    let (file, kind) = if raspberry_pi {
        (String::new(), Answered::RaspberryPi)
    } else if ipxe {
        (
            BootFileAnswer::dispatcher_url(&identity.dispatcher_base),
            Answered::Ipxe,
        )
    } else {
        let arch_type = match request.opts().get(OptionCode::ClientSystemArchitecture) {
            Some(DhcpOption::ClientSystemArchitecture(arch)) => u16::from(*arch),
            _ => return Err(Silence::Malformed),
        };
        let (firmware, transport) =
            Firmware::from_arch_type(arch_type).ok_or(Silence::NoBootFile)?;
        // A Secure Boot machine, known by its hardware address: its Secure Boot first stage.
        let secure_boot = <[u8; 6]>::try_from(request.chaddr().get(..6).unwrap_or_default())
            .ok()
            .and_then(|mac| manifest.secure_boot_file(&Mac::new(mac)));
        let name = secure_boot
            .or_else(|| manifest.boot_file(firmware))
            .and_then(routes::tftp_name)
            .ok_or(Silence::NoBootFile)?;
        let answer = BootFileAnswer::new(firmware, transport, name, &identity.http_base);
        let kind = match transport {
            Transport::Tftp => Answered::Pxe(firmware),
            Transport::Http => Answered::HttpBoot(firmware),
        };
        (answer.file, kind)
    };

    let mut reply = Message::new_with_id(
        request.xid(),
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        identity.address,
        request.giaddr(),
        request.chaddr(),
    );
    reply
        .set_opcode(Opcode::BootReply)
        .set_htype(request.htype())
        .set_flags(request.flags())
        .set_sname_str(identity.address.to_string());
    // The boot file field holds 128 bytes; option 67 carries a longer URL too.
    if file.len() < 128 {
        reply.set_fname_str(&file);
    }
    let opts = reply.opts_mut();
    opts.insert(DhcpOption::MessageType(reply_type));
    opts.insert(DhcpOption::ServerIdentifier(identity.address));
    opts.insert(DhcpOption::ClassIdentifier(
        asked_over.vendor_class().as_bytes().to_vec(),
    ));
    if !file.is_empty() {
        opts.insert(DhcpOption::BootfileName(file.clone().into_bytes()));
    }
    if raspberry_pi {
        opts.insert(DhcpOption::VendorExtensions(rpi::OPTION_43.to_vec()));
        opts.insert(DhcpOption::TFTPServerName(
            identity.address.to_string().into_bytes(),
        ));
    } else if !http_client {
        // PXE vendor options: discovery control 8 = boot the file named here, no boot
        // server discovery (what PXE ROMs need to act on a proxyDHCP offer).
        opts.insert(DhcpOption::VendorExtensions(vec![6, 1, 8, 255]));
    }
    // Answers the client's identifier back, as RFC 6842 asks.
    if let Some(id) = request.opts().get(OptionCode::ClientIdentifier) {
        opts.insert(id.clone());
    }
    let to = if port == PXE_PORT {
        from
    } else if !request.giaddr().is_unspecified() {
        SocketAddrV4::new(request.giaddr(), SERVER_PORT)
    } else {
        broadcast
    };
    let bytes = reply.to_vec().map_err(|_| Silence::Malformed)?;
    let client = request
        .chaddr()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok(Reply {
        bytes,
        to,
        kind,
        client,
        file,
    })
}

/// The first six bytes of `chaddr` (the caller checked there are six).
fn hardware_address(chaddr: &[u8]) -> [u8; 6] {
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&chaddr[..6]);
    mac
}

/// Whether `relay` can be a relay agent's address on some LAN: a unicast address a host
/// may have, and not the proxy's own (`giaddr` 0.0.0.0, no relay, is checked apart).
fn can_be_relay(relay: Ipv4Addr, proxy: Ipv4Addr) -> bool {
    is_unicast(relay) && !relay.is_loopback() && !relay.is_link_local() && relay != proxy
}

/// Whether a host can have `address`: not `0.0.0.0/8` (unspecified included), multicast,
/// broadcast or reserved (`240.0.0.0/4`).
fn is_unicast(address: Ipv4Addr) -> bool {
    let [first, ..] = address.octets();
    !(first == 0 || address.is_multicast() || first >= 240)
}

/// `packet` with only the options this server reads, each of a length it can read, or `None`
/// when its option area is truncated or an option it reads is malformed. dhcproto asserts the
/// length of some options it decodes (a panic in debug builds, a misparse in release; found
/// by this module's proptest), so it never sees one this server does not read.
fn options_read_here(packet: &[u8]) -> Option<Vec<u8>> {
    let (header, mut options) = packet.split_at_checked(240)?;
    let mut kept = header.to_vec();
    while let Some((&code, rest)) = options.split_first() {
        match code {
            0 => options = rest,
            255 => break,
            _ => {
                let (&len, rest) = rest.split_first()?;
                let (data, rest) = rest.split_at_checked(usize::from(len))?;
                match code {
                    // Message type: one byte.
                    53 if data.len() != 1 => return None,
                    // Vendor class, client identifier, user class: any bytes.
                    53 | 60 | 61 | 77 => kept.extend([code, len].iter().chain(data)),
                    // Client architectures (RFC 4578): a list of u16; the first one counts.
                    93 => match data.get(..2) {
                        Some(first) if data.len() % 2 == 0 => {
                            kept.extend([code, 2].iter().chain(first));
                        }
                        _ => return None,
                    },
                    _ => {}
                }
                options = rest;
            }
        }
    }
    kept.push(255);
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcproto::v4::{Architecture, Flags};
    use netboot_bundle::{Digest, RouteEntry};

    const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xe2, 0xe0, 0x01];
    const CLIENT: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, CLIENT_PORT);
    const BROADCAST: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT);

    fn identity() -> Identity {
        Identity {
            address: Ipv4Addr::new(10, 77, 0, 2),
            http_base: "http://10.77.0.2:8080".into(),
            dispatcher_base: "http://10.77.0.2:8080".into(),
        }
    }

    fn manifest() -> Manifest {
        let mut m = Manifest::new();
        for (route, firmware) in [
            ("tftp/undionly.kpxe", Firmware::Bios),
            ("tftp/ipxe.efi", Firmware::UefiX86_64),
        ] {
            m.routes.insert(
                route.into(),
                RouteEntry {
                    object: Digest::of(route.as_bytes()),
                    size: 1,
                    content_type: "application/octet-stream".into(),
                },
            );
            m.firmware.insert(firmware.name().into(), route.into());
        }
        m
    }

    fn request(kind: MessageType, class: &[u8], arch: Option<u16>, user: Option<&[u8]>) -> Vec<u8> {
        request_from(&MAC, kind, class, arch, user)
    }

    fn request_from(
        mac: &[u8; 6],
        kind: MessageType,
        class: &[u8],
        arch: Option<u16>,
        user: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut m = Message::new(
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            mac,
        );
        m.set_flags(Flags::default().set_broadcast());
        m.opts_mut().insert(DhcpOption::MessageType(kind));
        m.opts_mut()
            .insert(DhcpOption::ClassIdentifier(class.to_vec()));
        if let Some(arch) = arch {
            m.opts_mut()
                .insert(DhcpOption::ClientSystemArchitecture(Architecture::from(
                    arch,
                )));
        }
        if let Some(user) = user {
            m.opts_mut().insert(DhcpOption::UserClass(user.to_vec()));
        }
        m.to_vec().unwrap()
    }

    fn decode(reply: &Reply) -> Message {
        Message::decode(&mut v4::Decoder::new(&reply.bytes)).unwrap()
    }

    fn boot_file(m: &Message) -> String {
        match m.opts().get(OptionCode::BootfileName) {
            Some(DhcpOption::BootfileName(f)) => String::from_utf8(f.clone()).unwrap(),
            other => panic!("no boot file: {other:?}"),
        }
    }

    #[test]
    fn a_secure_boot_machine_gets_its_first_stage_by_mac_and_ipxe_still_the_dispatcher() {
        let pxe = request(
            MessageType::Discover,
            b"PXEClient:Arch:00007:UNDI:003016",
            Some(7),
            None,
        );
        let ask = |m: &Manifest, packet: &[u8]| {
            let reply =
                answer(packet, CLIENT, SERVER_PORT, &identity(), Some(m), BROADCAST).unwrap();
            boot_file(&decode(&reply))
        };
        let mut m = manifest();
        m.routes.insert(
            "tftp/ipxe-shim.efi".into(),
            RouteEntry {
                object: Digest::of(b"shim"),
                size: 1,
                content_type: "application/octet-stream".into(),
            },
        );
        // Another machine's MAC: this client keeps its class's file.
        m.secure_boot
            .insert("52-54-00-e2-e0-02".into(), "tftp/ipxe-shim.efi".into());
        assert_eq!(ask(&m, &pxe), "ipxe.efi");
        m.secure_boot
            .insert(Mac::new(MAC).hexhyp(), "tftp/ipxe-shim.efi".into());
        assert_eq!(ask(&m, &pxe), "ipxe-shim.efi");
        let ipxe = request(
            MessageType::Discover,
            b"PXEClient:Arch:00007:UNDI:003016",
            Some(7),
            Some(b"iPXE"),
        );
        assert_eq!(ask(&m, &ipxe), "http://10.77.0.2:8080/boot.ipxe");
    }

    #[test]
    fn pxe_clients_get_their_firmwares_file_and_no_address() {
        let m = manifest();
        for (arch, file, firmware) in [
            (0, "undionly.kpxe", Firmware::Bios),
            (7, "ipxe.efi", Firmware::UefiX86_64),
            (9, "ipxe.efi", Firmware::UefiX86_64),
        ] {
            let packet = request(
                MessageType::Discover,
                b"PXEClient:Arch:00000:UNDI:002001",
                Some(arch),
                None,
            );
            let reply = answer(
                &packet,
                CLIENT,
                SERVER_PORT,
                &identity(),
                Some(&m),
                BROADCAST,
            )
            .unwrap();
            assert_eq!(reply.kind, Answered::Pxe(firmware));
            assert_eq!(
                reply.to, BROADCAST,
                "a client without an address hears a broadcast"
            );
            let offer = decode(&reply);
            assert_eq!(offer.opcode(), Opcode::BootReply);
            assert_eq!(offer.opts().msg_type(), Some(MessageType::Offer));
            assert_eq!(
                offer.yiaddr(),
                Ipv4Addr::UNSPECIFIED,
                "proxyDHCP never leases"
            );
            assert_eq!(
                offer.siaddr(),
                identity().address,
                "next-server is the proxy"
            );
            assert_eq!(offer.chaddr(), MAC);
            // dhcproto keeps the field's NUL terminator.
            assert_eq!(
                offer.fname_str().unwrap().unwrap().trim_end_matches('\0'),
                file
            );
            assert_eq!(boot_file(&offer), file);
            assert_eq!(
                offer.opts().get(OptionCode::ClassIdentifier),
                Some(&DhcpOption::ClassIdentifier(b"PXEClient".to_vec()))
            );
            assert_eq!(
                offer.opts().get(OptionCode::VendorExtensions),
                Some(&DhcpOption::VendorExtensions(vec![6, 1, 8, 255]))
            );
            assert!(offer.flags().broadcast());
        }
    }

    /// A Pi bootloader (its class, a Raspberry Pi MAC) gets option 43 naming "Raspberry Pi
    /// Boot" and the proxy as TFTP server, and no boot file; a PC sending the same class
    /// gets its BIOS file and the PXE ROM's discovery control, never the Pi's menu.
    #[test]
    fn a_pi_bootloader_gets_the_raspberry_pi_menu_and_a_pc_with_its_class_does_not() {
        let m = manifest();
        let class = rpi::VENDOR_CLASS.as_bytes();
        let ask = |mac: &[u8; 6]| {
            let packet = request_from(mac, MessageType::Discover, class, Some(0), None);
            answer(
                &packet,
                CLIENT,
                SERVER_PORT,
                &identity(),
                Some(&m),
                BROADCAST,
            )
            .unwrap()
        };
        let pi = ask(&[0xd8, 0x3a, 0xdd, 0x10, 0x20, 0x01]);
        assert_eq!(pi.kind, Answered::RaspberryPi);
        let offer = decode(&pi);
        assert_eq!(
            offer.opts().get(OptionCode::VendorExtensions),
            Some(&DhcpOption::VendorExtensions(rpi::OPTION_43.to_vec()))
        );
        assert_eq!(
            offer.opts().get(OptionCode::TFTPServerName),
            Some(&DhcpOption::TFTPServerName(b"10.77.0.2".to_vec()))
        );
        assert_eq!(offer.siaddr(), identity().address);
        assert_eq!(offer.opts().get(OptionCode::BootfileName), None);

        let pc = decode(&ask(&MAC));
        assert_eq!(boot_file(&pc), "undionly.kpxe");
        assert_eq!(
            pc.opts().get(OptionCode::VendorExtensions),
            Some(&DhcpOption::VendorExtensions(vec![6, 1, 8, 255]))
        );
        assert_eq!(pc.opts().get(OptionCode::TFTPServerName), None);
    }

    #[test]
    fn ipxe_gets_the_dispatcher_so_nothing_loops() {
        let packet = request(
            MessageType::Discover,
            b"PXEClient:Arch:00007:UNDI:003016",
            Some(7),
            Some(b"iPXE"),
        );
        let reply = answer(
            &packet,
            CLIENT,
            SERVER_PORT,
            &identity(),
            Some(&manifest()),
            BROADCAST,
        )
        .unwrap();
        assert_eq!(reply.kind, Answered::Ipxe);
        assert_eq!(
            boot_file(&decode(&reply)),
            "http://10.77.0.2:8080/boot.ipxe"
        );
    }

    #[test]
    fn http_boot_clients_get_a_url_and_their_class_back() {
        let packet = request(
            MessageType::Discover,
            b"HTTPClient:Arch:00016:UNDI:003001",
            Some(16),
            None,
        );
        let reply = answer(
            &packet,
            CLIENT,
            SERVER_PORT,
            &identity(),
            Some(&manifest()),
            BROADCAST,
        )
        .unwrap();
        assert_eq!(reply.kind, Answered::HttpBoot(Firmware::UefiX86_64));
        let offer = decode(&reply);
        assert_eq!(boot_file(&offer), "http://10.77.0.2:8080/tftp/ipxe.efi");
        assert_eq!(
            offer.opts().get(OptionCode::ClassIdentifier),
            Some(&DhcpOption::ClassIdentifier(b"HTTPClient".to_vec()))
        );
        assert_eq!(offer.opts().get(OptionCode::VendorExtensions), None);
    }

    /// With `--proxy-dhcp-https`, iPXE is sent the HTTPS listener's dispatcher; firmware
    /// HTTP Boot, which holds no LAN CA, still gets its first stage over plain HTTP.
    #[test]
    fn an_https_dispatcher_goes_to_ipxe_only() {
        let identity = Identity {
            dispatcher_base: "https://10.77.0.2:8443".into(),
            ..identity()
        };
        let ask = |class: &[u8], arch: u16, user: Option<&[u8]>| {
            let packet = request(MessageType::Discover, class, Some(arch), user);
            let reply = answer(
                &packet,
                CLIENT,
                SERVER_PORT,
                &identity,
                Some(&manifest()),
                BROADCAST,
            )
            .unwrap();
            boot_file(&decode(&reply))
        };
        assert_eq!(
            ask(b"PXEClient:Arch:00007:UNDI:003016", 7, Some(b"iPXE")),
            "https://10.77.0.2:8443/boot.ipxe"
        );
        assert_eq!(
            ask(b"HTTPClient:Arch:00016:UNDI:003001", 16, None),
            "http://10.77.0.2:8080/tftp/ipxe.efi"
        );
    }

    #[test]
    fn requests_on_the_pxe_port_are_acked_to_the_sender() {
        let from = SocketAddrV4::new(Ipv4Addr::new(10, 77, 0, 150), CLIENT_PORT);
        let packet = request(MessageType::Request, b"PXEClient:Arch:00000", Some(0), None);
        let reply = answer(
            &packet,
            from,
            PXE_PORT,
            &identity(),
            Some(&manifest()),
            BROADCAST,
        )
        .unwrap();
        assert_eq!(reply.to, from);
        assert_eq!(decode(&reply).opts().msg_type(), Some(MessageType::Ack));
    }

    #[test]
    fn everyone_else_gets_silence() {
        let m = manifest();
        let silence = |packet: &[u8], port, manifest: Option<&Manifest>| {
            answer(packet, CLIENT, port, &identity(), manifest, BROADCAST).unwrap_err()
        };
        let laptop = request(MessageType::Discover, b"MSFT 5.0", None, None);
        assert_eq!(silence(&laptop, SERVER_PORT, Some(&m)), Silence::NotPxe);
        let arm = request(
            MessageType::Discover,
            b"PXEClient:Arch:00011",
            Some(11),
            None,
        );
        assert_eq!(silence(&arm, SERVER_PORT, Some(&m)), Silence::NoBootFile);
        let strange = request(MessageType::Discover, b"PXEClient", Some(0x1234), None);
        assert_eq!(
            silence(&strange, SERVER_PORT, Some(&m)),
            Silence::NoBootFile
        );
        let bios = request(MessageType::Discover, b"PXEClient", Some(0), None);
        assert_eq!(silence(&bios, SERVER_PORT, None), Silence::NoRelease);
        // A REQUEST on port 67 is for the router's lease; a DISCOVER on 4011 is confused.
        let lease = request(MessageType::Request, b"PXEClient", Some(0), None);
        assert_eq!(silence(&lease, SERVER_PORT, Some(&m)), Silence::NotForUs);
        assert_eq!(silence(&bios, PXE_PORT, Some(&m)), Silence::NotForUs);
        let no_arch = request(MessageType::Discover, b"PXEClient", None, None);
        assert_eq!(silence(&no_arch, SERVER_PORT, Some(&m)), Silence::Malformed);
    }

    #[test]
    fn silences_keep_their_metric_label_names() {
        assert_eq!(
            Silence::NAMES,
            [
                "malformed",
                "not_pxe",
                "not_for_us",
                "no_release",
                "no_boot_file",
                "oversize",
                "rate_limited",
                "bad_relay",
                "bad_source"
            ]
        );
    }

    #[test]
    fn only_the_options_read_reach_the_decoder() {
        let m = manifest();
        let reply = |packet: &[u8]| {
            answer(
                packet,
                CLIENT,
                SERVER_PORT,
                &identity(),
                Some(&m),
                BROADCAST,
            )
        };
        let with_options = |options: &[u8]| {
            let mut packet = request(MessageType::Discover, b"PXEClient", None, None);
            packet.splice(240..240, options.iter().copied());
            packet
        };
        // Options this server does not read, with lengths dhcproto asserts on (the
        // proptest's find: bulk lease query base time, length 1; rapid commit, length 2):
        // ignored, and the client still gets its file.
        let odd = with_options(&[152, 1, 0, 80, 2, 0, 0, 93, 2, 0, 7]);
        assert_eq!(boot_file(&decode(&reply(&odd).unwrap())), "ipxe.efi");
        // Two architectures: the first one counts (RFC 4578 allows a list).
        let two = with_options(&[93, 4, 0, 0, 0, 7]);
        assert_eq!(boot_file(&decode(&reply(&two).unwrap())), "undionly.kpxe");
        // An option read here with a length it cannot have, or an option running past the
        // end of the packet: malformed.
        for bad in [&[53, 2, 1, 1][..], &[93, 3, 0, 0, 0], &[93, 0]] {
            assert_eq!(
                reply(&with_options(bad)),
                Err(Silence::Malformed),
                "{bad:?}"
            );
        }
        let mut cut = request(MessageType::Discover, b"PXEClient", Some(7), None);
        cut.truncate(240);
        cut.extend([60, 40, b'P']);
        assert_eq!(reply(&cut), Err(Silence::Malformed));
    }

    #[test]
    fn malformed_packets_of_every_length_are_refused_without_panicking() {
        let m = manifest();
        let good = request(MessageType::Discover, b"PXEClient", Some(0), None);
        // Every truncation of a good packet, and junk.
        for len in 0..good.len() {
            let _ = answer(
                &good[..len],
                CLIENT,
                SERVER_PORT,
                &identity(),
                Some(&m),
                BROADCAST,
            );
        }
        for junk in [&[0u8; 300][..], &[0xff; 600][..], b"\x01\x01\x06\x00"] {
            assert!(answer(junk, CLIENT, SERVER_PORT, &identity(), Some(&m), BROADCAST).is_err());
        }
    }

    /// Regression: a hardware address length over 16 made dhcproto's `chaddr()` panic. A
    /// packet without the magic cookie is not DHCP.
    #[test]
    fn a_long_hardware_address_length_is_malformed_not_a_panic() {
        let mut long_address = request(MessageType::Discover, b"PXEClient", Some(0), None);
        long_address[2] = 200;
        let mut no_cookie = request(MessageType::Discover, b"PXEClient", Some(0), None);
        no_cookie[236] = 0;
        for packet in [long_address, no_cookie] {
            let reply = answer(
                &packet,
                CLIENT,
                SERVER_PORT,
                &identity(),
                Some(&manifest()),
                BROADCAST,
            );
            assert_eq!(reply, Err(Silence::Malformed));
        }
    }

    proptest::proptest! {
        /// Any bytes, and any corruption of a real request, get an answer or a silence,
        /// never a panic.
        #[test]
        fn no_input_panics(
            junk in proptest::collection::vec(proptest::num::u8::ANY, 0..700),
            flips in proptest::collection::vec((0usize..400, proptest::num::u8::ANY), 0..8),
        ) {
            let m = manifest();
            let _ = answer(&junk, CLIENT, SERVER_PORT, &identity(), Some(&m), BROADCAST);
            let mut packet = request(MessageType::Discover, b"PXEClient", Some(0), Some(b"iPXE"));
            for (at, byte) in flips {
                let len = packet.len();
                packet[at % len] = byte;
            }
            let _ = answer(&packet, CLIENT, PXE_PORT, &identity(), Some(&m), BROADCAST);
            let _ = answer(&packet, CLIENT, SERVER_PORT, &identity(), Some(&m), BROADCAST);
        }
    }

    #[test]
    fn relay_addresses_no_relay_can_have_get_silence() {
        let m = manifest();
        let with_relay = |giaddr: Ipv4Addr| {
            let mut packet = request(
                MessageType::Discover,
                b"PXEClient:Arch:00000:UNDI:002001",
                Some(0),
                None,
            );
            packet[24..28].copy_from_slice(&giaddr.octets());
            answer(
                &packet,
                CLIENT,
                SERVER_PORT,
                &identity(),
                Some(&m),
                BROADCAST,
            )
        };
        for bad in [
            Ipv4Addr::LOCALHOST,
            Ipv4Addr::new(127, 9, 9, 9),
            Ipv4Addr::new(224, 0, 0, 1),
            Ipv4Addr::new(239, 255, 255, 250),
            Ipv4Addr::BROADCAST,
            Ipv4Addr::new(240, 0, 0, 1),
            Ipv4Addr::new(169, 254, 1, 1),
            Ipv4Addr::new(0, 1, 2, 3),
            identity().address,
        ] {
            assert_eq!(with_relay(bad), Err(Silence::BadRelay), "{bad}");
        }
        let relay = Ipv4Addr::new(10, 77, 5, 1);
        let reply = with_relay(relay).unwrap();
        assert_eq!(reply.to, SocketAddrV4::new(relay, SERVER_PORT));
        assert_eq!(decode(&reply).giaddr(), relay);
        assert_eq!(with_relay(Ipv4Addr::UNSPECIFIED).unwrap().to, BROADCAST);
    }

    #[test]
    fn requests_on_4011_from_addresses_no_client_has_get_silence() {
        let m = manifest();
        let packet = request(MessageType::Request, b"PXEClient", Some(0), None);
        let from = |ip: Ipv4Addr| {
            answer(
                &packet,
                SocketAddrV4::new(ip, CLIENT_PORT),
                PXE_PORT,
                &identity(),
                Some(&m),
                BROADCAST,
            )
        };
        for bad in [
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::new(0, 9, 9, 9),
            Ipv4Addr::new(224, 0, 0, 251),
            Ipv4Addr::BROADCAST,
            Ipv4Addr::new(250, 1, 1, 1),
        ] {
            assert_eq!(from(bad), Err(Silence::BadSource), "{bad}");
        }
        for good in [Ipv4Addr::new(10, 77, 0, 50), Ipv4Addr::LOCALHOST] {
            let reply = from(good).unwrap();
            assert_eq!(reply.to, SocketAddrV4::new(good, CLIENT_PORT), "{good}");
        }
    }
}
