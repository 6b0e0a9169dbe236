//! The proxy's side of TFTP: file `X` is bundle route `tftp/X` of the release served, read
//! from the verified cache or streamed from the origin ([`ReleaseFiles`], the
//! [`netboot_tftp::Files`] the server asks), and each transfer recorded in the boot status.

use std::net::SocketAddr;
use std::sync::Arc;

use netboot_bundle::check_route;
use netboot_protocol::{Transport, routes};
use netboot_tftp::{Files, OpenError, Opened, TransferEvent};
use tokio_util::io::StreamReader;

use crate::fetch::{FetchError, Fetcher, ObjectSource};
use crate::follow::Served;
use crate::status::{Request as StatusRequest, Tracker};

/// The files of the release served, as the TFTP server sees them.
#[derive(Debug)]
pub struct ReleaseFiles {
    pub served: Arc<Served>,
    pub fetcher: Arc<Fetcher>,
    pub status: Arc<Tracker>,
}

impl Files for ReleaseFiles {
    async fn open(&self, name: &str) -> Result<Opened, OpenError> {
        let release = self
            .served
            .load_full()
            .ok_or_else(|| OpenError::Unavailable("no release yet".into()))?;
        let route = routes::tftp(name);
        check_route(&route).map_err(|_| OpenError::NotFound)?;
        let entry = release.route(&route).ok_or(OpenError::NotFound)?;
        let size = entry.size;
        match self.fetcher.object(entry.object, size).await {
            Ok(ObjectSource::Cached(file)) => Ok(Opened {
                size,
                reader: Box::pin(tokio::fs::File::from_std(file)),
            }),
            Ok(ObjectSource::Streaming(download)) => Ok(Opened {
                size,
                reader: Box::pin(StreamReader::new(download.stream(0..size))),
            }),
            Err(FetchError::Origin(reason)) => {
                tracing::warn!(file = %name, object = %entry.object, error = %reason, "TFTP: not cached and the origin cannot give it");
                Err(OpenError::Unavailable(
                    "not cached; origin unreachable".into(),
                ))
            }
            Err(FetchError::Disk(reason)) => {
                tracing::error!(file = %name, object = %entry.object, error = %reason, "TFTP: the cache disk failed");
                Err(OpenError::Disk)
            }
        }
    }

    fn observe(&self, event: TransferEvent<'_>) {
        let release = self.served.load_full();
        let begin = |client: SocketAddr, name: &str, status: u16| {
            let route = routes::tftp(name);
            let object = release
                .as_ref()
                .and_then(|r| r.route(&route))
                .map(|entry| entry.object)
                .filter(|_| status == 200);
            self.status.begin(StatusRequest {
                client: client.ip(),
                route: &route,
                transport: Transport::Tftp,
                object,
                status,
                release: release.as_ref().map(|r| r.manifest_digest),
            });
            route
        };
        match event {
            TransferEvent::Started { client, name } => {
                begin(client, name, 200);
            }
            TransferEvent::Refused {
                client,
                name,
                error,
            } => {
                // The HTTP status the same failure gets on the LAN listener.
                let status = match error {
                    OpenError::NotFound => 404,
                    OpenError::Unavailable(_) => 502,
                    OpenError::Disk => 503,
                };
                let route = begin(client, name, status);
                self.status.end(client.ip(), &route, 0, false, None);
            }
            TransferEvent::Ended {
                client,
                name,
                bytes,
                complete,
            } => {
                let route = routes::tftp(name);
                self.status.end(client.ip(), &route, bytes, complete, None);
            }
        }
    }
}
