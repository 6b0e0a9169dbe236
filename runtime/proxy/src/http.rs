//! The LAN HTTP listener ([`Lan`]): `GET /<route>` serves the same route as the origin,
//! from the verified cache or streamed from the origin, under the bundle's HTTP rules
//! ([`netboot_http::representation`]), and `/healthz`. The admin listener ([`Admin`])
//! serves what is for the operator only: `/healthz`, `/metrics` and `/status` (each
//! client's last boots, [`crate::status`]), none of which the LAN needs to boot.
//! Plain HTTP for stock iPXE, which has no HTTPS (the client key stays on the proxy); the
//! same handler serves `--https-listen` for builds that trust the site's LAN CA.
//! A machine's provisioning files go only to the client its script went to
//! ([`crate::file_access`]); everyone else gets 403.

use std::net::IpAddr;
use std::str::FromStr as _;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt as _;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::Frame;
use netboot_bundle::{CACHE_IMMUTABLE, CACHE_NO_CACHE, CURRENT, Digest, OBJECTS_DIR, check_route};
use netboot_http::observed::{BodyObserver, observed};
use netboot_http::representation::{self, Head, Representation, plain};
use netboot_http::{Body, empty, full};
use netboot_protocol::status::StageKind;
use netboot_protocol::{Transport, routes};
use netboot_tftp::TftpMetrics;

use crate::cache::Cache;
use crate::dhcp::DhcpMetrics;
use crate::fetch::{FetchError, Fetcher, ObjectSource};
use crate::file_access::{Access, FileAccess};
use crate::follow::{Release, Served};
use crate::metrics::ProxyMetrics;
use crate::status::script::{self, MAX_SCRIPT_BYTES, ScriptImages};
use crate::status::stage::kind_of_route;
use crate::status::{Request as StatusRequest, Tracker};

/// What the LAN listener reads: the release served, its objects, the origin's state (for
/// `/healthz`) and the boot status it records into.
#[derive(Debug)]
pub struct Lan {
    pub served: Arc<Served>,
    pub fetcher: Arc<Fetcher>,
    pub metrics: Arc<ProxyMetrics>,
    pub status: Arc<Tracker>,
    /// Who may fetch which machine's provisioning files.
    pub files: FileAccess,
}

/// What the admin listener reads: the release served, every metric and the boot status.
#[derive(Debug)]
pub struct Admin {
    pub served: Arc<Served>,
    pub cache: Arc<Cache>,
    pub metrics: Arc<ProxyMetrics>,
    pub tftp_metrics: Arc<TftpMetrics>,
    pub dhcp_metrics: Arc<DhcpMetrics>,
    pub status: Arc<Tracker>,
}

/// What a path names in the release.
struct Resolved {
    digest: Digest,
    size: u64,
    content_type: String,
    cache_control: &'static str,
    /// `current` is served from memory.
    pointer: bool,
}

fn resolve(route: &str, release: &Release) -> Option<Resolved> {
    check_route(route).ok()?;
    if route == CURRENT {
        return Some(Resolved {
            digest: release.pointer_digest,
            size: release.pointer.len() as u64,
            content_type: netboot_bundle::CONTENT_TYPE_JSON.into(),
            cache_control: CACHE_NO_CACHE,
            pointer: true,
        });
    }
    if let Some(entry) = release.route(route) {
        return Some(Resolved {
            digest: entry.object,
            size: entry.size,
            content_type: entry.content_type.clone(),
            cache_control: CACHE_NO_CACHE,
            pointer: false,
        });
    }
    // Only the canonical lowercase name, and only objects the release names: the proxy
    // is not an open door to everything the origin has.
    let hex = route.strip_prefix(OBJECTS_DIR)?.strip_prefix('/')?;
    if !hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let digest = Digest::from_hex(hex).ok()?;
    let size = release.served_object_size(&digest)?;
    Some(Resolved {
        digest,
        size,
        content_type: netboot_bundle::CONTENT_TYPE_OBJECT.into(),
        cache_control: CACHE_IMMUTABLE,
        pointer: false,
    })
}

