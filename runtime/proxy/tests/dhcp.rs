//! proxyDHCP's socket loop on loopback: answers go where PXE expects (the broadcast address
//! for a DISCOVER, the sender for a REQUEST on 4011), and junk, strangers, oversize
//! datagrams and floods get silence and a count, never a crash; one client's flood does
//! not starve another (on the test clock, which stands still unless moved). The LAN boot test
//! (runtime/e2e/lan-boot.sh) boots real firmware through it.
#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use dhcproto::v4::{self, Architecture, DhcpOption, Message, MessageType, OptionCode};
use dhcproto::{Decodable, Encodable};
use netboot_bundle::{Digest, Manifest, RouteEntry};
use netboot_http::Shutdown;
use netboot_protocol::{Firmware, Named};
use netboot_proxy::clock::Clock;
use netboot_proxy::dhcp::{self, DhcpMetrics, Identity, Rates, Silence, Sockets};
use tokio::net::UdpSocket;

const WAIT: Duration = Duration::from_secs(30);

struct Running {
    server: SocketAddr,
    pxe: SocketAddr,
    /// Stands in for 255.255.255.255:68.
    broadcast: UdpSocket,
    metrics: Arc<DhcpMetrics>,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<()>,
}

fn manifest() -> Arc<Manifest> {
    let mut m = Manifest::new();
    m.routes.insert(
        "tftp/undionly.kpxe".into(),
        RouteEntry {
            object: Digest::of(b"undionly"),
            size: 8,
            content_type: "application/octet-stream".into(),
        },
    );
    m.firmware
        .insert(Firmware::Bios.name().into(), "tftp/undionly.kpxe".into());
    Arc::new(m)
}

async fn start(rates: Rates, clock: Clock) -> Running {
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let pxe = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let broadcast = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let SocketAddr::V4(broadcast_addr) = broadcast.local_addr().unwrap() else {
        unreachable!()
    };
    let (server_addr, pxe_addr) = (server.local_addr().unwrap(), pxe.local_addr().unwrap());
    let metrics = Arc::new(DhcpMetrics::default());
    let shutdown = Shutdown::new();
    let identity = Identity {
        address: Ipv4Addr::new(10, 77, 0, 2),
        http_base: "http://10.77.0.2:8080".into(),
        dispatcher_base: "http://10.77.0.2:8080".into(),
    };
    let release = manifest();
    let task = tokio::spawn(dhcp::serve(
        Sockets {
            server,
            pxe,
            broadcast: broadcast_addr,
        },
        identity,
        move || Some(release.clone()),
        rates,
        clock,
        metrics.clone(),
        shutdown.clone(),
    ));
    Running {
        server: server_addr,
        pxe: pxe_addr,
        broadcast,
        metrics,
        shutdown,
        task,
    }
}

fn discover(kind: MessageType, class: &[u8], arch: u16) -> Vec<u8> {
    discover_from(kind, class, arch, 9)
}

/// A request from the client whose hardware address ends in `last`.
fn discover_from(kind: MessageType, class: &[u8], arch: u16, last: u8) -> Vec<u8> {
    let mut m = Message::new(
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        &[0x52, 0x54, 0, 0, 0, last],
    );
    m.opts_mut().insert(DhcpOption::MessageType(kind));
    m.opts_mut()
        .insert(DhcpOption::ClassIdentifier(class.to_vec()));
    m.opts_mut()
        .insert(DhcpOption::ClientSystemArchitecture(Architecture::from(
            arch,
        )));
    m.to_vec().unwrap()
}

