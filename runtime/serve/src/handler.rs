//! The HTTP rules of the bundle, as a function from a request and the current releases to
//! a response. No socket is involved, so every rule is unit-tested directly.
//!
//! Paths are matched byte for byte against the manifest after one check
//! ([`netboot_bundle::check_route`]): no percent-decoding, no normalisation. Routes are
//! printable ASCII without `%`, `\`, `.` or `..` segments, so an encoded or dotted path
//! can never name a route, and nothing is ever looked up on the file system by request
//! path: files are only reached through digests the verified manifest names.

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use netboot_bundle::{CACHE_IMMUTABLE, CACHE_NO_CACHE, CURRENT, Digest, OBJECTS_DIR, check_route};
pub use netboot_http::representation::plain;
use netboot_http::representation::{self, Head, Representation};
use netboot_http::{Body, empty, full};

use crate::metrics::ServeMetrics;
use crate::verified::{Content, Object, Releases};

/// What a request needs besides itself.
#[derive(Debug, Clone)]
pub struct State {
    pub releases: Arc<Releases>,
    pub metrics: Arc<ServeMetrics>,
}

/// What a path resolved to.
struct Resolved {
    object: Object,
    content_type: String,
    cache_control: &'static str,
}

fn resolve(path: &str, releases: &Releases) -> Result<Resolved, StatusCode> {
    let route = path.strip_prefix('/').ok_or(StatusCode::NOT_FOUND)?;
    check_route(route).map_err(|_| StatusCode::NOT_FOUND)?;
    let release = releases.current().ok_or(StatusCode::SERVICE_UNAVAILABLE)?;
    if route == CURRENT {
        return Ok(Resolved {
            object: release.pointer.clone(),
            content_type: netboot_bundle::CONTENT_TYPE_JSON.into(),
            cache_control: CACHE_NO_CACHE,
        });
    }
    if let Some(entry) = release.manifest.routes.get(route) {
        let object = release
            .object(&entry.object)
            .cloned()
            .ok_or(StatusCode::INTERNAL_SERVER_ERROR)?;
        return Ok(Resolved {
            object,
            content_type: entry.content_type.clone(),
            cache_control: CACHE_NO_CACHE,
        });
    }
    if let Some(hex) = route
        .strip_prefix(OBJECTS_DIR)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        // Only the canonical lowercase name: one object, one URL, one cache entry.
        if hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && let Ok(digest) = Digest::from_hex(hex)
            && let Some(object) = releases.object(&digest)
        {
            return Ok(Resolved {
                object,
                content_type: netboot_bundle::CONTENT_TYPE_OBJECT.into(),
                cache_control: CACHE_IMMUTABLE,
            });
        }
    }
    Err(StatusCode::NOT_FOUND)
}