/// Answers one request on the admin listener.
pub fn admin<B>(req: &Request<B>, admin: &Admin) -> Response<Body> {
    if let Some(response) = representation::method_not_allowed(req) {
        return response;
    }
    match req.uri().path() {
        "/healthz" => health(&admin.served, &admin.metrics),
        "/metrics" => metrics(admin),
        "/status" => status(admin, req.uri().query()),
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Answers one LAN request from `client`.
pub async fn respond<B>(req: &Request<B>, lan: &Lan, client: IpAddr) -> Response<Body> {
    let path = req.uri().path();
    if path == "/healthz" {
        return health(&lan.served, &lan.metrics);
    }
    if let Some(response) = representation::method_not_allowed(req) {
        return response;
    }
    let Some(release) = lan.served.load_full() else {
        let mut response = plain(StatusCode::SERVICE_UNAVAILABLE, "no release yet\n");
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return response;
    };
    let Some(resolved) = path
        .strip_prefix('/')
        .and_then(|route| resolve(route, &release))
    else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    if let Some(route) = path
        .strip_prefix('/')
        .filter(|r| r.starts_with(routes::FILES))
    {
        match lan.files.check(client, route) {
            Access::Allowed => {}
            Access::NotThisClients => {
                return plain(
                    StatusCode::FORBIDDEN,
                    "these provisioning files are for the machine whose script this address fetched in its current boot\n",
                );
            }
            Access::WindowOver => {
                return plain(
                    StatusCode::FORBIDDEN,
                    "the window for these provisioning files is over: boot the machine again\n",
                );
            }
        }
    }
    let plan = match representation::head(
        req,
        &Representation {
            sha256: resolved.digest.as_bytes(),
            size: resolved.size,
            content_type: &resolved.content_type,
            cache_control: resolved.cache_control,
        },
    ) {
        Head::Send(plan) => plan,
        Head::Complete(response) => return response,
    };
    if resolved.pointer {
        let body = if plan.body {
            full(
                release
                    .pointer
                    .slice(plan.range.start as usize..plan.range.end as usize),
            )
        } else {
            empty()
        };
        return representation::with_headers(plan.status, plan.headers, body);
    }
    // HEAD fetches too: a 200 for an object the proxy could not then deliver would lie.
    let body = match lan.fetcher.object(resolved.digest, resolved.size).await {
        Ok(_) if !plan.body => empty(),
        Ok(ObjectSource::Cached(file)) => {
            match representation::file_body(file, plan.range.clone()).await {
                Ok(body) => body,
                Err(e) => {
                    tracing::error!(object = %resolved.digest, error = %e, "reading a cached object");
                    return plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the proxy's cache disk failed\n",
                    );
                }
            }
        }
        Ok(ObjectSource::Streaming(download)) => {
            StreamBody::new(download.stream(plan.range.clone()).map_ok(Frame::data)).boxed_unsync()
        }
        Err(FetchError::Origin(e)) => {
            tracing::warn!(object = %resolved.digest, error = %e, "not cached and the origin cannot give it");
            return plain(
                StatusCode::BAD_GATEWAY,
                "not cached, and the origin is unreachable\n",
            );
        }
        Err(FetchError::Disk(e)) => {
            tracing::error!(object = %resolved.digest, error = %e, "the cache disk failed");
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the proxy's cache disk failed\n",
            );
        }
    };
    representation::with_headers(plan.status, plan.headers, body)
}

/// 200 while a release is served (from the origin or, while it is down, the cache
/// alone); 503 before the first one.
fn health(served: &Served, metrics: &ProxyMetrics) -> Response<Body> {
    let origin = if metrics.origin_up() { "up" } else { "down" };
    match served.load_full() {
        Some(release) => text(
            StatusCode::OK,
            format!("ok {} origin={origin}\n", release.manifest_digest),
        ),
        None => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no release yet origin={origin}\n"),
        ),
    }
}

fn metrics(admin: &Admin) -> Response<Body> {
    let release = admin
        .served
        .load_full()
        .map(|r| r.manifest_digest.to_string());
    let exposition = admin
        .metrics
        .render(release.as_deref(), admin.cache.stats(), |out| {
            admin.tftp_metrics.render(out);
            admin.dhcp_metrics.render(out);
            admin.status.render_metrics(out)
        });
    let mut response = text(StatusCode::OK, exposition);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(netboot_http::metrics::CONTENT_TYPE),
    );
    response
}

