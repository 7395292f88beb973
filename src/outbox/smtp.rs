//! SMTP over lettre's connection API, on a socket we open ourselves.
//!
//! Why our own socket: lettre 0.11.23 never sets TCP_NODELAY and writes the final
//! `.` of DATA as a separate small packet, so every message waits for the peer's
//! delayed ACK (~40 ms on Linux). We connect, set TCP_NODELAY, do TLS with the same
//! rustls configuration as the inbox (system roots + `ca_file`, clear errors), and
//! hand the stream to `AsyncSmtpConnection::connect_with_transport`. (Upstream fixed
//! this in lettre pull request #1159, not in a release we can use yet.)
//!
//! STARTTLS is done by us too, before lettre sees the stream: greeting, EHLO,
//! STARTTLS, handshake. lettre then reads a greeting we synthesise (none follows
//! STARTTLS on the wire, RFC 3207) and sends its EHLO over TLS. A server without
//! STARTTLS is an error, never a plain-text session.
//!
//! One connection is kept and reused across messages; one idle for longer than
//! `idle_check_after` is probed with NOOP; after any error it is dropped.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream};
use lettre::transport::smtp::extension::{ClientId, Extension};
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::{SendError, SmtpSettings, TlsMode, seven_bit};
use crate::mailbox::tls;

/// The stream handed to lettre: TCP or TLS, with an optional synthetic greeting
/// served before the first byte from the wire.
struct SmtpStream {
    inner: Inner,
    greeting: Vec<u8>,
    served: usize,
}

enum Inner {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl fmt::Debug for SmtpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner {
            Inner::Plain(_) => "plain",
            Inner::Tls(_) => "tls",
        };
        f.debug_struct("SmtpStream").field("kind", &kind).finish()
    }
}

