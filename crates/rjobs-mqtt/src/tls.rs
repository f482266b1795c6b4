//! The TLS client for `mqtts://`: rustls with the *ring* provider (no C toolchain for
//! aws-lc, no OpenSSL), TLS 1.2 and 1.3, the broker's certificate verified against
//! `mqtt.ca_file` when set (a private CA, as a self-hosted Mosquitto usually has) or else the
//! operating system's trusted roots (rustls-native-certs, which rumqttc's rustls support already
//! depends on). The host name in `mqtt.url` is the name verified.
//!
//! Everything that can be wrong with the files is found here, at startup, as a
//! [`MqttError::Settings`] naming `mqtt.ca_file`; a broker whose certificate does not verify is
//! a connection error at run time (the client keeps reconnecting with backoff, `/health` shows
//! the error, publishes fail at once naming it).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::MqttError;

/// Where the trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// The CA certificates in this PEM file, and only those.
    CaFile(String),
    /// The operating system's trust store.
    Native,
}

impl Roots {
    /// The roots the settings select.
    pub fn from_setting(ca_file: Option<&str>) -> Roots {
        match ca_file.map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => Roots::CaFile(f.to_string()),
            None => Roots::Native,
        }
    }
}

fn bad(m: String) -> MqttError {
    MqttError::Settings(m)
}

fn load(roots: &Roots) -> Result<RootCertStore, MqttError> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::CaFile(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(format!("mqtt.ca_file: cannot read {path:?}: {e}")))?
                .collect::<Result<_, _>>()
                .map_err(|e| bad(format!("mqtt.ca_file: {path:?} is not valid PEM: {e}")))?;
            if certs.is_empty() {
                return Err(bad(format!(
                    "mqtt.ca_file: {path:?} has no CERTIFICATE block"
                )));
            }
            for c in certs {
                store
                    .add(c)
                    .map_err(|e| bad(format!("mqtt.ca_file: {path:?}: {e}")))?;
            }
        }
        Roots::Native => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(bad(format!(
                    "mqtt.ca_file: not set and the system has no usable root certificates ({} errors loading them); set mqtt.ca_file to the broker's CA",
                    found.errors.len()
                )));
            }
        }
    }
    Ok(store)
}

/// The rustls client configuration for `roots`.
pub fn client_config(roots: &Roots) -> Result<Arc<ClientConfig>, MqttError> {
    let store = load(roots)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("mqtt TLS: {e}")))?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
