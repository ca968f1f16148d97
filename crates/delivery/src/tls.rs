//! The TLS settings of a push: the public roots (plus an endpoint's own
//! `ca_pem`), its client certificate for mutual TLS, or no verification
//! at all where the integration turned it off (`tls_verify: false`).

use std::sync::Arc;

use dutyhook_domain::endpoint_auth::{AuthType, EndpointAuth};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// The client settings for an endpoint; an error says what in its
/// certificates or key is wrong.
pub(crate) fn client_config(verify: bool, auth: &EndpointAuth) -> Result<ClientConfig, String> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("the TLS settings do not load: {e}"))?;
    let builder = if verify {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if !auth.ca_pem.is_empty() {
            roots.roots.extend(authorities(&auth.ca_pem)?.roots);
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
    };
    if auth.kind != AuthType::Mtls {
        return Ok(builder.with_no_client_auth());
    }
    let (chain, key) = identity(auth)?;
    builder
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("with client_key_pem is not a certificate and its private key: {e}"))
}

/// The certificates of a `ca_pem`.
pub(crate) fn authorities(pem: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for (n, der) in CertificateDer::pem_slice_iter(pem.as_bytes()).enumerate() {
        let der = der.map_err(|e| format!("is not PEM certificates: {e}"))?;
        roots
            .add(der)
            .map_err(|e| format!("certificate {} does not parse: {e}", n + 1))?;
    }
    if roots.is_empty() {
        return Err("holds no certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(roots)
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The client certificate chain and its key, of a mutual TLS endpoint.
fn identity(auth: &EndpointAuth) -> Result<Identity, String> {
    let chain = CertificateDer::pem_slice_iter(auth.client_cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("is not a PEM certificate: {e}"))?;
    if chain.is_empty() {
        return Err("holds no certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    let key = PrivateKeyDer::from_pem_slice(auth.client_key_pem.as_bytes())
        .map_err(|e| format!("with client_key_pem: the private key does not load: {e}"))?;
    Ok((chain, key))
}

/// Accepts any certificate, still checking that the server holds its key.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
