//! One transfer: its own UDP socket (a new TID), option acknowledgement, windowed DATA
//! with retransmission on timeout.
//!
//! The socket is bound to the listener's IP and a fresh port, and `connect()`ed to the
//! client, so the kernel hands it only the client's packets and `send` skips a route
//! lookup per packet. A twin socket on the same port (`SO_REUSEPORT`, not connected)
//! receives everything else: Linux prefers the connected socket for the client's address
//! and delivers other sources to the twin, which answers ERROR 5 (unknown transfer ID,
//! RFC 1350 §4) without disturbing the transfer.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::net::UdpSocket;

use crate::admission::Slot;
use crate::files::{Files, OpenError, Opened, TransferEvent};
use crate::limits::TftpLimits;
use crate::metrics::{Reason, TftpMetrics};
use crate::packet::{self, DEFAULT_BLKSIZE, OP_DATA, Packet, RequestedOptions, code};
use crate::window::{Acked, Window};

/// Bytes read ahead of the window (at least the window itself is buffered). 32 KiB is
/// 22 blocks of 1468 bytes ahead of a lockstep client; each transfer's buffer (and the
/// file reader's own copy) is what the proxy's memory grows with per transfer: at
/// 128 KiB, 50 transfers took the Pi past 20 MiB.
const READ_AHEAD: usize = 32 * 1024;
/// A window never needs more than this much memory: windowsize is lowered to fit.
const MAX_WINDOW_BYTES: usize = 1024 * 1024;
/// ERROR 5 answers a transfer's twin socket sends at most (bounds reflection).
const STRAY_REPLIES: u32 = 16;

/// What the dispatcher hands a session.
#[derive(Debug)]
pub(crate) struct Params {
    pub peer: SocketAddr,
    pub local_ip: IpAddr,
    pub name: String,
    pub options: RequestedOptions,
    pub limits: TftpLimits,
    pub metrics: Arc<TftpMetrics>,
    pub received: Instant,
}

/// Binds the transfer's socket and its twin (see the module comment).
fn sockets(local_ip: IpAddr, peer: SocketAddr) -> io::Result<(UdpSocket, UdpSocket)> {
    use socket2::{Domain, Protocol, Socket, Type};
    let new = || -> io::Result<Socket> {
        let socket = Socket::new(Domain::for_address(peer), Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        Ok(socket)
    };
    let twin = new()?;
    twin.bind(&SocketAddr::new(local_ip, 0).into())?;
    let local = twin
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("socket has no IP address"))?;
    let main = new()?;
    main.bind(&local.into())?;
    main.connect(&peer.into())?;
    Ok((
        UdpSocket::from_std(main.into())?,
        UdpSocket::from_std(twin.into())?,
    ))
}

/// How a transfer ended.
#[derive(Debug)]
struct Failure {
    reason: Reason,
    detail: String,
}

fn failure(reason: Reason, detail: impl Into<String>) -> Failure {
    Failure {
        reason,
        detail: detail.into(),
    }
}

