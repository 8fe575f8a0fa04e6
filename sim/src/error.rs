//! Errors of the simulator's library API (not the API errors it serves).

use std::net::SocketAddr;

/// What went wrong while configuring or starting the simulator, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listen address is not loopback; the simulator only ever serves 127.0.0.1/::1.
    #[error("refusing to listen on {0}: the simulator only binds loopback addresses (use 127.0.0.1:PORT)")]
    NotLoopback(SocketAddr),
    /// Binding the listen address failed.
    #[error("cannot bind {addr}: {source} (pick another port, or port 0 for a free one)")]
    Bind {
        /// Address that could not be bound.
        addr: SocketAddr,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// A scenario string could not be understood.
    #[error("unknown or malformed scenario {0:?}: {1} (run `o365-sim --help` for the list)")]
    Scenario(String, String),
    /// The certificate for client assertions could not be read.
    #[error(
        "cannot use the configured certificate: {0} (give a PEM X.509 certificate with an RSA key)"
    )]
    Certificate(String),
    /// Another setting is invalid.
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    /// Reading a file (fixtures, certificate) failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// File that could not be read.
        path: String,
        /// Underlying I/O error.
        source: std::io::Error,
    },
}

impl From<crate::content_type::UnknownContentType> for SimError {
    fn from(e: crate::content_type::UnknownContentType) -> Self {
        SimError::Config(e.to_string())
    }
}
