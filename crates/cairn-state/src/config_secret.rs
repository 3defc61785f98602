//! Secrets in a stack's environment file (`config: { key: { secure: … } }`),
//! kept as Pulumi keeps them: only ciphertext in the file, made with the
//! stack's key (`$STACK_PASSPHRASE` stretched with argon2id, or the stack's
//! key file) and bound to the stack and the config key, so a value copied
//! to another key or stack does not decrypt.
//!
//! Text form: `v1:<scheme>:<salt>:<nonce>:<ciphertext>` (base64), where the
//! scheme is `passphrase` (argon2id with its default costs and this salt) or
//! `keyfile` (no salt). Values sealed together reuse one salt, so opening a
//! file derives the passphrase key once.

use crate::dto::SealedDto;
use crate::error::StateError;
use crate::keys::{self, ArgonParams, DataKey, Sealer, SecretKeys};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use zeroize::Zeroizing;

const VERSION: &str = "v1";
const PASSPHRASE: &str = "passphrase";
const KEYFILE: &str = "keyfile";

/// Why a config secret could not be opened.
#[derive(Debug)]
pub enum ConfigSecretError {
    /// The value does not authenticate with this key: another passphrase or key file.
    WrongKey,
    /// Sealed with one kind of key (`passphrase`/`keyfile`), opened with the other.
    OtherScheme { sealed: String, given: String },
    /// Not a `v1:…` value this build can read.
    Malformed(String),
    /// Reading the key (a missing or unsafe key file, no randomness).
    Key(StateError),
}

impl std::fmt::Display for ConfigSecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigSecretError::WrongKey => f.write_str(
                "it was encrypted with another key (another $STACK_PASSPHRASE or key file)",
            ),
            ConfigSecretError::OtherScheme { sealed, given } => write!(
                f,
                "it was encrypted with a {sealed} key, but this run has a {given} key"
            ),
            ConfigSecretError::Malformed(why) => write!(f, "it is not a cairn secret: {why}"),
            ConfigSecretError::Key(e) => write!(f, "{e}"),
        }
    }
}

/// Seals and opens one stack's config secrets.
pub struct ConfigSecrets {
    keys: SecretKeys,
    stack: String,
    /// Sealers already derived, by (scheme, salt).
    sealers: Vec<((String, String), Sealer)>,
}

impl ConfigSecrets {
    pub fn new(keys: SecretKeys, stack: &str) -> ConfigSecrets {
        ConfigSecrets {
            keys,
            stack: stack.to_string(),
            sealers: Vec::new(),
        }
    }

    fn scheme(&self) -> Result<&'static str, ConfigSecretError> {
        match &self.keys {
            SecretKeys::Passphrase(_) => Ok(PASSPHRASE),
            SecretKeys::KeyFile(_) => Ok(KEYFILE),
            _ => Err(ConfigSecretError::OtherScheme {
                sealed: "passphrase or keyfile".into(),
                given: "provider".into(),
            }),
        }
    }

    fn sealer(&mut self, salt: &str, create: bool) -> Result<&Sealer, ConfigSecretError> {
        let scheme = self.scheme()?;
        let id = (scheme.to_string(), salt.to_string());
        if let Some(i) = self.sealers.iter().position(|(k, _)| *k == id) {
            return Ok(&self.sealers[i].1);
        }
        let key: DataKey = match &self.keys {
            SecretKeys::Passphrase(p) => {
                let params = ArgonParams {
                    salt: salt.to_string(),
                    m_kib: argon2::Params::DEFAULT_M_COST,
                    t: argon2::Params::DEFAULT_T_COST,
                    p: argon2::Params::DEFAULT_P_COST,
                };
                keys::derive_passphrase(p, &params).map_err(ConfigSecretError::Key)?
            }
            SecretKeys::KeyFile(path) if create => {
                keys::read_or_create_key_file(path).map_err(ConfigSecretError::Key)?
            }
            SecretKeys::KeyFile(path) => {
                keys::read_key_file(path).map_err(ConfigSecretError::Key)?
            }
            _ => return Err(ConfigSecretError::Malformed("no key".into())),
        };
        self.sealers.push((id, Sealer::new(&key, &self.stack)));
        Ok(&self.sealers.last().expect("just pushed").1)
    }

    /// Encrypts `plaintext` for config key `key`. `reuse` is another value of
    /// the same file whose salt is reused when it was sealed the same way.
    pub fn seal(
        &mut self,
        key: &str,
        plaintext: &str,
        reuse: Option<&str>,
    ) -> Result<String, ConfigSecretError> {
        let scheme = self.scheme()?;
        let salt = match scheme {
            KEYFILE => String::new(),
            _ => match reuse.and_then(|r| parse(r).ok()) {
                Some(p) if p.scheme == scheme && !p.salt.is_empty() => p.salt.to_string(),
                _ => {
                    let mut salt = [0u8; 16];
                    keys::random_bytes(&mut salt).map_err(ConfigSecretError::Key)?;
                    B64.encode(salt)
                }
            },
        };
        let sealed = self
            .sealer(&salt, true)?
            .seal(&scope(key), plaintext.as_bytes())
            .map_err(ConfigSecretError::Key)?;
        Ok(format!(
            "{VERSION}:{scheme}:{salt}:{}:{}",
            sealed.nonce, sealed.ct
        ))
    }

    /// Decrypts a value `seal` made for config key `key`.
    pub fn open(&mut self, key: &str, text: &str) -> Result<Zeroizing<String>, ConfigSecretError> {
        let parts = parse(text)?;
        let given = self.scheme()?;
        if parts.scheme != given {
            return Err(ConfigSecretError::OtherScheme {
                sealed: parts.scheme.to_string(),
                given: given.to_string(),
            });
        }
        let sealed = SealedDto {
            alg: keys::ALG.to_string(),
            nonce: parts.nonce.to_string(),
            ct: parts.ct.to_string(),
        };
        let salt = parts.salt.to_string();
        let plain = match self
            .sealer(&salt, false)?
            .open(&scope(key), &sealed, &|| format!("config `{key}`"))
        {
            Ok(p) => p,
            Err(StateError::Decrypt { .. }) => return Err(ConfigSecretError::WrongKey),
            Err(StateError::Corrupt { detail, .. }) => {
                return Err(ConfigSecretError::Malformed(detail))
            }
            Err(e) => return Err(ConfigSecretError::Key(e)),
        };
        let text = String::from_utf8(plain.to_vec())
            .map_err(|_| ConfigSecretError::Malformed("not UTF-8".into()))?;
        Ok(Zeroizing::new(text))
    }
}