/// Runs one request to its end; `slot` is released when this returns (or is aborted).
pub(crate) async fn run<F: Files>(files: Arc<F>, params: Params, mut slot: Slot) {
    let Params {
        peer,
        local_ip,
        name,
        options,
        limits,
        metrics,
        received,
    } = params;
    let (socket, twin) = match sockets(local_ip, peer) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::warn!(target: "tftp", client = %peer, file = %name, "cannot open a transfer socket: {e}");
            metrics.refuse(Reason::Network);
            return;
        }
    };
    // The twin answers strays in its own task (off the transfer's per-packet loop), for
    // as long as this transfer lives.
    let _strays = AbortOnDrop(tokio::spawn(answer_strays(twin, metrics.clone())));
    // Opening may wait on the origin; the client retransmits its RRQ meanwhile (the
    // dispatcher drops those as duplicates of this transfer).
    let opened = match tokio::time::timeout(limits.stall_timeout, files.open(&name)).await {
        Ok(Ok(opened)) => opened,
        Ok(Err(error)) => {
            files.observe(TransferEvent::Refused {
                client: peer,
                name: &name,
                error: &error,
            });
            let (code, message, reason) = match &error {
                OpenError::NotFound => (code::FILE_NOT_FOUND, "file not found", Reason::NotFound),
                OpenError::Unavailable(message) => {
                    (code::NOT_DEFINED, message.as_str(), Reason::Unavailable)
                }
                OpenError::Disk => (code::DISK_FULL, "local disk failed", Reason::Disk),
            };
            let _ = socket.send(&packet::error_packet(code, message)).await;
            metrics.refuse(reason);
            let logged = metrics
                .refusal_log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            if let Some(not_logged) = logged {
                tracing::info!(target: "tftp", client = %peer, file = %name, outcome = reason.as_str(), not_logged, "{message}");
            }
            return;
        }
        Err(_) => {
            let message = "timed out opening the file";
            files.observe(TransferEvent::Refused {
                client: peer,
                name: &name,
                error: &OpenError::Unavailable(message.into()),
            });
            let _ = socket
                .send(&packet::error_packet(code::NOT_DEFINED, message))
                .await;
            metrics.refuse(Reason::Unavailable);
            tracing::info!(target: "tftp", client = %peer, file = %name, outcome = "unavailable", "{message}");
            return;
        }
    };
    metrics.started.fetch_add(1, Ordering::Relaxed);
    slot.started = true;
    files.observe(TransferEvent::Started {
        client: peer,
        name: &name,
    });

    let mut transfer = Transfer::new(socket, opened, &options, &limits, metrics.clone());
    let result = transfer.run().await;
    slot.finished = true;
    let seconds = received.elapsed().as_secs_f64();
    metrics.observe_duration(seconds);
    let bytes = transfer.blocks.acked_bytes();
    let (blksize, windowsize) = (transfer.blksize, transfer.window);
    let duration_ms = format_args!("{:.1}", seconds * 1e3);
    files.observe(TransferEvent::Ended {
        client: peer,
        name: &name,
        bytes,
        complete: result.is_ok(),
    });
    match result {
        Ok(()) => {
            metrics.completed.fetch_add(1, Ordering::Relaxed);
            tracing::info!(target: "tftp", client = %peer, file = %name, bytes, blksize, windowsize,
                duration_ms = %duration_ms, outcome = "complete", "transfer complete");
        }
        Err(Failure { reason, detail }) => {
            metrics.fail(reason);
            tracing::info!(target: "tftp", client = %peer, file = %name, bytes, blksize, windowsize,
                duration_ms = %duration_ms, outcome = reason.as_str(), "transfer failed: {detail}");
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// OACK sent, waiting for ACK 0.
    Oack,
    Data,
}

/// The state of one transfer. Block numbers here are absolute (from 1, never wrapping);
/// the wire carries them modulo 65536.
struct Transfer {
    socket: UdpSocket,
    reader: std::pin::Pin<Box<dyn AsyncRead + Send>>,
    metrics: Arc<TftpMetrics>,
    size: u64,
    blksize: usize,
    window: usize,
    timeout: Duration,
    retries: u32,
    initial_retries: u32,
    stall_timeout: Duration,
    /// The OACK to (re)send, if options were accepted.
    oack: Option<Vec<u8>>,
    /// Which block goes out next, and what each ACK means.
    blocks: Window,
    /// `buf[head..tail]` holds the file from the first byte not yet acknowledged.
    buf: Vec<u8>,
    head: usize,
    tail: usize,
    /// File bytes read so far (the file offset of `buf[tail]`).
    read_off: u64,
    /// One DATA packet, reused.
    packet: Vec<u8>,
}

impl std::fmt::Debug for Transfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transfer")
            .field("size", &self.size)
            .field("blocks", &self.blocks)
            .finish_non_exhaustive()
    }
}

