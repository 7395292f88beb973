//! The network both mail sides share: TLS client setup and the protection modes.

pub mod tls;
