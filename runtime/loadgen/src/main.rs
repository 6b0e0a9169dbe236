//! netboot-loadgen: the benchmark's load generator (not shipped, not a test).
//!
//! `run` drives one URL from C concurrent workers for a fixed time, over HTTP/1.1 with
//! TLS and a client certificate, either on kept-alive connections (`--mode keepalive`)
//! or with a fresh connection and full handshake per request (`--mode handshake`, TLS
//! resumption off). Every response body is read to the end; any non-2xx status or I/O
//! error counts as an error. It prints one line of `key=value` results.
//! `make-bundle DIR` writes the benchmark bundle (a 300-byte script and a 20 MB object).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use netboot_bundle::{BundleDir, Manifest, RouteEntry};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load one URL and report throughput and latency.
    Run(RunArgs),
    /// Write the benchmark bundle into DIR and print the object paths.
    MakeBundle { dir: PathBuf },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Keepalive,
    Handshake,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// https://host:port/path (host used for SNI and certificate checks; connects to --connect).
    #[arg(long)]
    url: String,
    /// Address to connect to (default: the URL's host and port).
    #[arg(long)]
    connect: Option<String>,
    #[arg(long, value_enum, default_value = "keepalive")]
    mode: Mode,
    /// Concurrent workers (each with its own connection).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    #[arg(long)]
    cacert: PathBuf,
    #[arg(long)]
    cert: Option<PathBuf>,
    #[arg(long)]
    key: Option<PathBuf>,
    /// Plain HTTP (for the sink without TLS).
    #[arg(long)]
    plain: bool,
}

#[derive(Debug, Default)]
struct Tally {
    ok: u64,
    errors: u64,
    bytes: u64,
    latencies_us: Vec<u32>,
    first_error: Option<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    match Cli::parse().command {
        Command::MakeBundle { dir } => make_bundle(&dir),
        Command::Run(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(run(args))
        }
    }
}

fn make_bundle(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let bundle = BundleDir::new(dir);
    let mut script = b"#!ipxe\n".to_vec();
    while script.len() < 299 {
        script.extend_from_slice(b"echo netboot benchmark script line\n");
    }
    script.truncate(299);
    script.push(b'\n');
    let mut x: u32 = 0x9e37_79b9;
    let image: Vec<u8> = (0..20 * 1024 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let mut manifest = Manifest::new();
    for (route, bytes, ty) in [
        ("boot.ipxe", &script, "text/plain; charset=utf-8"),
        ("images/bench/kernel", &image, "application/octet-stream"),
    ] {
        let (object, _) = bundle.store_object(bytes)?;
        manifest.routes.insert(
            route.into(),
            RouteEntry {
                object,
                size: bytes.len() as u64,
                content_type: ty.into(),
            },
        );
        println!("{route} /{}", netboot_bundle::object_path(&object));
    }
    let (digest, _) = bundle.store_object(&manifest.to_canonical())?;
    bundle.write_pointer(&netboot_bundle::Pointer::new(digest))?;
    Ok(())
}

async fn run(args: RunArgs) -> Result<(), Box<dyn std::error::Error>> {
    let uri: http::Uri = args.url.parse()?;
    let host = uri.host().ok_or("URL has no host")?.to_owned();
    let port = uri.port_u16().unwrap_or(if args.plain { 80 } else { 443 });
    let connect = args.connect.clone().unwrap_or(format!("{host}:{port}"));
    let connector = if args.plain {
        None
    } else {
        let client = match (&args.cert, &args.key) {
            (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
            _ => None,
        };
        let mut config = (*netboot_tls::client_config(
            std::slice::from_ref(&args.cacert),
            client,
            &[b"http/1.1"],
        )?)
        .clone();
        // Every handshake in `handshake` mode must be a full one.
        config.resumption = tokio_rustls::rustls::client::Resumption::disabled();
        Some(TlsConnector::from(Arc::new(config)))
    };
    let deadline = Instant::now() + Duration::from_secs_f64(args.duration);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let target = Target {
            connector: connector.clone(),
            connect: connect.clone(),
            host: host.clone(),
            uri: uri.clone(),
        };
        let mode = args.mode;
        workers.push(tokio::spawn(
            async move { target.work(mode, deadline).await },
        ));
    }
    let mut total = Tally::default();
    for worker in workers {
        let tally = worker.await?;
        total.ok += tally.ok;
        total.errors += tally.errors;
        total.bytes += tally.bytes;
        total.latencies_us.extend(tally.latencies_us);
        if total.first_error.is_none() {
            total.first_error = tally.first_error;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    total.latencies_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        if total.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((total.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(total.latencies_us[i]) / 1000.0
    };
    println!(
        "requests={} errors={} rps={:.0} mbps={:.1} p50_ms={:.2} p99_ms={:.2} secs={:.1}{}",
        total.ok,
        total.errors,
        total.ok as f64 / elapsed,
        total.bytes as f64 * 8.0 / elapsed / 1e6,
        pct(0.50),
        pct(0.99),
        elapsed,
        total
            .first_error
            .map(|e| format!(" first_error={e:?}"))
            .unwrap_or_default()
    );
    Ok(())
}

#[derive(Clone)]
struct Target {
    connector: Option<TlsConnector>,
    connect: String,
    host: String,
    uri: http::Uri,
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<bytes::Bytes>>;

impl Target {
    async fn open(&self) -> Result<Sender, String> {
        let tcp = TcpStream::connect(&self.connect)
            .await
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        match &self.connector {
            Some(connector) => {
                let name = tokio_rustls::rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| e.to_string())?;
                let tls = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| e.to_string())?;
                handshake(TokioIo::new(tls)).await
            }
            None => handshake(TokioIo::new(tcp)).await,
        }
    }

    async fn request(&self, sender: &mut Sender) -> Result<u64, String> {
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let req = http::Request::get(path)
            .header(http::header::HOST, self.host.as_str())
            .body(Empty::new())
            .map_err(|e| e.to_string())?;
        sender.ready().await.map_err(|e| e.to_string())?;
        let response = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let mut body = response.into_body();
        let mut bytes = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| e.to_string())?;
            if let Some(data) = frame.data_ref() {
                bytes += data.len() as u64;
            }
        }
        if status.is_success() || status == http::StatusCode::SERVICE_UNAVAILABLE {
            // 503 is the sink's success.
            Ok(bytes)
        } else {
            Err(format!("status {status}"))
        }
    }

    async fn work(self, mode: Mode, deadline: Instant) -> Tally {
        let mut tally = Tally::default();
        let mut sender: Option<Sender> = None;
        while Instant::now() < deadline {
            let start = Instant::now();
            let result = async {
                let mut s = match sender.take() {
                    Some(s) => s,
                    None => self.open().await?,
                };
                let bytes = self.request(&mut s).await?;
                if mode == Mode::Keepalive {
                    sender = Some(s);
                }
                Ok::<u64, String>(bytes)
            }
            .await;
            match result {
                Ok(bytes) => {
                    tally.ok += 1;
                    tally.bytes += bytes;
                    tally
                        .latencies_us
                        .push(u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX));
                }
                Err(e) => {
                    tally.errors += 1;
                    sender = None;
                    tally.first_error.get_or_insert(e);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        tally
    }
}

async fn handshake<I>(io: I) -> Result<Sender, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}