/// Answers one request. Only the request head is read.
pub async fn respond<B>(req: &Request<B>, state: &State) -> Response<Body> {
    if let Some(response) = representation::method_not_allowed(req) {
        return response;
    }
    let resolved = match resolve(req.uri().path(), &state.releases) {
        Ok(resolved) => resolved,
        Err(StatusCode::SERVICE_UNAVAILABLE) => {
            let mut response = plain(StatusCode::SERVICE_UNAVAILABLE, "no release loaded\n");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            return response;
        }
        Err(StatusCode::INTERNAL_SERVER_ERROR) => {
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
        }
        Err(_) => return plain(StatusCode::NOT_FOUND, "not found\n"),
    };
    let object = &resolved.object;
    let plan = match representation::head(
        req,
        &Representation {
            sha256: object.digest.as_bytes(),
            size: object.size,
            content_type: &resolved.content_type,
            cache_control: resolved.cache_control,
        },
    ) {
        Head::Send(plan) => plan,
        Head::Complete(response) => return response,
    };

    let body = match &object.content {
        Content::Memory(bytes) => {
            if plan.body {
                full(bytes.slice(plan.range.start as usize..plan.range.end as usize))
            } else {
                empty()
            }
        }
        Content::File(path) => {
            // Verified on every open (cheaply, by identity), even for HEAD: a HEAD that
            // says 200 for a file a GET would refuse would be a lie.
            let verified = {
                let releases = state.releases.clone();
                let digest = object.digest;
                let path = path.clone();
                tokio::task::spawn_blocking(move || releases.verified.open_verified(&digest, &path))
                    .await
            };
            let file = match verified {
                Ok(Ok(file)) => file,
                Ok(Err(e)) => {
                    state.metrics.note_object_failure();
                    tracing::error!(
                        object = %object.digest,
                        error = %e,
                        "refusing to serve an object that failed verification"
                    );
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
                }
                Err(e) => {
                    tracing::error!(error = %e, "verification task failed");
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
                }
            };
            if !plan.body {
                empty()
            } else {
                match representation::file_body(file, plan.range.clone()).await {
                    Ok(body) => body,
                    Err(e) => {
                        tracing::error!(object = %object.digest, error = %e, "reading object");
                        return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
                    }
                }
            }
        }
    };
    representation::with_headers(plan.status, plan.headers, body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::follow::{Follower, Outcome};
    use crate::verified::MEMORY_OBJECT_LIMIT;
    use base64::Engine as _;
    use bytes::Bytes;
    use http::HeaderMap;
    use http_body_util::BodyExt as _;
    use netboot_bundle::{BundleDir, Manifest, RouteEntry};

    const SCRIPT: &[u8] = b"#!ipxe\necho hello from the test bundle\n";

    fn big() -> Vec<u8> {
        (0..MEMORY_OBJECT_LIMIT as usize * 3)
            .map(|i| (i % 251) as u8)
            .collect()
    }

    /// A bundle with a script route and a large (file-served) image route.
    fn publish(dir: &BundleDir, extra: &[u8]) -> Digest {
        let mut manifest = Manifest::new();
        let (script, _) = dir.store_object(SCRIPT).unwrap();
        manifest.routes.insert(
            "machines/by-name/node-01.ipxe".into(),
            RouteEntry {
                object: script,
                size: SCRIPT.len() as u64,
                content_type: "text/plain; charset=utf-8".into(),
            },
        );
        let mut image = big();
        image.extend_from_slice(extra);
        let (image_digest, _) = dir.store_object(&image).unwrap();
        manifest.routes.insert(
            "images/flatcar/kernel".into(),
            RouteEntry {
                object: image_digest,
                size: image.len() as u64,
                content_type: "application/octet-stream".into(),
            },
        );
        let (digest, _) = dir.store_object(&manifest.to_canonical()).unwrap();
        dir.write_pointer(&netboot_bundle::Pointer::new(digest))
            .unwrap();
        digest
    }

    async fn setup() -> (tempfile::TempDir, BundleDir, State) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = BundleDir::new(tmp.path());
        publish(&dir, b"");
        let state = State {
            releases: Arc::default(),
            metrics: Arc::default(),
        };
        let outcome = Follower::new(dir.clone(), state.clone()).check(true).await;
        assert!(matches!(outcome, Outcome::Installed(_)), "{outcome:?}");
        (tmp, dir, state)
    }

    fn get(path: &str) -> http::request::Builder {
        Request::builder().uri(path)
    }

    async fn call(state: &State, req: http::request::Builder) -> (StatusCode, HeaderMap, Bytes) {
        let req = req.body(()).unwrap();
        let response = respond(&req, state).await;
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (parts.status, parts.headers, bytes)
    }

    fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
    }

    #[tokio::test]
    async fn route_get_carries_every_header() {
        let (_tmp, _dir, state) = setup().await;
        let (status, headers, body) = call(&state, get("/machines/by-name/node-01.ipxe")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, SCRIPT);
        let digest = Digest::of(SCRIPT);
        assert_eq!(header(&headers, "etag"), format!("\"{}\"", digest.hex()));
        assert_eq!(
            header(&headers, "repr-digest"),
            format!(
                "sha-256=:{}:",
                base64::engine::general_purpose::STANDARD.encode(digest.as_bytes())
            )
        );
        assert_eq!(header(&headers, "cache-control"), "no-cache");
        assert_eq!(
            header(&headers, "content-type"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(header(&headers, "content-length"), SCRIPT.len().to_string());
        assert_eq!(header(&headers, "accept-ranges"), "bytes");
    }

    #[tokio::test]
    async fn head_has_headers_and_no_body() {
        let (_tmp, _dir, state) = setup().await;
        for path in ["/machines/by-name/node-01.ipxe", "/images/flatcar/kernel"] {
            let (status, headers, body) = call(&state, get(path).method("HEAD")).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(body.is_empty(), "{path}");
            assert_ne!(header(&headers, "content-length"), "0", "{path}");
            assert!(headers.contains_key("etag"));
        }
    }

    #[tokio::test]
    async fn objects_are_immutable_and_named_by_lowercase_hex_only() {
        let (_tmp, _dir, state) = setup().await;
        let digest = Digest::of(SCRIPT);
        let (status, headers, body) =
            call(&state, get(&format!("/objects/sha256/{}", digest.hex()))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, SCRIPT);
        assert_eq!(header(&headers, "cache-control"), CACHE_IMMUTABLE);
        assert_eq!(
            header(&headers, "content-type"),
            netboot_bundle::CONTENT_TYPE_OBJECT
        );
        let upper = format!("/objects/sha256/{}", digest.hex().to_uppercase());
        assert_eq!(call(&state, get(&upper)).await.0, StatusCode::NOT_FOUND);
        // An object that exists on disk but is not in the release is not served.
        let (tmp_digest, _) = _dir.store_object(b"stray").unwrap();
        let stray = format!("/objects/sha256/{}", tmp_digest.hex());
        assert_eq!(call(&state, get(&stray)).await.0, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn current_is_served_no_cache() {
        let (tmp, _dir, state) = setup().await;
        let (status, headers, body) = call(&state, get("/current")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, std::fs::read(tmp.path().join("current")).unwrap());
        assert_eq!(header(&headers, "cache-control"), "no-cache");
        assert_eq!(header(&headers, "content-type"), "application/json");
    }

    #[tokio::test]
    async fn if_none_match_gives_304() {
        let (_tmp, _dir, state) = setup().await;
        let hex = Digest::of(SCRIPT).hex();
        let path = "/machines/by-name/node-01.ipxe";
        for tag in [
            format!("\"{hex}\""),
            format!("W/\"{hex}\""),
            format!("\"other\", \"{hex}\""),
            "*".to_owned(),
        ] {
            let (status, headers, body) =
                call(&state, get(path).header("if-none-match", &tag)).await;
            assert_eq!(status, StatusCode::NOT_MODIFIED, "{tag}");
            assert!(body.is_empty());
            assert_eq!(header(&headers, "etag"), format!("\"{hex}\""));
            assert_eq!(header(&headers, "cache-control"), "no-cache");
        }
        let (status, _, _) = call(&state, get(path).header("if-none-match", "\"nope\"")).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn single_ranges_on_memory_and_file_objects() {
        let (_tmp, _dir, state) = setup().await;
        let image = big();
        let len = image.len();
        for (path, data) in [
            ("/machines/by-name/node-01.ipxe", SCRIPT),
            ("/images/flatcar/kernel", image.as_slice()),
        ] {
            let n = data.len();
            let cases: [(&str, std::ops::Range<usize>); 4] = [
                ("bytes=0-3", 0..4),
                ("bytes=-5", n - 5..n),
                ("bytes=7-", 7..n),
                ("bytes=2-999999999", 2..n),
            ];
            for (spec, want) in cases {
                let (status, headers, body) = call(&state, get(path).header("range", spec)).await;
                assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{path} {spec}");
                assert_eq!(body, &data[want.clone()], "{path} {spec}");
                assert_eq!(
                    header(&headers, "content-range"),
                    format!("bytes {}-{}/{n}", want.start, want.end - 1)
                );
                assert_eq!(header(&headers, "content-length"), want.len().to_string());
            }
            let (status, headers, _) =
                call(&state, get(path).header("range", format!("bytes={n}-"))).await;
            assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE, "{path}");
            assert_eq!(header(&headers, "content-range"), format!("bytes */{n}"));
            // Multiple ranges and garbage are answered with the whole object.
            for spec in ["bytes=0-1,4-5", "bytes=5-2", "lines=1-2", "bytes=x-"] {
                let (status, _, body) = call(&state, get(path).header("range", spec)).await;
                assert_eq!(status, StatusCode::OK, "{path} {spec}");
                assert_eq!(body.len(), n);
            }
            // If-Range with another validator: whole object.
            let (status, _, _) = call(
                &state,
                get(path)
                    .header("range", "bytes=0-1")
                    .header("if-range", "\"other\""),
            )
            .await;
            assert_eq!(status, StatusCode::OK);
        }
        assert!(len > MEMORY_OBJECT_LIMIT as usize);
    }

    #[tokio::test]
    async fn only_get_and_head() {
        let (_tmp, _dir, state) = setup().await;
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
            let (status, headers, _) =
                call(&state, get("/machines/by-name/node-01.ipxe").method(method)).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
            assert_eq!(header(&headers, "allow"), "GET, HEAD");
        }
    }

    #[tokio::test]
    async fn traversal_and_junk_paths_are_404() {
        let (_tmp, _dir, state) = setup().await;
        let long = format!("/{}", "a/".repeat(4000));
        for path in [
            "/",
            "/../current",
            "/machines/../current",
            "/machines/by-name/../../current",
            "/%2e%2e/current",
            "/machines%2fby-name%2fnode-01.ipxe",
            "/machines/by-name/node-01.ipxe%00",
            "/machines/by-name//node-01.ipxe",
            "/./current",
            "/objects/sha256/",
            "/objects/sha256/../../current",
            "/etc/passwd",
            "/machines/by-name/node-01.ipxe/",
            long.as_str(),
        ] {
            let (status, _, body) = call(&state, get(path)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(body, "not found\n");
        }
    }

    #[tokio::test]
    async fn no_release_is_503() {
        let state = State {
            releases: Arc::default(),
            metrics: Arc::default(),
        };
        let (status, headers, _) = call(&state, get("/boot.ipxe")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(header(&headers, "retry-after"), "5");
    }

    #[tokio::test]
    async fn corrupt_large_object_is_500_and_never_served() {
        let (_tmp, dir, state) = setup().await;
        let image = big();
        let path = dir.object_file(&Digest::of(&image));
        let mut corrupt = image.clone();
        corrupt[1000] ^= 0xff;
        std::fs::write(&path, &corrupt).unwrap();
        let (status, _, body) = call(&state, get("/images/flatcar/kernel")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body, "internal error\n");
        let (status, _, _) = call(&state, get("/images/flatcar/kernel").method("HEAD")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            state
                .metrics
                .render(None)
                .contains("object_verification_failures_total 2")
        );
        // Repaired (new inode, new times): verified again and served.
        std::fs::write(&path, &image).unwrap();
        let (status, _, body) = call(&state, get("/images/flatcar/kernel")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, image);
    }

    #[tokio::test]
    async fn bad_new_release_is_refused_and_old_one_kept() {
        let (_tmp, dir, state) = setup().await;
        let old = state.releases.current().unwrap().manifest_digest;
        let mut follower = Follower::new(dir.clone(), state.clone());
        assert_eq!(follower.check(false).await, Outcome::Unchanged);

        // A release whose new image is corrupt on disk.
        let new = publish(&dir, b"v2");
        let mut image = big();
        image.extend_from_slice(b"v2");
        std::fs::write(dir.object_file(&Digest::of(&image)), b"truncated").unwrap();
        assert_eq!(follower.check(false).await, Outcome::Refused);
        assert_eq!(state.releases.current().unwrap().manifest_digest, old);
        // Not retried on every poll, only after a while or when told (SIGHUP).
        assert_eq!(follower.check(false).await, Outcome::Refused);
        let (status, _, _) = call(&state, get("/machines/by-name/node-01.ipxe")).await;
        assert_eq!(status, StatusCode::OK);

        // Fixed: installed, and the old release's objects remain reachable.
        std::fs::write(dir.object_file(&Digest::of(&image)), &image).unwrap();
        assert_eq!(follower.check(true).await, Outcome::Installed(new));
        let old_image = format!("/objects/sha256/{}", Digest::of(&big()).hex());
        assert_eq!(call(&state, get(&old_image)).await.0, StatusCode::OK);
        assert!(
            state
                .metrics
                .render(None)
                .contains("release_refusals_total 1")
        );
    }
}
