//! The LAN HTTP listener: `GET /<route>` serves the same route as the origin, from the
//! verified cache or streamed from the origin, under the bundle's HTTP rules
//! ([`netboot_http::representation`]); `/healthz` and `/metrics` for the operator.
//! Plain HTTP on purpose: stock iPXE has no HTTPS, and the client key stays on the proxy.

use std::sync::Arc;

use futures::TryStreamExt as _;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::Frame;
use netboot_bundle::{CACHE_IMMUTABLE, CACHE_NO_CACHE, CURRENT, Digest, OBJECTS_DIR, check_route};
use netboot_http::representation::{self, Head, Representation, plain};
use netboot_http::{Body, empty, full};

use crate::Proxy;
use crate::fetch::{FetchError, ObjectSource};
use crate::follow::Release;

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
    let size = release.object_size(&digest)?;
    Some(Resolved {
        digest,
        size,
        content_type: netboot_bundle::CONTENT_TYPE_OBJECT.into(),
        cache_control: CACHE_IMMUTABLE,
        pointer: false,
    })
}

/// Answers one LAN request.
pub async fn respond<B>(req: &Request<B>, proxy: &Arc<Proxy>) -> Response<Body> {
    let path = req.uri().path();
    match path {
        "/healthz" => return health(proxy),
        "/metrics" => return metrics(proxy),
        _ => {}
    }
    if let Some(response) = representation::method_not_allowed(req) {
        return response;
    }
    let Some(release) = proxy.release.load_full() else {
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
    let body = match proxy.fetcher.object(resolved.digest, resolved.size).await {
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
fn health(proxy: &Proxy) -> Response<Body> {
    let origin = if proxy.metrics.origin_up() {
        "up"
    } else {
        "down"
    };
    match proxy.release.load_full() {
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

fn metrics(proxy: &Proxy) -> Response<Body> {
    let release = proxy
        .release
        .load_full()
        .map(|r| r.manifest_digest.to_string());
    let exposition =
        proxy
            .metrics
            .render(release.as_deref(), proxy.fetcher.cache().stats(), |out| {
                proxy.tftp_metrics.render(out);
                proxy.dhcp_metrics.render(out)
            });
    let mut response = text(StatusCode::OK, exposition);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(netboot_http::metrics::CONTENT_TYPE),
    );
    response
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