async fn recv(socket: &UdpSocket) -> Message {
    let mut buf = vec![0u8; 2048];
    let (n, _) = tokio::time::timeout(WAIT, socket.recv_from(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    Message::decode(&mut v4::Decoder::new(&buf[..n])).unwrap()
}

/// Waits (generously) until the loop has dealt with `n` packets in all.
async fn handled(run: &Running, n: u64) {
    tokio::time::timeout(WAIT, async {
        loop {
            let silent: u64 = Silence::ALL.iter().map(|&s| run.metrics.silences(s)).sum();
            if run.metrics.answers() + silent >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the packets were handled");
}

#[tokio::test]
async fn answers_go_where_pxe_expects_them() {
    let run = start(
        Rates {
            total: 50,
            per_client: 4,
        },
        Clock::system(),
    )
    .await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client
        .send_to(
            &discover(MessageType::Discover, b"PXEClient", 0),
            run.server,
        )
        .await
        .unwrap();
    let offer = recv(&run.broadcast).await;
    assert_eq!(offer.opts().msg_type(), Some(MessageType::Offer));
    assert_eq!(offer.siaddr(), Ipv4Addr::new(10, 77, 0, 2));
    assert_eq!(
        offer.opts().get(OptionCode::BootfileName),
        Some(&DhcpOption::BootfileName(b"undionly.kpxe".to_vec()))
    );
    client
        .send_to(&discover(MessageType::Request, b"PXEClient", 0), run.pxe)
        .await
        .unwrap();
    let ack = recv(&client).await;
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    run.shutdown.cancel();
    run.task.await.unwrap();
}

#[tokio::test]
async fn junk_strangers_giants_and_floods_get_silence_and_a_count() {
    let run = start(
        Rates {
            total: 1,
            per_client: 1,
        },
        Clock::system(),
    )
    .await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut sent = 0;
    for packet in [
        vec![0u8; 10],
        vec![0xff; 700],
        discover(MessageType::Discover, b"MSFT 5.0", 0),
        discover(MessageType::Discover, b"PXEClient", 11),
        vec![1u8; 4000],
    ] {
        client.send_to(&packet, run.server).await.unwrap();
        sent += 1;
    }
    handled(&run, sent).await;
    assert_eq!(run.metrics.silences(Silence::Malformed), 2);
    assert_eq!(run.metrics.silences(Silence::NotPxe), 1);
    assert_eq!(run.metrics.silences(Silence::NoBootFile), 1);
    assert_eq!(run.metrics.silences(Silence::Oversize), 1);
    assert_eq!(run.metrics.answers(), 0);
    // A flood of valid requests: one answer a second, the rest counted and dropped.
    for _ in 0..100 {
        client
            .send_to(
                &discover(MessageType::Discover, b"PXEClient", 0),
                run.server,
            )
            .await
            .unwrap();
    }
    handled(&run, sent + 100).await;
    let answered = run.metrics.answers();
    let limited = run.metrics.silences(Silence::RateLimited);
    assert_eq!(answered + limited, 100);
    assert!(
        answered >= 1 && limited > 0,
        "{answered} answered, {limited} limited"
    );
    run.shutdown.cancel();
    run.task.await.unwrap();
}

#[test]
fn binding_to_a_missing_interface_fails_with_its_name() {
    let err = Sockets::bind("no-such-if0").unwrap_err();
    assert!(err.to_string().contains("no-such-if0"), "{err}");
}

#[tokio::test]
async fn one_flooding_client_does_not_starve_another() {
    let dir = tempfile::tempdir().unwrap();
    let clock_file = dir.path().join("clock");
    let set_clock = |seconds: u64| {
        let text = format!("2026-01-01T00:00:00Z\nmonotonic {seconds}s\n");
        std::fs::write(&clock_file, text).unwrap();
    };
    set_clock(100);
    let run = start(
        Rates {
            total: 10,
            per_client: 3,
        },
        Clock::File(clock_file.clone()),
    )
    .await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let send = |last: u8| {
        let packet = discover_from(MessageType::Discover, b"PXEClient", 0, last);
        let (client, server) = (&client, run.server);
        async move { client.send_to(&packet, server).await.unwrap() }
    };
    // Client 1 floods: three answers (its allowance), everything else dropped, while the
    // clock stands still. Without a per-client limit it would take all ten.
    for _ in 0..100 {
        send(1).await;
    }
    handled(&run, 100).await;
    assert_eq!(run.metrics.answers(), 3);
    assert_eq!(run.metrics.silences(Silence::RateLimited), 97);
    // Client 2, still at the same instant, is answered.
    send(2).await;
    handled(&run, 101).await;
    assert_eq!(run.metrics.answers(), 4, "the second client was starved");
    let mut last_offer = None;
    for _ in 0..4 {
        last_offer = Some(recv(&run.broadcast).await);
    }
    assert_eq!(last_offer.unwrap().chaddr(), [0x52, 0x54, 0, 0, 0, 2]);
    // A second later client 1 has its allowance back, and no more.
    set_clock(101);
    for _ in 0..10 {
        send(1).await;
    }
    handled(&run, 111).await;
    assert_eq!(run.metrics.answers(), 7);
    run.shutdown.cancel();
    run.task.await.unwrap();
}
