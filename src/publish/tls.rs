//! TLS to the broker: the system's roots or a CA file, and an optional client certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use super::config::TlsConfig;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("mqtt.tls.{field} '{}': {message}", .path.display())]
    File {
        /// The setting.
        field: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The system has no usable root certificates.
    #[error(
        "no system root certificates found ({0}): install the ca-certificates package or set mqtt.tls.ca_file"
    )]
    NoRoots(String),
    /// rustls refused the settings (e.g. a key that does not match the certificate).
    #[error("mqtt.tls: {0}")]
    Config(String),
}

/// The rustls client settings for `tls`; files resolve against `base`.
pub fn client_config(tls: &TlsConfig, base: &Path) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    match &tls.ca_file {
        Some(f) => {
            let path = base.join(f);
            for cert in certs("ca_file", &path)? {
                roots.add(cert).map_err(|e| TlsError::File {
                    field: "ca_file",
                    path: path.clone(),
                    message: format!("not a usable CA certificate: {e}"),
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "none installed".to_string(), ToString::to_string);
                return Err(TlsError::NoRoots(why));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots);
    let config = match (&tls.cert_file, &tls.key_file) {
        (Some(c), Some(k)) => {
            let chain = certs("cert_file", &base.join(c))?;
            let key_path = base.join(k);
            let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| TlsError::File {
                field: "key_file",
                path: key_path,
                message: format!("no private key in PEM form: {e}"),
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsError::Config(format!("client certificate and key: {e}")))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn certs(field: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let fail = |message: String| TlsError::File {
        field,
        path: path.to_path_buf(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no certificate in PEM form".into()));
    }
    Ok(certs)
}
