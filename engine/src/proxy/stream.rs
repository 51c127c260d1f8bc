//! The client stream as the proxy sees it: bytes read during protocol detection are
//! served again first, and every request head must complete before a deadline
//! (slowloris defence). The first head's deadline starts with the connection; a later
//! one's with its first byte, once the proxy has said the previous request ended (see
//! [`super::conns`]), so idle keep-alive time stays under `timeouts.idle_ms`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use bytes::BytesMut;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::conns::{Conns, HeadClock};

/// A plaintext client connection with a replay prefix and a head deadline.
pub struct FrontStream {
    inner: Stream,
    prefix: BytesMut,
    head_timeout: Duration,
    /// Armed until the end of the current request head (`\r\n\r\n`) has been read.
    deadline: Option<Pin<Box<Sleep>>>,
    /// A request ended: the next bytes read start a head.
    awaiting_head: bool,
    /// How many bytes of `\r\n\r\n` the data read so far ends with.
    matched: u8,
    /// The current request's target as the client sent it (set by the front, read by
    /// the inspection): pingora drops the fragment and escapes bytes it cannot store.
    target: Option<Vec<u8>>,
    clock: Arc<HeadClock>,
    conns: Arc<Conns>,
    timed_out: prometheus::IntCounter,
}

impl std::fmt::Debug for FrontStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontStream")
            .field("inner", &self.inner)
            .field("buffered", &self.prefix.len())
            .field("head_deadline", &self.deadline.is_some())
            .finish()
    }
}

impl Drop for FrontStream {
    fn drop(&mut self) {
        self.conns.unregister(self.inner.id());
    }
}

impl FrontStream {
    /// `timed_out` counts connections cut by the head deadline.
    pub fn new(
        inner: Stream,
        head_timeout: Duration,
        conns: Arc<Conns>,
        timed_out: prometheus::IntCounter,
    ) -> Self {
        let clock = conns.register(inner.id());
        FrontStream {
            inner,
            prefix: BytesMut::new(),
            head_timeout,
            deadline: Some(Box::pin(tokio::time::sleep(head_timeout))),
            awaiting_head: false,
            matched: 0,
            target: None,
            clock,
            conns,
            timed_out,
        }
    }

    /// Bytes read during detection and not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.prefix
    }

    /// Replace the first `len` buffered bytes (a request head) with `head`.
    pub fn rewrite_prefix(&mut self, len: usize, head: &[u8]) {
        let rest = self.prefix.split_off(len.min(self.prefix.len()));
        self.prefix.clear();
        self.prefix.extend_from_slice(head);
        self.prefix.extend_from_slice(&rest);
    }

    pub fn set_target(&mut self, target: Option<Vec<u8>>) {
        self.target = target;
    }

    /// The current request's target as the client sent it, if the front recorded it.
    pub fn target(&self) -> Option<&[u8]> {
        self.target.as_deref()
    }

    /// Read more bytes from the socket into the replay prefix; 0 means EOF.
    pub async fn fill(&mut self) -> std::io::Result<usize> {
        let mut buf = [0u8; 2048];
        let n = self.inner.read(&mut buf).await?;
        self.prefix.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    /// The underlying socket's digest (original destination, peer address).
    pub fn socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn scan(&mut self, data: &[u8]) {
        if self.deadline.is_none() {
            return;
        }
        const END: &[u8; 4] = b"\r\n\r\n";
        for &b in data {
            self.matched = if b == END[self.matched as usize] {
                self.matched + 1
            } else if b == b'\r' {
                1
            } else {
                0
            };
            if self.matched == 4 {
                self.deadline = None;
                return;
            }
        }
    }
}

impl AsyncRead for FrontStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.clock.take_rearm() {
            this.deadline = None;
            this.awaiting_head = true;
            this.matched = 0;
        }
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            let chunk = this.prefix.split_to(n);
            this.scan(&chunk);
            buf.put_slice(&chunk);
            return Poll::Ready(Ok(()));
        }
        if let Some(deadline) = this.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            this.deadline = None;
            this.timed_out.inc();
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request head not complete before timeouts.request_header_ms",
            )));
        }
        if this.deadline.is_none() && !this.awaiting_head {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res
            && buf.filled().len() > before
        {
            if this.awaiting_head {
                this.awaiting_head = false;
                this.deadline = Some(Box::pin(tokio::time::sleep(this.head_timeout)));
            }
            let new = buf.filled()[before..].to_vec();
            this.scan(&new);
        }
        res
    }
}

impl AsyncWrite for FrontStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[async_trait]
impl Shutdown for FrontStream {
    async fn shutdown(&mut self) {
        Shutdown::shutdown(&mut *self.inner).await
    }
}

impl UniqueID for FrontStream {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

// TLS connections that speak HTTP/1 are wrapped too: their TLS facts (the digest that
// sets `X-Forwarded-Proto: https`, the ALPN) are the inner stream's.
impl Ssl for FrontStream {
    fn get_ssl(&self) -> Option<&pingora::protocols::tls::TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<pingora::protocols::tls::SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<pingora::protocols::ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for FrontStream {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }
}

impl GetProxyDigest for FrontStream {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }
}

impl GetSocketDigest for FrontStream {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest)
    }
}

#[async_trait]
impl Peek for FrontStream {
    /// Serves pingora's HTTP/2 preface check from the detection prefix.
    async fn try_peek(&mut self, buf: &mut [u8]) -> std::io::Result<bool> {
        while self.prefix.len() < buf.len() {
            if self.fill().await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        buf.copy_from_slice(&self.prefix[..buf.len()]);
        Ok(true)
    }
}
