//! proxyDHCP's socket loop on loopback: answers go where PXE expects (the broadcast address
//! for a DISCOVER, the sender for a REQUEST on 4011), and junk, strangers, oversize
//! datagrams and floods get silence and a count, never a crash. The LAN boot test
//! (runtime/e2e/lan-boot.sh) boots real firmware through it.
#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use dhcproto::v4::{self, Architecture, DhcpOption, Message, MessageType, OptionCode};
use dhcproto::{Decodable, Encodable};
use netboot_bundle::{Digest, Firmware, Manifest, RouteEntry};
use netboot_http::Shutdown;
use netboot_proxy::dhcp::{self, DhcpMetrics, Identity, Silence, Sockets};
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

async fn start(rate: u32) -> Running {
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
        rate,
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
    let mut m = Message::new(
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        &[0x52, 0x54, 0, 0, 0, 9],
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
    let run = start(50).await;
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
    let run = start(1).await;
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