fn scope(key: &str) -> String {
    format!("config:{key}")
}

struct Parts<'a> {
    scheme: &'a str,
    salt: &'a str,
    nonce: &'a str,
    ct: &'a str,
}

fn parse(text: &str) -> Result<Parts<'_>, ConfigSecretError> {
    let fields: Vec<&str> = text.trim().split(':').collect();
    match fields.as_slice() {
        [v, scheme, salt, nonce, ct]
            if *v == VERSION && (*scheme == PASSPHRASE || *scheme == KEYFILE) =>
        {
            Ok(Parts {
                scheme,
                salt,
                nonce,
                ct,
            })
        }
        [v, ..] if !v.is_empty() && *v != VERSION => Err(ConfigSecretError::Malformed(format!(
            "version `{v}` is not {VERSION}"
        ))),
        _ => Err(ConfigSecretError::Malformed(
            "expected v1:<scheme>:<salt>:<nonce>:<ciphertext>".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(p: &str) -> ConfigSecrets {
        ConfigSecrets::new(SecretKeys::Passphrase(p.into()), "redis-dev")
    }

    #[test]
    fn round_trip_bound_to_key_and_stack() {
        let mut c = pass("correct horse");
        let text = c.seal("dbPassword", "s3cr3t-value", None).expect("seal");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert_eq!(
            c.open("dbPassword", &text).expect("open").as_str(),
            "s3cr3t-value"
        );
        // Another key, stack or passphrase does not open it.
        assert!(matches!(
            c.open("other", &text),
            Err(ConfigSecretError::WrongKey)
        ));
        let mut other_stack =
            ConfigSecrets::new(SecretKeys::Passphrase("correct horse".into()), "redis-prod");
        assert!(matches!(
            other_stack.open("dbPassword", &text),
            Err(ConfigSecretError::WrongKey)
        ));
        assert!(matches!(
            pass("wrong").open("dbPassword", &text),
            Err(ConfigSecretError::WrongKey)
        ));
        // A second value reuses the salt (one derivation per file).
        let second = c.seal("apiKey", "x", Some(&text)).expect("seal");
        assert_eq!(text.split(':').nth(2), second.split(':').nth(2));
    }

    #[test]
    fn key_file_values_need_the_key_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".keys").join("s.key");
        let mut c = ConfigSecrets::new(SecretKeys::KeyFile(path.clone()), "s");
        let text = c.seal("k", "v", None).expect("seal creates the key file");
        assert!(path.exists());
        assert_eq!(c.open("k", &text).expect("open").as_str(), "v");
        assert!(matches!(
            pass("p").open("k", &text),
            Err(ConfigSecretError::OtherScheme { .. })
        ));
        assert!(matches!(
            c.open("k", "v2:keyfile::a:b"),
            Err(ConfigSecretError::Malformed(_))
        ));
    }
}
