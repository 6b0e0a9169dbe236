//! A response body that tells an observer what it sent and how it ended.
//!
//! netboot-serve writes its access log line when a body ends (so `bytes` is what was
//! really sent), and netboot-proxy records each client's boot progress the same way; both
//! wrap the body here instead of each keeping a copy of the polling and drop logic.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::{Body as _, Frame, SizeHint};

use crate::Body;

/// Told about a response body as hyper sends it.
pub trait BodyObserver: Send + Unpin + 'static {
    /// A chunk of the body, handed to the connection.
    fn data(&mut self, chunk: &Bytes);
    /// Called exactly once: the body reached its end (`complete`), failed, or was dropped
    /// before its end because the client went away. A body with nothing to poll (HEAD,
    /// 304, an empty body) ends complete.
    fn end(&mut self, complete: bool);
}

/// Wraps `body` so `observer` sees every chunk and the end.
pub fn observed(body: Body, observer: impl BodyObserver) -> Body {
    Observed {
        inner: body,
        observer: Some(observer),
    }
    .boxed_unsync()
}

struct Observed<O: BodyObserver> {
    inner: Body,
    /// `None` once told of the end.
    observer: Option<O>,
}

impl<O: BodyObserver> Observed<O> {
    fn end(&mut self, complete: bool) {
        if let Some(mut observer) = self.observer.take() {
            observer.end(complete);
        }
    }
}

impl<O: BodyObserver> hyper::body::Body for Observed<O> {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(observer)) = (frame.data_ref(), self.observer.as_mut()) {
                    observer.data(data);
                }
                if self.inner.is_end_stream() {
                    self.end(true);
                }
            }
            Poll::Ready(None) => self.end(true),
            Poll::Ready(Some(Err(_))) => self.end(false),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<O: BodyObserver> Drop for Observed<O> {
    fn drop(&mut self) {
        // Dropped before its end: the client went away (or HEAD/304, which have no body
        // to poll; those are complete).
        let complete = self.inner.is_end_stream();
        self.end(complete);
    }
}
