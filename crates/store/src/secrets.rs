//! Secrets at rest: signing secrets and secret header values are stored
//! sealed (XChaCha20-Poly1305) with a key kept outside the database, so a
//! copy of the database alone gives none of them away.
//!
//! A sealed value reads `dhenc:v1:KID:BASE64`, where KID names the key (the
//! first 8 hex digits of its SHA-256) and BASE64 holds a random 24-byte
//! nonce and the ciphertext. The keyring's first key seals; the others only
//! open what they sealed before a rotation (at start every value is sealed
//! again with the first key, so an old key can then be dropped).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use dutyhook_domain::endpoint_auth::SECRET_FIELDS;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{Result, StoreError};

const PREFIX: &str = "dhenc:v1:";

#[derive(Clone)]
pub struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl Key {
    fn from_bytes(bytes: &[u8]) -> std::result::Result<Key, String> {
        if bytes.len() != 32 {
            return Err(format!("a key is 32 bytes, this one {}", bytes.len()));
        }
        Ok(Key {
            id: hex8(&Sha256::digest(bytes)),
            cipher: XChaCha20Poly1305::new(bytes.into()),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

fn hex8(digest: &[u8]) -> String {
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// The keys a process holds: the first seals, all open.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| &k.id))
            .finish()
    }
}

/// A fresh key, as a key file or `DUTYHOOK_SECRET_KEY` holds it (base64).
pub fn generate_key() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    B64.encode(b)
}

impl Keyring {
    /// Keys in base64, one per line or separated by commas; `#` starts a
    /// comment. The first is the current key.
    pub fn parse(text: &str) -> std::result::Result<Keyring, String> {
        let mut keys = vec![];
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            for word in line.split([',', ' ', '\t']).filter(|w| !w.is_empty()) {
                let bytes = B64
                    .decode(word)
                    .map_err(|e| format!("key {}: not base64 ({e})", keys.len() + 1))?;
                keys.push(
                    Key::from_bytes(&bytes).map_err(|e| format!("key {}: {e}", keys.len() + 1))?,
                );
            }
        }
        if keys.is_empty() {
            return Err("no key in it".into());
        }
        Ok(Keyring { keys })
    }

    /// Reads a key file; refuses one that others than its owner may read.
    pub fn from_file(path: &std::path::Path) -> std::result::Result<Keyring, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the secret key file {}: {e}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(format!(
                    "the secret key file {} may be read by others (mode {:o}): chmod 600 it",
                    path.display(),
                    mode & 0o777
                ));
            }
        }
        Keyring::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The key file at `path`, created with one fresh key (mode 0600) when
    /// there is none.
    pub fn from_file_or_new(path: &std::path::Path) -> std::result::Result<Keyring, String> {
        if !path.exists() {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options.open(path).map_err(|e| {
                format!("cannot create the secret key file {}: {e}", path.display())
            })?;
            writeln!(
                f,
                "# dutyhook's key for the secrets in its database. Keep it, and back it up\n\
                 # apart from the database: without it they cannot be read.\n{}",
                generate_key()
            )
            .map_err(|e| format!("{}: {e}", path.display()))?;
            tracing::info!(path = %path.display(), "created a secret key file");
        }
        Keyring::from_file(path)
    }

    pub fn current(&self) -> &Key {
        &self.keys[0]
    }

    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// Seals `plain` with the current key; the empty text stays empty.
    pub fn seal(&self, plain: &str) -> String {
        if plain.is_empty() {
            return String::new();
        }
        let key = self.current();
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = key
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
            .expect("sealing cannot fail");
        let mut body = nonce.to_vec();
        body.extend_from_slice(&sealed);
        format!("{PREFIX}{}:{}", key.id, B64.encode(body))
    }

    /// Opens a sealed value; text that was never sealed (a database written
    /// before sealing) comes back as it is.
    pub fn open(&self, stored: &str) -> Result<String> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let (id, body) = rest
            .split_once(':')
            .ok_or_else(|| StoreError::Corrupt("a sealed secret without its key id".into()))?;
        let key = self.keys.iter().find(|k| k.id == id).ok_or_else(|| {
            StoreError::WrongKey(format!(
                "a secret is sealed with key {id}, which this process does not hold (it holds {:?})",
                self.ids()
            ))
        })?;
        let body = B64
            .decode(body)
            .map_err(|e| StoreError::Corrupt(format!("a sealed secret: {e}")))?;
        if body.len() < 24 {
            return Err(StoreError::Corrupt("a sealed secret is cut short".into()));
        }
        let plain = key
            .cipher
            .decrypt(XNonce::from_slice(&body[..24]), &body[24..])
            .map_err(|_| {
                StoreError::Corrupt(format!("a secret sealed with key {id} does not open"))
            })?;
        String::from_utf8(plain).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// Whether `stored` is sealed with the current key already.
    pub fn is_current(&self, stored: &str) -> bool {
        stored.is_empty()
            || stored
                .strip_prefix(PREFIX)
                .and_then(|r| r.split_once(':'))
                .is_some_and(|(id, _)| id == self.current().id)
    }

    /// The key id a stored value names, if sealed.
    pub fn sealed_with(stored: &str) -> Option<&str> {
        stored
            .strip_prefix(PREFIX)
            .and_then(|r| r.split_once(':'))
            .map(|(id, _)| id)
    }
}