impl AsyncRead for SmtpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.served < this.greeting.len() {
            let rest = &this.greeting[this.served..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.served += n;
            return Poll::Ready(Ok(()));
        }
        match &mut this.inner {
            Inner::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for SmtpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Plain(s) => Pin::new(s).poll_flush(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Inner::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl AsyncTokioStream for SmtpStream {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        match &self.inner {
            Inner::Plain(s) => s.peer_addr(),
            Inner::Tls(s) => s.get_ref().0.peer_addr(),
        }
    }
}

/// An SMTP outbox with one reusable connection.
pub struct SmtpOutbox {
    settings: SmtpSettings,
    tls_config: Option<Arc<ClientConfig>>,
    hello: ClientId,
    conn: Option<AsyncSmtpConnection>,
    last_used: Instant,
}

impl fmt::Debug for SmtpOutbox {
    // By hand: the settings hold the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpOutbox")
            .field("host", &self.settings.host)
            .field("port", &self.settings.port)
            .field("tls", &self.settings.tls)
            .field("connected", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

impl SmtpOutbox {
    /// Checks the settings and builds the TLS configuration; no network I/O.
    pub fn new(s: &SmtpSettings) -> Result<Self, SendError> {
        if s.tls == TlsMode::None && !tls::is_loopback(&s.host) {
            return Err(SendError::Config(format!(
                "tls = \"none\" is only allowed for loopback hosts, not {}",
                s.host
            )));
        }
        if s.username.is_some() != s.password.is_some() {
            return Err(SendError::Config(
                "SMTP username and password go together".into(),
            ));
        }
        let tls_config = match s.tls {
            TlsMode::None => None,
            _ => Some(
                tls::client_config(&s.host, s.ca_file.as_deref()).map_err(|e| SendError::Tls {
                    host: e.host,
                    reason: e.reason,
                })?,
            ),
        };
        let hello = match &s.hello_name {
            Some(name) => ClientId::Domain(name.clone()),
            None => ClientId::default(),
        };
        Ok(SmtpOutbox {
            settings: s.clone(),
            tls_config,
            hello,
            conn: None,
            last_used: Instant::now(),
        })
    }

    /// Opens the connection if there is none usable.
    pub async fn ensure_connected(&mut self) -> Result<(), SendError> {
        if let Some(conn) = self.conn.as_mut() {
            let stale = self.last_used.elapsed() > self.settings.idle_check_after;
            let alive = !conn.has_broken()
                && (!stale
                    || tokio::time::timeout(self.settings.timeout, conn.test_connected())
                        .await
                        .unwrap_or(false));
            if alive {
                return Ok(());
            }
            self.conn = None;
        }
        let conn = tokio::time::timeout(self.settings.timeout, self.open())
            .await
            .unwrap_or_else(|_| {
                Err(self.conn_err(format!(
                    "no SMTP session within {:?}",
                    self.settings.timeout
                )))
            })?;
        self.conn = Some(conn);
        self.last_used = Instant::now();
        Ok(())
    }

    /// See [`super::Outbox::send`].
    pub async fn send(
        &mut self,
        envelope_from: &str,
        to: &[String],
        raw: &[u8],
    ) -> Result<(), SendError> {
        // Checked before connecting: a malformed address is the mail's fault.
        envelope(envelope_from, to)?;
        self.ensure_connected().await?;
        let Some(conn) = self.conn.as_ref() else {
            return Err(self.conn_err("not connected".into()));
        };
        let info = conn.server_info();
        let utf8 = info.supports_feature(Extension::SmtpUtfEight);
        let eight_bit = info.supports_feature(Extension::EightBitMime);
        let (envelope, raw) = self.fit(envelope_from, to, raw, utf8, eight_bit)?;
        let Some(conn) = self.conn.as_mut() else {
            return Err(self.conn_err("not connected".into()));
        };
        let result = tokio::time::timeout(self.settings.timeout, conn.send(&envelope, &raw)).await;
        match result {
            Ok(Ok(_)) => {
                self.last_used = Instant::now();
                Ok(())
            }
            Ok(Err(e)) => {
                let err = self.lettre_err(e);
                if let Some(mut conn) = self.conn.take() {
                    // Leave the session cleanly where possible (a 5xx for one
                    // message does not break the server), then start fresh next time.
                    let _ = tokio::time::timeout(Duration::from_secs(2), conn.quit()).await;
                }
                Err(err)
            }
            Err(_) => {
                self.conn = None;
                Err(self.conn_err(format!(
                    "sending took longer than {:?}",
                    self.settings.timeout
                )))
            }
        }
    }

    /// The envelope and message as this server can take them (see
    /// [`super::seven_bit`]): without SMTPUTF8 ASCII addresses (a non-ASCII local
    /// part in the envelope is [`SendError::Unsendable`]), without 8BITMIME 7-bit data.
    fn fit<'a>(
        &self,
        from: &str,
        to: &[String],
        raw: &'a [u8],
        utf8: bool,
        eight_bit: bool,
    ) -> Result<(Envelope, std::borrow::Cow<'a, [u8]>), SendError> {
        use std::borrow::Cow;
        let host = &self.settings.host;
        let unsendable = |reason: String| SendError::Unsendable {
            host: host.clone(),
            reason,
        };
        let mut raw: Cow<'a, [u8]> = Cow::Borrowed(raw);
        let envelope = if utf8 {
            envelope(from, to)?
        } else {
            let from = seven_bit::ascii_address(from).map_err(unsendable)?;
            let to = to
                .iter()
                .map(|a| seven_bit::ascii_address(a))
                .collect::<Result<Vec<_>, _>>()
                .map_err(unsendable)?;
            let (fixed, dropped) = seven_bit::ascii_headers(&raw);
            if !dropped.is_empty() {
                tracing::warn!(
                    host = %host,
                    fields = %dropped.join(", "),
                    "outbox: the server has no SMTPUTF8; header fields with a non-ASCII address left out"
                );
            }
            raw = Cow::Owned(fixed);
            envelope(&from, &to)?
        };
        if !eight_bit && !raw.is_ascii() {
            let fixed = seven_bit::seven_bit(&raw).ok_or_else(|| {
                unsendable("the server has no 8BITMIME and the message is not readable MIME".into())
            })?;
            raw = Cow::Owned(fixed);
        }
        if !eight_bit && !raw.is_ascii() {
            return Err(unsendable(
                "the server has no 8BITMIME and the message keeps 8-bit bytes in its header".into(),
            ));
        }
        Ok((envelope, raw))
    }

    /// QUIT, best effort.
    pub async fn close(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), conn.quit()).await;
        }
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, SendError> {
        let s = &self.settings;
        let host = s.host.as_str();
        let tcp = TcpStream::connect((host, s.port))
            .await
            .map_err(|e| self.conn_err(e.to_string()))?;
        tcp.set_nodelay(s.nodelay)
            .map_err(|e| self.conn_err(format!("TCP_NODELAY: {e}")))?;
        let tls_err = |e: tls::TlsError| SendError::Tls {
            host: e.host,
            reason: e.reason,
        };
        let stream = match (s.tls, &self.tls_config) {
            (TlsMode::Implicit, Some(cfg)) => SmtpStream {
                inner: Inner::Tls(Box::new(
                    tls::handshake(cfg.clone(), host, tcp)
                        .await
                        .map_err(tls_err)?,
                )),
                greeting: Vec::new(),
                served: 0,
            },
            (TlsMode::Starttls, Some(cfg)) => {
                let (tcp, banner) = self.plain_starttls(tcp).await?;
                SmtpStream {
                    inner: Inner::Tls(Box::new(
                        tls::handshake(cfg.clone(), host, tcp)
                            .await
                            .map_err(tls_err)?,
                    )),
                    // lettre expects a greeting first; the real one came before STARTTLS.
                    greeting: banner.into_bytes(),
                    served: 0,
                }
            }
            _ => SmtpStream {
                inner: Inner::Plain(tcp),
                greeting: Vec::new(),
                served: 0,
            },
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
            .await
            .map_err(|e| self.lettre_err(e))?;
        if let (Some(user), Some(pass)) = (&s.username, &s.password) {
            let creds = Credentials::new(user.clone(), pass.clone());
            if let Err(e) = conn
                .auth(&[Mechanism::Plain, Mechanism::Login], &creds)
                .await
            {
                let transient = e.is_transient() || e.status().is_none() && !e.is_client();
                return Err(SendError::Auth {
                    host: host.to_string(),
                    username: user.clone(),
                    reason: e.to_string(),
                    transient,
                });
            }
        }
        Ok(conn)
    }

    /// Greeting, EHLO, STARTTLS on the plain socket; returns the socket ready for
    /// the TLS handshake and the server's greeting line (for lettre).
    async fn plain_starttls(&self, mut tcp: TcpStream) -> Result<(TcpStream, String), SendError> {
        let host = &self.settings.host;
        let (code, banner) = read_reply(&mut tcp)
            .await
            .map_err(|e| self.conn_err(e.to_string()))?;
        if code != 220 {
            return Err(SendError::Rejected {
                host: host.clone(),
                code,
                message: banner,
            });
        }
        let hello = match &self.hello {
            ClientId::Domain(d) => d.clone(),
            other => other.to_string(),
        };
        let ehlo = exchange(&mut tcp, &format!("EHLO {hello}\r\n"))
            .await
            .map_err(|e| self.conn_err(e.to_string()))?;
        if ehlo.0 != 250 {
            return Err(SendError::Rejected {
                host: host.clone(),
                code: ehlo.0,
                message: ehlo.1,
            });
        }
        if !ehlo.1.lines().any(|l| {
            l.get(4..)
                .is_some_and(|k| k.trim().eq_ignore_ascii_case("STARTTLS"))
        }) {
            return Err(SendError::Tls {
                host: host.clone(),
                reason: "the server does not offer STARTTLS".into(),
            });
        }
        let (code, text) = exchange(&mut tcp, "STARTTLS\r\n")
            .await
            .map_err(|e| self.conn_err(e.to_string()))?;
        if code != 220 {
            return Err(SendError::Tls {
                host: host.clone(),
                reason: format!("server refused STARTTLS: {code} {text}"),
            });
        }
        let first = banner.lines().next().unwrap_or("220 ESMTP").to_string();
        Ok((tcp, format!("{first}\r\n")))
    }

    fn conn_err(&self, reason: String) -> SendError {
        SendError::Connection {
            host: self.settings.host.clone(),
            reason,
        }
    }

    fn lettre_err(&self, e: lettre::transport::smtp::Error) -> SendError {
        let host = self.settings.host.clone();
        if let Some(code) = e.status() {
            let code: u16 =
                code.to_string()
                    .parse()
                    .unwrap_or(if e.is_transient() { 451 } else { 554 });
            return SendError::Rejected {
                host,
                code,
                message: e.to_string(),
            };
        }
        if e.is_client() {
            // Refused by lettre before a byte went out: the mail's fault.
            return SendError::Unsendable {
                host,
                reason: error_chain(&e),
            };
        }
        SendError::Connection {
            host,
            reason: error_chain(&e),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = inner.source();
    }
    s
}

fn envelope(from: &str, to: &[String]) -> Result<Envelope, SendError> {
    let parse = |a: &str| {
        a.parse::<lettre::Address>()
            .map_err(|e| SendError::InvalidAddress {
                address: a.to_string(),
                reason: e.to_string(),
            })
    };
    let from = if from.is_empty() {
        None
    } else {
        Some(parse(from)?)
    };
    let to = to.iter().map(|a| parse(a)).collect::<Result<Vec<_>, _>>()?;
    Envelope::new(from, to).map_err(|e| SendError::InvalidAddress {
        address: String::new(),
        reason: e.to_string(),
    })
}

/// Writes `cmd` and reads the reply.
async fn exchange(tcp: &mut TcpStream, cmd: &str) -> io::Result<(u16, String)> {
    tcp.write_all(cmd.as_bytes()).await?;
    read_reply(tcp).await
}

/// Reads one (multi-line) SMTP reply byte by byte, so nothing past it is consumed
/// (the TLS handshake follows on the same socket).
async fn read_reply(tcp: &mut TcpStream) -> io::Result<(u16, String)> {
    let mut text = String::new();
    loop {
        let mut line = Vec::new();
        loop {
            let b = tcp.read_u8().await?;
            line.push(b);
            if b == b'\n' || line.len() > 4096 {
                break;
            }
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        text.push_str(&line);
        let code = line
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad SMTP reply {line:?}"),
                )
            })?;
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, text.trim_end().to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_addresses_are_checked() {
        assert!(envelope("a@b.test", &["c@d.test".into()]).is_ok());
        let e = envelope("a@b.test", &["not an address".into()]).unwrap_err();
        assert_eq!(e.blame(), crate::outbox::Blame::Mail, "{e}");
    }

    #[test]
    fn none_is_refused_for_remote_hosts() {
        let s = SmtpSettings {
            host: "smtp.mail.ru".into(),
            tls: TlsMode::None,
            ..SmtpSettings::default()
        };
        assert!(matches!(SmtpOutbox::new(&s), Err(SendError::Config(_))));
    }
}
