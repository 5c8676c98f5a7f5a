//! The site's public-key infrastructure: a site CA, a dispatcher certificate and one client
//! certificate per truck, for mutual TLS.
//!
//! Keys are Ed25519 generated from a seeded generator, so the same seed gives the same
//! certificates byte for byte (Ed25519 signatures are deterministic, validity and serial
//! numbers are fixed). That keeps simulated runs reproducible; a real deployment would load
//! keys generated offline instead of [`SitePki::generate`].

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, SerialNumber,
    PKCS_ED25519,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use site::seed::Stream;
use std::sync::Arc;

/// DNS name the dispatcher's certificate carries and trucks verify.
pub const DISPATCHER_NAME: &str = "dispatcher.minesim";
/// ALPN protocol id of the truck↔dispatcher protocol.
pub const ALPN: &[u8] = b"minesim/1";

/// Why certificates or TLS configurations could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("QUIC crypto configuration: {0}")]
    Quic(String),
}

/// A certificate with its private key (PKCS#8 DER).
#[derive(Clone, Debug)]
pub struct Identity {
    pub cert: CertificateDer<'static>,
    pub key_pkcs8: Vec<u8>,
}

impl Identity {
    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.clone()))
    }
}

/// CA, dispatcher identity and truck identities of one site.
#[derive(Clone, Debug)]
pub struct SitePki {
    pub ca: CertificateDer<'static>,
    pub dispatcher: Identity,
    pub trucks: Vec<Identity>,
}

/// An Ed25519 key pair from 32 seeded bytes (PKCS#8 v1 document around the seed).
fn ed25519_key(rng: &mut ChaCha8Rng) -> Result<KeyPair, rcgen::Error> {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&seed);
    KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(der), &PKCS_ED25519)
}

fn params(cn: &str, sans: Vec<String>, serial: u64) -> Result<CertificateParams, rcgen::Error> {
    let mut p = CertificateParams::new(sans)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.serial_number = Some(SerialNumber::from(serial.to_be_bytes().to_vec()));
    Ok(p)
}

/// The DNS name in truck `i`'s certificate.
pub fn truck_name(i: u32) -> String {
    format!("truck-{i}.minesim")
}

impl SitePki {
    /// A CA named `ca_name`, the dispatcher and `trucks` trucks, all from `seed`.
    pub fn generate(seed: u64, ca_name: &str, trucks: u32) -> Result<SitePki, PkiError> {
        let mut rng = site::seed::rng(seed, Stream::Pki, 0);
        let ca_key = ed25519_key(&mut rng)?;
        let mut ca_params = params(ca_name, Vec::new(), 1)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issue =
            |name: String, serial: u64, rng: &mut ChaCha8Rng| -> Result<Identity, PkiError> {
                let key = ed25519_key(rng)?;
                let cert = params(&name, vec![name.clone()], serial)?
                    .signed_by(&key, &ca_cert, &ca_key)?;
                Ok(Identity {
                    cert: cert.der().clone(),
                    key_pkcs8: key.serialize_der(),
                })
            };
        let dispatcher = issue(DISPATCHER_NAME.to_string(), 2, &mut rng)?;
        let trucks = (0..trucks)
            .map(|i| issue(truck_name(i), 100 + u64::from(i), &mut rng))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SitePki {
            ca: ca_cert.der().clone(),
            dispatcher,
            trucks,
        })
    }

    fn roots(&self) -> Result<Arc<rustls::RootCertStore>, PkiError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.clone())?;
        Ok(Arc::new(roots))
    }

    /// The dispatcher's TLS configuration: its certificate, client certificates required and
    /// verified against the site CA, TLS 1.3 only, no session tickets (so no resumption and no
    /// 0-RTT: nothing replayable reaches the application).
    pub fn server_tls(&self) -> Result<rustls::ServerConfig, PkiError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            self.roots()?,
            provider.clone(),
        )
        .build()?;
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![self.dispatcher.cert.clone()], self.dispatcher.key())?;
        cfg.alpn_protocols = vec![ALPN.to_vec()];
        cfg.send_tls13_tickets = 0;
        cfg.max_early_data_size = 0;
        Ok(cfg)
    }

    /// Truck `i`'s TLS configuration: trusts only the site CA, presents its own certificate,
    /// never resumes (no 0-RTT).
    pub fn client_tls(&self, i: usize) -> Result<rustls::ClientConfig, PkiError> {
        let id = self
            .trucks
            .get(i)
            .ok_or_else(|| PkiError::Quic(format!("no certificate for truck {i}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(self.roots()?)
            .with_client_auth_cert(vec![id.cert.clone()], id.key())?;
        cfg.alpn_protocols = vec![ALPN.to_vec()];
        cfg.enable_early_data = false;
        cfg.resumption = rustls::client::Resumption::disabled();
        Ok(cfg)
    }

    /// quinn-proto server crypto.
    pub fn quic_server(
        &self,
    ) -> Result<Arc<quinn_proto::crypto::rustls::QuicServerConfig>, PkiError> {
        let c = quinn_proto::crypto::rustls::QuicServerConfig::try_from(self.server_tls()?)
            .map_err(|e| PkiError::Quic(e.to_string()))?;
        Ok(Arc::new(c))
    }

    /// quinn-proto client crypto of truck `i`.
    pub fn quic_client(
        &self,
        i: usize,
    ) -> Result<Arc<quinn_proto::crypto::rustls::QuicClientConfig>, PkiError> {
        let c = quinn_proto::crypto::rustls::QuicClientConfig::try_from(self.client_tls(i)?)
            .map_err(|e| PkiError::Quic(e.to_string()))?;
        Ok(Arc::new(c))
    }

    /// Which truck a peer certificate belongs to.
    pub fn truck_of(&self, cert: &[u8]) -> Option<u32> {
        self.trucks
            .iter()
            .position(|t| t.cert.as_ref() == cert)
            .map(|i| i as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_certificates() {
        let a = SitePki::generate(7, "site CA", 3).unwrap();
        let b = SitePki::generate(7, "site CA", 3).unwrap();
        let c = SitePki::generate(8, "site CA", 3).unwrap();
        assert_eq!(a.ca, b.ca);
        assert_eq!(a.trucks[2].cert, b.trucks[2].cert);
        assert_ne!(a.ca, c.ca);
        assert_eq!(a.truck_of(a.trucks[1].cert.as_ref()), Some(1));
        assert_eq!(a.truck_of(c.trucks[1].cert.as_ref()), None);
        // nothing replayable: no tickets, no early data, no resumption
        let s = a.server_tls().unwrap();
        assert_eq!(s.send_tls13_tickets, 0);
        assert_eq!(s.max_early_data_size, 0);
        let c = a.client_tls(0).unwrap();
        assert!(!c.enable_early_data);
    }
}
