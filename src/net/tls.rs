//! TLS for both sides (IMAP in `mailbox`, SMTP in `outbox`): how a connection is
//! protected ([`TlsMode`]), one rustls client configuration
//! that trusts the system's roots plus an optional extra CA file, and one place that
//! turns a failed handshake into an error naming the host and the reason.
//!
//! There is no fallback to plain text anywhere: a handshake failure is an error.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// How a connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// TLS from the first byte (IMAP 993, SMTP 465).
    #[default]
    Implicit,
    /// Plain connection upgraded with STARTTLS before login (IMAP 143, SMTP 587);
    /// a server that refuses STARTTLS is an error, never a plain-text session.
    Starttls,
    /// No TLS at all: allowed for loopback hosts only (`localhost`, 127.0.0.0/8, ::1).
    None,
}

/// A TLS failure: which host, and why (in words a person can act on).
#[derive(Debug, Clone, thiserror::Error)]
#[error("TLS with {host} failed: {reason}")]
pub struct TlsError {
    pub host: String,
    pub reason: String,
}

/// Builds the client configuration: system roots (rustls-native-certs; the bundled
/// webpki roots only when the system has none) plus every certificate in `ca_file`.
pub fn client_config(host: &str, ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let err = |reason: String| TlsError {
        host: host.to_string(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| err(format!("cannot read ca_file {}: {e}", path.display())))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err(format!("cannot parse ca_file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(err(format!(
                "ca_file {} holds no PEM certificate",
                path.display()
            )));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                err(format!(
                    "ca_file {} has an unusable certificate: {e}",
                    path.display()
                ))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Runs the TLS handshake over `tcp`, verifying the certificate for `host`.
pub async fn handshake(
    config: Arc<ClientConfig>,
    host: &str,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, TlsError> {
    let name = ServerName::try_from(host.to_string()).map_err(|e| TlsError {
        host: host.to_string(),
        reason: format!("not a valid TLS server name: {e}"),
    })?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| TlsError {
            host: host.to_string(),
            reason: describe(&e),
        })
}

/// Words for a failed handshake: the certificate problem if there is one.
pub fn describe(e: &std::io::Error) -> String {
    use rustls::CertificateError as C;
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return format!("handshake failed: {e}");
    };
    match tls {
        rustls::Error::InvalidCertificate(cert) => {
            let what = match cert {
                C::UnknownIssuer => "the certificate is signed by an unknown authority \
                                     (not in the system's roots nor in ca_file)"
                    .to_string(),
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    "the certificate is not valid for this host name".to_string()
                }
                C::Expired | C::ExpiredContext { .. } => "the certificate has expired".into(),
                C::NotValidYet | C::NotValidYetContext { .. } => {
                    "the certificate is not valid yet".into()
                }
                C::Revoked => "the certificate is revoked".into(),
                other => format!("invalid certificate: {other:?}"),
            };
            format!("{what} ({tls})")
        }
        other => format!("handshake failed: {other}"),
    }
}

/// Whether `host` names this machine (`localhost` or a loopback IP): the only hosts
/// where `tls = "none"` is allowed.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") || h.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    h.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "127.0.0.1",
            "127.3.4.5",
            "::1",
            "[::1]",
            "LOCALHOST",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "imap.mail.ru",
            "10.0.0.1",
            "localhost.evil.com",
            "",
            "0.0.0.0",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn missing_ca_file_is_a_clear_error() {
        let e =
            client_config("imap.example.org", Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert_eq!(e.host, "imap.example.org");
        assert!(e.reason.contains("/nonexistent/ca.pem"), "{e}");
    }
}
