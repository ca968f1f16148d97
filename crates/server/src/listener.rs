//! The listening socket and what a connection may cost (`open-api.md`,
//! "Robustness"): request headers must arrive within `header_timeout` of
//! their first byte (or of the connection), a keep-alive connection may sit
//! idle for `idle_timeout`, and a failed accept (out of file descriptors)
//! never stops the server.
//!
//! hyper offers a header timeout, but its timer also runs while a kept-alive
//! connection waits for its next request, so one setting would have to
//! serve both purposes; a load balancer that keeps connections for 60 s
//! would see them cut after 10. The connection is therefore watched here,
//! at the bytes: from the first byte of a request to the blank line that
//! ends its headers, and from the end of a response to the next request.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

pub struct GuardedListener {
    inner: TcpListener,
    limits: Limits,
    /// When an accept error was last logged: at most one line a second.
    last_logged: Option<Instant>,
}

impl GuardedListener {
    pub fn new(inner: TcpListener, limits: Limits) -> Self {
        GuardedListener {
            inner,
            limits,
            last_logged: None,
        }
    }
}

impl axum::serve::Listener for GuardedListener {
    type Io = GuardedIo;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (GuardedIo, std::net::SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((tcp, addr)) => {
                    // Small answers go out at once instead of waiting on the
                    // peer's delayed ACK.
                    let _ = tcp.set_nodelay(true);
                    return (GuardedIo::new(tcp, self.limits), addr);
                }
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    // Out of file descriptors or memory: the connections that
                    // hold them end on their own (timeouts), so try again soon.
                    if self
                        .last_logged
                        .is_none_or(|at| at.elapsed() > Duration::from_secs(1))
                    {
                        tracing::warn!(error = %e, "cannot accept a connection; retrying");
                        self.last_logged = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.inner.local_addr()
    }
}

/// The address a connection came from, for handlers that ask
/// (`ConnectInfo<ClientAddr>`).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, GuardedListener>>
    for ClientAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, GuardedListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

/// Errors of one connection that went away before it was accepted.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a request's headers; how much of "\r\n\r\n" was just seen.
    Head(u8),
    /// Headers read: the request is being handled, no deadline.
    Busy,
    /// A response went out; waiting for the next request.
    Idle,
    /// HTTP/2 (prior knowledge): no request boundaries in the bytes, so
    /// only silence counts.
    Stream,
}

const END_OF_HEADERS: &[u8; 4] = b"\r\n\r\n";
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

/// Looks for the blank line that ends a request's headers, `matched` bytes
/// of it having ended the previous read: `None` once it is complete.
fn scan_headers(mut matched: u8, bytes: &[u8]) -> Option<u8> {
    for &b in bytes {
        matched = if b == END_OF_HEADERS[matched as usize] {
            matched + 1
        } else if b == b'\r' {
            1
        } else {
            0
        };
        if matched == 4 {
            return None;
        }
    }
    Some(matched)
}

pub struct GuardedIo {
    inner: TcpStream,
    limits: Limits,
    phase: Phase,
    fresh: bool,
    deadline: Pin<Box<Sleep>>,
}

impl GuardedIo {
    fn new(inner: TcpStream, limits: Limits) -> Self {
        GuardedIo {
            inner,
            limits,
            // A new connection owes its first request's headers at once.
            phase: Phase::Head(0),
            fresh: true,
            deadline: Box::pin(tokio::time::sleep(limits.header_timeout)),
        }
    }

    fn arm(&mut self, after: Duration) {
        self.deadline.as_mut().reset(Instant::now() + after);
    }

    fn armed(&self) -> bool {
        !matches!(self.phase, Phase::Busy)
    }

    /// Has the connection's task woken when the deadline passes. Needed
    /// after a write: hyper may write a response and then wait without
    /// reading again, and only a read would otherwise look at the deadline
    /// (seen under load: idle connections were never closed).
    fn watch(&mut self, cx: &mut Context<'_>) {
        if self.armed() {
            let _ = self.deadline.as_mut().poll(cx);
        }
    }

    fn on_read(&mut self, bytes: &[u8]) {
        if std::mem::take(&mut self.fresh) && bytes.starts_with(H2_PREFACE) {
            self.phase = Phase::Stream;
        }
        match self.phase {
            Phase::Stream => self.arm(self.limits.idle_timeout),
            Phase::Busy => {}
            Phase::Idle => {
                self.phase = Phase::Head(0);
                self.arm(self.limits.header_timeout);
                self.scan(bytes);
            }
            Phase::Head(_) => self.scan(bytes),
        }
    }

    fn scan(&mut self, bytes: &[u8]) {
        if let Phase::Head(matched) = self.phase {
            self.phase = match scan_headers(matched, bytes) {
                Some(matched) => Phase::Head(matched),
                None => Phase::Busy,
            };
        }
    }

    fn on_write(&mut self, bytes: &[u8]) {
        match self.phase {
            // "100 Continue" is not the response: the body follows.
            Phase::Busy if bytes.starts_with(b"HTTP/1.1 100 ") => {}
            Phase::Busy | Phase::Idle => {
                self.phase = Phase::Idle;
                self.arm(self.limits.idle_timeout);
            }
            Phase::Stream => self.arm(self.limits.idle_timeout),
            Phase::Head(_) => {}
        }
    }

    fn timed_out(&self) -> io::Error {
        let what = match self.phase {
            Phase::Head(_) => "request headers took too long",
            _ => "connection idle too long",
        };
        io::Error::new(io::ErrorKind::TimedOut, what)
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                if !read.is_empty() {
                    // A header trickling in a byte at a time is still late.
                    if matches!(this.phase, Phase::Head(_)) && this.deadline.is_elapsed() {
                        return Poll::Ready(Err(this.timed_out()));
                    }
                    this.on_read(read);
                    this.watch(cx);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                if this.armed() && this.deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(this.timed_out()));
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &written {
            this.on_write(&buf[..*n]);
            this.watch(cx);
        }
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &written {
            if *n > 0 {
                let first = bufs.iter().find(|b| !b.is_empty()).map(|b| &b[..]);
                this.on_write(first.unwrap_or_default());
                this.watch(cx);
            }
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(chunks: &[&[u8]]) -> Option<u8> {
        chunks
            .iter()
            .try_fold(0, |matched, chunk| scan_headers(matched, chunk))
    }

    #[test]
    fn the_end_of_headers_is_found_across_reads() {
        assert_eq!(scan(&[b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]), None);
        assert_eq!(scan(&[b"GET / HTTP/1.1\r\n", b"\r", b"\n"]), None);
        assert_eq!(scan(&[b"GET / HTTP/1.1\r\n\r", b"\r\n\r\n"]), None);
        assert_eq!(scan(&[b"GET / HTTP/1.1\r\nHost: x\r\n"]), Some(2));
        assert_eq!(scan(&[b"a\r\r\n\r\n"]), None);
        assert_eq!(scan(&[b"a\n\n"]), Some(0));
    }
}