impl Transfer {
    fn new(
        socket: UdpSocket,
        opened: Opened,
        options: &RequestedOptions,
        limits: &TftpLimits,
        metrics: Arc<TftpMetrics>,
    ) -> Self {
        let mut oack: Vec<(&[u8], String)> = Vec::new();
        let blksize = match options.blksize {
            Some(asked) => {
                let b = asked.min(limits.max_blksize);
                oack.push((b"blksize", b.to_string()));
                b
            }
            None => DEFAULT_BLKSIZE,
        };
        let blksize = usize::from(blksize);
        let timeout = match options.timeout {
            Some(t) => {
                oack.push((b"timeout", t.to_string()));
                Duration::from_secs(u64::from(t))
            }
            None => limits.timeout,
        };
        if options.tsize {
            oack.push((b"tsize", opened.size.to_string()));
        }
        let window = match options.windowsize {
            Some(asked) => {
                let w = asked
                    .min(limits.max_windowsize)
                    .min(u16::try_from(MAX_WINDOW_BYTES / blksize).unwrap_or(u16::MAX))
                    .max(1);
                oack.push((b"windowsize", w.to_string()));
                w
            }
            None => 1,
        };
        let window = usize::from(window);
        let oack = (!oack.is_empty()).then(|| {
            let pairs: Vec<(&[u8], &[u8])> = oack.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
            Packet::Oack(pairs).to_vec()
        });
        let size = opened.size;
        let capacity = usize::try_from(size)
            .unwrap_or(usize::MAX)
            .min((window * blksize).max(READ_AHEAD));
        Self {
            socket,
            reader: opened.reader,
            metrics,
            size,
            blksize,
            window,
            timeout,
            retries: limits.retries,
            initial_retries: limits.initial_retries,
            stall_timeout: limits.stall_timeout,
            oack,
            blocks: Window::new(size, blksize, window),
            buf: vec![0; capacity],
            head: 0,
            tail: 0,
            read_off: 0,
            packet: Vec::with_capacity(4 + blksize),
        }
    }