/// Walks an integration's settings: every object marked `"secret": true`
/// has its `"value"` passed through `f` (headers of webhooks and actions),
/// and so have the secret fields of an `"auth"` object.
pub fn map_secret_values(
    config: &mut serde_json::Value,
    f: &mut dyn FnMut(&str) -> Result<String>,
) -> Result<()> {
    match config {
        serde_json::Value::Object(map) => {
            if map.get("secret") == Some(&serde_json::Value::Bool(true)) {
                if let Some(serde_json::Value::String(v)) = map.get_mut("value") {
                    *v = f(v)?;
                }
            }
            if let Some(serde_json::Value::Object(auth)) = map.get_mut("auth") {
                for field in SECRET_FIELDS {
                    if let Some(serde_json::Value::String(v)) = auth.get_mut(field) {
                        *v = f(v)?;
                    }
                }
            }
            for v in map.values_mut() {
                map_secret_values(v, f)?;
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                map_secret_values(v, f)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sealed_values_open_with_their_key_only() {
        let ring = Keyring::parse(&generate_key()).unwrap();
        let sealed = ring.seal("whsec_abc");
        assert!(
            sealed.starts_with("dhenc:v1:") && !sealed.contains("abc"),
            "{sealed}"
        );
        assert_ne!(ring.seal("whsec_abc"), sealed, "a fresh nonce each time");
        assert_eq!(ring.open(&sealed).unwrap(), "whsec_abc");
        assert!(ring.is_current(&sealed));
        assert_eq!(ring.open("plain old").unwrap(), "plain old");
        assert_eq!(ring.seal(""), "");

        let other = Keyring::parse(&generate_key()).unwrap();
        let err = other.open(&sealed).unwrap_err().to_string();
        assert!(err.contains(ring.current().id()), "{err}");
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(ring.open(&tampered).is_err());
    }

    #[test]
    fn a_rotated_ring_opens_old_values_and_seals_with_the_new_key() {
        let (old, new) = (generate_key(), generate_key());
        let before = Keyring::parse(&old).unwrap();
        let sealed = before.seal("s3cret");
        let after = Keyring::parse(&format!("# rotated\n{new}\n{old}\n")).unwrap();
        assert_eq!(after.open(&sealed).unwrap(), "s3cret");
        assert!(!after.is_current(&sealed));
        assert!(after.is_current(&after.seal("s3cret")));
        assert_eq!(
            Keyring::parse(&format!("{new}, {old}"))
                .unwrap()
                .ids()
                .len(),
            2
        );
        assert!(Keyring::parse("# nothing").is_err());
        assert!(Keyring::parse("c2hvcnQ=").unwrap_err().contains("32 bytes"));
    }

    #[test]
    fn secret_header_values_are_found_wherever_they_are() {
        let mut config = json!({"headers": [
            {"key": "Authorization", "value": "Bearer x", "secret": true},
            {"key": "X-Env", "value": "prod"}
        ], "nested": {"auth": {"value": "y", "secret": true}},
           "auth": {"type": "basic", "username": "ops", "password": "pw", "ca_pem": "ca"}});
        map_secret_values(&mut config, &mut |v| Ok(v.to_uppercase())).unwrap();
        assert_eq!(config["headers"][0]["value"], "BEARER X");
        assert_eq!(config["headers"][1]["value"], "prod");
        assert_eq!(config["nested"]["auth"]["value"], "Y");
        assert_eq!(config["auth"]["password"], "PW");
        assert_eq!(config["auth"]["username"], "ops");
        assert_eq!(config["auth"]["ca_pem"], "ca");
    }

    #[test]
    fn a_new_key_file_is_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let first = Keyring::from_file_or_new(&path).unwrap();
        let again = Keyring::from_file_or_new(&path).unwrap();
        assert_eq!(first.ids(), again.ids());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(Keyring::from_file(&path).unwrap_err().contains("chmod 600"));
        }
    }
}
