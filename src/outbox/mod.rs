//! The outbox: where replies and forwards go out. SMTP (lettre over our own
//! TCP_NODELAY socket and rustls) or a folder of `.eml` files (the embedded default).
//!
//! The outbox only transports: the caller hands it a complete RFC 5322 message and
//! the envelope. An error says whose fault it is ([`SendError::blame`]): the mail's
//! (5xx, an impossible address: never retried), the server's (4xx, the network:
//! retried) or the setup's (TLS, login: retried once a person mended it).

mod maildir;
pub mod seven_bit;
mod smtp;

use std::path::PathBuf;
use std::time::Duration;

pub use crate::mailbox::TlsMode;
pub use maildir::MaildirOutbox;
pub use smtp::SmtpOutbox;

/// SMTP submission settings (plain data; the config module fills it).
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// Extra trust root(s), PEM, on top of the system's.
    pub ca_file: Option<PathBuf>,
    /// AUTH (PLAIN, else LOGIN) when set; no AUTH when None.
    pub username: Option<String>,
    pub password: Option<String>,
    /// EHLO name; None: this machine's host name.
    pub hello_name: Option<String>,
    /// Limit for connecting and for each SMTP exchange.
    pub timeout: Duration,
    /// A connection idle for longer than this is checked with NOOP before reuse.
    pub idle_check_after: Duration,
    /// Set TCP_NODELAY on the socket (default true). Without it lettre's final
    /// `.` line waits on Nagle + delayed ACK: ~40 ms per message. Off only to measure.
    pub nodelay: bool,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            host: String::new(),
            port: 465,
            tls: TlsMode::Implicit,
            ca_file: None,
            username: None,
            password: None,
            hello_name: None,
            timeout: Duration::from_secs(60),
            idle_check_after: Duration::from_secs(30),
            nodelay: true,
        }
    }
}

/// A folder that receives each outgoing message as a `.eml` file.
#[derive(Debug, Clone)]
pub struct MaildirOutboxSettings {
    pub path: PathBuf,
}

/// Where mail goes out.
#[derive(Debug, Clone)]
pub enum OutboxSettings {
    Smtp(SmtpSettings),
    Maildir(MaildirOutboxSettings),
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The settings cannot work (e.g. `tls = none` for a remote host).
    #[error("outbox settings: {0}")]
    Config(String),
    /// An envelope address the server could never accept.
    #[error("invalid address {address:?}: {reason}")]
    InvalidAddress { address: String, reason: String },
    /// The mail cannot go through this server as it is (a non-ASCII local part
    /// and no SMTPUTF8; anything the SMTP client refuses before sending): that
    /// mail's fault, never retried.
    #[error("cannot be sent through {host}: {reason}")]
    Unsendable { host: String, reason: String },
    /// TLS failed: untrusted or wrong certificate, no STARTTLS, handshake error.
    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: String },
    /// The server refused the login (`transient` for a 4xx reply).
    #[error("login as {username} at {host} refused: {reason}")]
    Auth {
        host: String,
        username: String,
        reason: String,
        transient: bool,
    },
    /// Network trouble: refused, reset, closed, timed out.
    #[error("connection to {host} failed: {reason}")]
    Connection { host: String, reason: String },
    /// The server answered with an error reply (4xx: try later; 5xx: never).
    #[error("{host} refused: {code} {message}")]
    Rejected {
        host: String,
        code: u16,
        message: String,
    },
    /// Writing the `.eml` file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Whose fault a failed send is: what the outbox loop does with the mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The mail itself can never go through this server as it is (a 5xx reply, an
    /// impossible address): recorded as failed, never tried again.
    Mail,
    /// The server or the network, which may work again by itself (a 4xx reply, a
    /// refused or broken connection, local I/O): the mail waits and is tried again.
    Server,
    /// The setup, which needs a person (TLS, a refused login, the settings): the
    /// mail waits and is tried again, so it goes once the setup is mended.
    Setup,
}

impl SendError {
    /// Whose fault this is; the one answer the daemon and the tests go by.
    pub fn blame(&self) -> Blame {
        match self {
            SendError::InvalidAddress { .. } | SendError::Unsendable { .. } => Blame::Mail,
            SendError::Rejected { code, .. } if *code >= 500 => Blame::Mail,
            SendError::Rejected { .. } | SendError::Connection { .. } | SendError::Io { .. } => {
                Blame::Server
            }
            SendError::Auth {
                transient: true, ..
            } => Blame::Server,
            SendError::Auth { .. } | SendError::Tls { .. } | SendError::Config(_) => Blame::Setup,
        }
    }
}

/// An open outbox.
#[derive(Debug)]
pub enum Outbox {
    Smtp(Box<SmtpOutbox>),
    Maildir(MaildirOutbox),
}

impl Outbox {
    /// Builds the outbox without any I/O beyond reading `ca_file` / creating the
    /// folder; the SMTP connection is opened by the first `send`.
    pub fn new(settings: &OutboxSettings) -> Result<Self, SendError> {
        match settings {
            OutboxSettings::Smtp(s) => Ok(Outbox::Smtp(Box::new(SmtpOutbox::new(s)?))),
            OutboxSettings::Maildir(s) => Ok(Outbox::Maildir(MaildirOutbox::new(s)?)),
        }
    }

    /// Like [`new`](Self::new), and opens (and logs in to) the SMTP connection now,
    /// so a wrong setting shows at start.
    pub async fn connect(settings: &OutboxSettings) -> Result<Self, SendError> {
        let mut outbox = Self::new(settings)?;
        if let Outbox::Smtp(s) = &mut outbox {
            s.ensure_connected().await?;
        }
        Ok(outbox)
    }

    /// Sends `raw` (a complete RFC 5322 message) from `envelope_from` to every
    /// address in `to`. The connection is kept for the next message; after an error
    /// it is dropped and the next `send` opens a new one.
    pub async fn send(
        &mut self,
        envelope_from: &str,
        to: &[String],
        raw: &[u8],
    ) -> Result<(), SendError> {
        match self {
            Outbox::Smtp(s) => s.send(envelope_from, to, raw).await,
            Outbox::Maildir(m) => m.send(envelope_from, to, raw).map(|_| ()),
        }
    }

    /// QUIT politely (SMTP). Dropping the outbox is also fine.
    pub async fn close(self) {
        if let Outbox::Smtp(s) = self {
            s.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blame_tells_the_mail_from_the_server_and_the_setup() {
        let r = |code| SendError::Rejected {
            host: "h".into(),
            code,
            message: "m".into(),
        };
        assert_eq!(r(421).blame(), Blame::Server);
        assert_eq!(r(452).blame(), Blame::Server);
        assert_eq!(r(550).blame(), Blame::Mail);
        assert_eq!(r(554).blame(), Blame::Mail);
        let c = SendError::Connection {
            host: "h".into(),
            reason: "refused".into(),
        };
        assert_eq!(c.blame(), Blame::Server);
        let t = SendError::Tls {
            host: "h".into(),
            reason: "r".into(),
        };
        assert_eq!(t.blame(), Blame::Setup);
        let auth = |transient| SendError::Auth {
            host: "h".into(),
            username: "u".into(),
            reason: "r".into(),
            transient,
        };
        assert_eq!(auth(true).blame(), Blame::Server);
        assert_eq!(auth(false).blame(), Blame::Setup);
        let unsendable = SendError::Unsendable {
            host: "h".into(),
            reason: "no SMTPUTF8".into(),
        };
        assert_eq!(unsendable.blame(), Blame::Mail);
    }
}