    async fn send_block(&mut self, block: u64) -> Result<(), Failure> {
        let (start, len) = self.blocks.span(block);
        let from = self.head + (start - self.blocks.acked_offset()) as usize;
        self.packet.clear();
        self.packet.extend_from_slice(&OP_DATA.to_be_bytes());
        self.packet
            .extend_from_slice(&Window::wire(block).to_be_bytes());
        self.packet.extend_from_slice(&self.buf[from..from + len]);
        send(&self.socket, &self.packet).await?;
        if self.blocks.sent(block) {
            self.metrics.retransmissions.fetch_add(1, Ordering::Relaxed);
        }
        self.metrics
            .bytes_sent
            .fetch_add(len as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Moves the buffered bytes to the front when the window would not fit behind `head`
    /// or half the buffer is spent (so copying is amortised over at least half a buffer).
    fn compact(&mut self) {
        let capacity = self.buf.len();
        let window_bytes = self.window * self.blksize;
        if self.head > 0
            && self.read_off < self.size
            && (self.head >= capacity / 2 || self.head + window_bytes > capacity)
        {
            self.buf.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
        }
    }

    /// Handles an ACK in the data phase, releasing the acknowledged bytes of the buffer.
    fn on_ack(&mut self, wire: u16) -> Acked {
        let before = self.blocks.acked_offset().min(self.read_off);
        let acked = self.blocks.ack(wire);
        self.head += (self.blocks.acked_offset().min(self.read_off) - before) as usize;
        acked
    }

    async fn run(&mut self) -> Result<(), Failure> {
        let mut phase = if let Some(oack) = &self.oack {
            send(&self.socket, oack).await?;
            Phase::Oack
        } else {
            Phase::Data
        };
        let mut proven = false;
        let mut timeouts = 0u32;
        // The retransmission deadline is a plain Instant, moved forward on every window;
        // the timer itself is only reset when it fires before the deadline, which keeps
        // timer-wheel work off the per-packet path.
        let mut deadline = Instant::now() + self.timeout;
        let retransmit = tokio::time::sleep_until(deadline.into());
        tokio::pin!(retransmit);
        // Armed whenever we wait on the client: OACK sent, or the whole window sent.
        let mut armed = phase == Phase::Oack;
        let stall = tokio::time::sleep(self.stall_timeout);
        tokio::pin!(stall);
        let mut was_blocked = false;
        let mut ack_buf = vec![0u8; 1024];

        loop {
            if phase == Phase::Data {
                while let Some(block) = self.blocks.next(self.read_off) {
                    self.send_block(block).await?;
                }
                if self.blocks.window_sent() && !armed {
                    deadline = Instant::now() + self.timeout;
                    armed = true;
                }
            }
            self.compact();
            let want_read = self.read_off < self.size && self.tail < self.buf.len();
            let blocked = phase == Phase::Data && !armed && want_read;
            if blocked && !was_blocked {
                stall
                    .as_mut()
                    .reset((Instant::now() + self.stall_timeout).into());
            }
            was_blocked = blocked;
            let read_end = self.tail
                + usize::try_from(self.size - self.read_off)
                    .unwrap_or(usize::MAX)
                    .min(self.buf.len() - self.tail);

            tokio::select! {
                biased;
                received = self.socket.recv(&mut ack_buf) => {
                    let n = received.map_err(|e| network(&e))?;
                    match packet::parse(&ack_buf[..n]) {
                        Ok(Packet::Ack(wire)) => match phase {
                            Phase::Oack => {
                                if wire == 0 {
                                    phase = Phase::Data;
                                    proven = true;
                                    timeouts = 0;
                                    armed = false;
                                }
                            }
                            Phase::Data => match self.on_ack(wire) {
                                Acked::Complete => return Ok(()),
                                Acked::Advanced { .. } => {
                                    proven = true;
                                    timeouts = 0;
                                    armed = false;
                                }
                                Acked::Ignored => {}
                            },
                        },
                        Ok(Packet::Error { code, message }) => {
                            let message: String = String::from_utf8_lossy(message)
                                .chars()
                                .filter(|c| !c.is_control())
                                .take(100)
                                .collect();
                            return Err(failure(
                                Reason::ClientError,
                                format!("client sent ERROR {code}: {message}"),
                            ));
                        }
                        // Anything else from the client is ignored (RFC 1350 has no
                        // answer for it, and answering could only confuse the transfer).
                        _ => {}
                    }
                }
                read = self.reader.read(&mut self.buf[self.tail..read_end]), if want_read => {
                    let n = read.map_err(|e| {
                        let message = if e.kind() == io::ErrorKind::InvalidData {
                            "object failed verification".to_string()
                        } else {
                            format!("read failed: {}", e.kind())
                        };
                        tracing::warn!(target: "tftp", "reading the file: {e}");
                        failure(Reason::ReadError, message)
                    });
                    let n = match n {
                        Ok(0) => Err(failure(Reason::ReadError, "file shorter than announced")),
                        other => other,
                    };
                    match n {
                        Ok(n) => {
                            self.tail += n;
                            self.read_off += n as u64;
                            was_blocked = false;
                        }
                        Err(f) => {
                            let _ = send(&self.socket, &packet::error_packet(code::NOT_DEFINED, &f.detail)).await;
                            return Err(f);
                        }
                    }
                }
                () = &mut retransmit, if armed => {
                    if Instant::now() < deadline {
                        retransmit.as_mut().reset(deadline.into());
                        continue;
                    }
                    timeouts += 1;
                    let limit = if proven { self.retries } else { self.initial_retries };
                    if timeouts > limit {
                        return Err(failure(
                            Reason::Timeout,
                            format!("no acknowledgement after {timeouts} timeouts"),
                        ));
                    }
                    match phase {
                        Phase::Oack => {
                            if let Some(oack) = &self.oack {
                                send(&self.socket, oack).await?;
                                self.metrics.retransmissions.fetch_add(1, Ordering::Relaxed);
                            }
                            deadline = Instant::now() + self.timeout;
                            retransmit.as_mut().reset(deadline.into());
                        }
                        Phase::Data => {
                            self.blocks.timed_out();
                            armed = false;
                        }
                    }
                }
                () = &mut stall, if blocked => {
                    let message = "file source stalled";
                    let _ = send(&self.socket, &packet::error_packet(code::NOT_DEFINED, message)).await;
                    return Err(failure(Reason::ReadError, message));
                }
            }
        }
    }
}

fn network(e: &io::Error) -> Failure {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        failure(Reason::Network, "client port unreachable")
    } else {
        failure(Reason::Network, format!("socket error: {e}"))
    }
}

async fn send(socket: &UdpSocket, bytes: &[u8]) -> Result<(), Failure> {
    socket
        .send(bytes)
        .await
        .map(|_| ())
        .map_err(|e| network(&e))
}

/// Aborts a task when dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Answers packets reaching the twin (any source but the client) with ERROR 5, at most
/// [`STRAY_REPLIES`] times; counts them all.
async fn answer_strays(twin: UdpSocket, metrics: Arc<TftpMetrics>) {
    let mut buf = [0u8; 64];
    let mut replies = 0u32;
    let reply = packet::error_packet(code::UNKNOWN_TID, "unknown transfer ID");
    loop {
        let Ok((_, from)) = twin.recv_from(&mut buf).await else {
            return;
        };
        metrics.stray.fetch_add(1, Ordering::Relaxed);
        if replies < STRAY_REPLIES {
            replies += 1;
            let _ = twin.try_send_to(&reply, from);
        }
    }
}
