//! The client for the origin (netboot-serve, usually behind a load balancer): HTTPS with the
//! proxy's client certificate, one pooled connection reused across requests (HTTP/2 when
//! the origin offers it), a timeout on every wait, and retries with exponential backoff for
//! what may be transient (connection failures, timeouts, 5xx, 429).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use netboot_tls::rustls::ClientConfig;

/// Why the origin gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginError {
    /// The origin answered 404: it does not have this path.
    NotFound,
    /// Anything else (connection, TLS, timeout, other status); the text is for logs.
    Unreachable(String),
}

impl std::fmt::Display for OriginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound => f.write_str("not found at the origin"),
            Self::Unreachable(reason) => f.write_str(reason),
        }
    }
}

/// How patient to be with the origin.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// For the connection and the response head, and between two body chunks.
    pub timeout: Duration,
    /// Further attempts after a transient failure.
    pub retries: u32,
    /// The first backoff; doubled after each attempt, capped at 8 s.
    pub backoff: Duration,
}

/// The one attempt made for an object while the last look found the origin down: short, so
/// a firmware's request fails before the firmware gives up and holds no slot for long.
const WHEN_DOWN_TIMEOUT: Duration = Duration::from_secs(2);

impl Patience {
    /// For a request while the origin is known to be down: one short attempt, no retries
    /// (the background look finds out when it is back).
    pub fn when_down(self) -> Self {
        Self {
            timeout: self.timeout.min(WHEN_DOWN_TIMEOUT),
            retries: 0,
            backoff: self.backoff,
        }
    }
}

/// The origin: a base URL and a pooled client.
#[derive(Debug, Clone)]
pub struct Origin {
    base: String,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    patience: Patience,
}

impl Origin {
    /// `base` is `https://host[:port][/prefix]`; requests go to `<base>/<route>`.
    pub fn new(base: &str, tls: Arc<ClientConfig>, patience: Patience) -> Result<Self, String> {
        let uri: Uri = base
            .parse()
            .map_err(|e| format!("--origin {base:?}: {e}"))?;
        if uri.scheme_str() != Some("https") || uri.host().is_none() {
            return Err(format!(
                "--origin {base:?}: must be an https:// URL (the proxy authenticates with its client certificate)"
            ));
        }
        if uri.query().is_some() {
            return Err(format!("--origin {base:?}: must not have a query"));
        }
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(patience.timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_only()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            client,
            patience,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn patience(&self) -> Patience {
        self.patience
    }

    /// GETs `route` and returns the response head once the status is 200 or 304; the body
    /// is the caller's to read (see [`Origin::chunk`]). Transient failures are retried.
    pub async fn get(
        &self,
        route: &str,
        if_none_match: Option<&str>,
    ) -> Result<Response<Incoming>, OriginError> {
        self.get_with(route, if_none_match, self.patience).await
    }

    /// [`get`](Self::get) with other patience (e.g. [`Patience::when_down`]).
    pub async fn get_with(
        &self,
        route: &str,
        if_none_match: Option<&str>,
        patience: Patience,
    ) -> Result<Response<Incoming>, OriginError> {
        let url = format!("{}/{route}", self.base);
        let mut backoff = patience.backoff;
        let mut attempt = 0;
        loop {
            let error = match self.attempt(&url, if_none_match, patience.timeout).await {
                Ok(response) => match response.status() {
                    StatusCode::OK | StatusCode::NOT_MODIFIED => return Ok(response),
                    StatusCode::NOT_FOUND => return Err(OriginError::NotFound),
                    status
                        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS =>
                    {
                        format!("{url}: {status}")
                    }
                    status => return Err(OriginError::Unreachable(format!("{url}: {status}"))),
                },
                Err(reason) => reason,
            };
            if attempt >= patience.retries {
                return Err(OriginError::Unreachable(error));
            }
            attempt += 1;
            tracing::debug!(%url, error = %error, attempt, "retrying the origin");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(8));
        }
    }

    async fn attempt(
        &self,
        url: &str,
        if_none_match: Option<&str>,
        timeout: Duration,
    ) -> Result<Response<Incoming>, String> {
        let mut request = Request::get(url).header(http::header::USER_AGENT, USER_AGENT);
        if let Some(etag) = if_none_match {
            request = request.header(http::header::IF_NONE_MATCH, etag);
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| format!("{url}: {e}"))?;
        match tokio::time::timeout(timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(format!("{url}: {}", error_chain(&e))),
            Err(_) => Err(format!("{url}: no answer within {timeout:?}")),
        }
    }

    /// The next chunk of a body, `None` at its end; a stall longer than the timeout is an
    /// error.
    pub async fn chunk(&self, body: &mut Incoming) -> Result<Option<Bytes>, String> {
        loop {
            let frame = match tokio::time::timeout(self.patience.timeout, body.frame()).await {
                Err(_) => return Err(format!("body stalled for {:?}", self.patience.timeout)),
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => return Err(error_chain(&e)),
                Ok(Some(Ok(frame))) => frame,
            };
            if let Ok(data) = frame.into_data() {
                return Ok(Some(data));
            }
        }
    }

    /// GETs a small body (at most `limit` bytes) whole.
    pub async fn get_small(
        &self,
        route: &str,
        if_none_match: Option<&str>,
        limit: u64,
    ) -> Result<Option<(Option<String>, Bytes)>, OriginError> {
        let response = self.get(route, if_none_match).await?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        let etag = response
            .headers()
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(chunk) = self
            .chunk(&mut body)
            .await
            .map_err(|e| OriginError::Unreachable(format!("{route}: {e}")))?
        {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(OriginError::Unreachable(format!(
                    "{route}: larger than {limit} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Some((etag, Bytes::from(bytes))))
    }
}

const USER_AGENT: &str = concat!("netboot-proxy/", env!("CARGO_PKG_VERSION"));

/// An error and its sources on one line ("client error (Connect): invalid peer certificate").
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}