/// A page of each client's last boots, as JSON (runtime/README.md has the shape): the
/// first with no query, the next with `?after=<next_after of the last page>`.
fn status(admin: &Admin, query: Option<&str>) -> Response<Body> {
    let after = match query.map(|q| q.strip_prefix("after=").map(IpAddr::from_str)) {
        None => None,
        Some(Some(Ok(ip))) => Some(ip),
        Some(_) => {
            return plain(
                StatusCode::BAD_REQUEST,
                "the only query is after=<IP address>, from the last page's next_after\n",
            );
        }
    };
    let release = admin.served.load_full().map(|r| r.manifest_digest);
    let mut response = text(StatusCode::OK, admin.status.page(release, after));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(netboot_bundle::CONTENT_TYPE_JSON),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Records a GET of a route that is part of a boot in the boot status, and wraps its body
/// so the status learns how many bytes went out and whether the whole object did.
pub fn track<B>(
    req: &Request<B>,
    response: Response<Body>,
    lan: &Arc<Lan>,
    client: IpAddr,
) -> Response<Body> {
    let Some(route) = req.uri().path().strip_prefix('/') else {
        return response;
    };
    if req.method() != http::Method::GET || check_route(route).is_err() {
        return response;
    }
    let object = response
        .headers()
        .get(header::ETAG)
        .and_then(|tag| tag.to_str().ok())
        .and_then(|tag| Digest::from_hex(tag.trim_matches('"')).ok());
    let release = lan.served.load_full();
    let status = response.status();
    let tracked = lan.status.begin(StatusRequest {
        client,
        route,
        transport: Transport::Http,
        object,
        status: status.as_u16(),
        release: release.as_ref().map(|r| r.manifest_digest),
    });
    if !tracked {
        return response;
    }
    if matches!(
        kind_of_route(route),
        Some(StageKind::Dispatcher | StageKind::Script)
    ) {
        lan.files.boot_began(client);
    }
    // A served machine script is read for its images; nothing else is kept.
    let script = (kind_of_route(route) == Some(StageKind::Script) && status == StatusCode::OK)
        .then(Vec::new);
    let length = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let (parts, body) = response.into_parts();
    let observer = StageBody {
        lan: lan.clone(),
        client,
        route: route.to_owned(),
        sent: 0,
        length,
        script,
        granted: false,
    };
    Response::from_parts(parts, observed(body, observer))
}

/// Counts what a tracked response sends and tells the boot status when it ends.
struct StageBody {
    lan: Arc<Lan>,
    client: IpAddr,
    route: String,
    sent: u64,
    /// The response's Content-Length. hyper stops polling a streamed body once it has
    /// sent that many bytes and drops it unfinished; that is a complete transfer too.
    length: Option<u64>,
    /// A machine script's bytes, up to [`MAX_SCRIPT_BYTES`] (then given up on): read for
    /// its images and file sets.
    script: Option<Vec<u8>>,
    /// The script's file sets were granted to the client ([`crate::file_access`]).
    granted: bool,
}

impl BodyObserver for StageBody {
    fn data(&mut self, chunk: &Bytes) {
        self.sent += chunk.len() as u64;
        if let Some(script) = &mut self.script {
            if script.len() + chunk.len() > MAX_SCRIPT_BYTES {
                self.script = None;
            } else {
                script.extend_from_slice(chunk);
                // Granted before the last bytes leave: the machine may ask for its files
                // as soon as it has its script.
                if self.length == Some(self.sent) {
                    self.lan.files.script_served(self.client, script);
                    self.granted = true;
                }
            }
        }
    }

    fn end(&mut self, ended: bool) {
        let complete = ended || self.length == Some(self.sent);
        let script = self.script.take().filter(|_| complete);
        if let Some(bytes) = script.as_ref().filter(|_| !self.granted) {
            self.lan.files.script_served(self.client, bytes);
        }
        let images = script.map(|bytes| script_images(&bytes, &self.lan.served));
        self.lan
            .status
            .end(self.client, &self.route, self.sent, complete, images);
    }
}

/// The objects of the served release a machine script's `kernel` and `initrd` name.
fn script_images(script: &[u8], served: &Served) -> ScriptImages {
    let Some(release) = served.load_full() else {
        return ScriptImages::default();
    };
    script::images(script, |route| match resolve(route, &release) {
        Some(resolved) if !resolved.pointer => Some(resolved.digest),
        _ => None,
    })
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
