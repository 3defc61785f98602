//! Where the key that encrypts a stack's secrets comes from, and the AEAD
//! that uses it.
//!
//! Every stack has one 32-byte *data key*. A [`KeyProvider`] produces it on
//! the stack's first open (returning non-secret *params* that are stored in
//! the state, e.g. a salt) and recovers it on later opens from those params.
//! A small known ciphertext (the *key check*) is stored beside the params so a
//! wrong key is reported at open, before any secret is touched.
//!
//! Built-in providers: a passphrase stretched with argon2id
//! ([`SecretKeys::Passphrase`]) and a 32-byte key file ([`SecretKeys::KeyFile`]).
//!
//! ## Adding a KMS key later
//! Implement [`KeyProvider`] for envelope encryption and pass it as
//! [`SecretKeys::Provider`]: `create` asks KMS `GenerateDataKey` and returns
//! the plaintext key plus the *encrypted* data key as params; `unwrap` calls
//! KMS `Decrypt` on the stored params. Nothing else in the store changes. The
//! trait is synchronous because opening a store is; a KMS implementation
//! holds its own runtime handle (or the CLI fetches the key before opening).

use crate::dto::SealedDto;
use crate::error::StateError;
use crate::fsutil;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The only AEAD this format version uses.
pub const ALG: &str = "chacha20poly1305";
/// Environment variable holding a stack passphrase.
pub const PASSPHRASE_ENV: &str = "STACK_PASSPHRASE";

const SCHEME_PASSPHRASE: &str = "passphrase-argon2id";
const SCHEME_KEYFILE: &str = "keyfile";
const KEY_CHECK_PLAINTEXT: &[u8] = b"cairn-state key check v1";

/// A 32-byte data key. Wiped on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    pub fn from_bytes(bytes: [u8; 32]) -> DataKey {
        DataKey(Zeroizing::new(bytes))
    }
    /// A fresh random key from the operating system.
    pub fn random() -> Result<DataKey, StateError> {
        let mut k = Zeroizing::new([0u8; 32]);
        random_bytes(&mut k[..])?;
        Ok(DataKey(k))
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// A source of a stack's data key. See the module docs for how a KMS key fits.
pub trait KeyProvider: Send + Sync {
    /// Stable name stored in the state (e.g. `aws-kms`); a later open with a
    /// provider of another scheme is refused with a clear error.
    fn scheme(&self) -> String;
    /// First open of a new stack: a new data key, and the non-secret params
    /// that [`KeyProvider::unwrap`] needs to recover it later.
    fn create(&self) -> Result<(DataKey, Vec<u8>), StateError>;
    /// Later opens: the data key from the params `create` returned.
    fn unwrap(&self, params: &[u8]) -> Result<DataKey, StateError>;
    /// A short description for error messages (never the key itself).
    fn describe(&self) -> String {
        self.scheme()
    }
}

/// How a stack's secrets are keyed.
#[derive(Clone)]
#[non_exhaustive]
pub enum SecretKeys {
    /// `$STACK_PASSPHRASE`: an argon2id-derived key; the salt and cost
    /// parameters are stored in the state.
    Passphrase(String),
    /// A file of 32 random bytes, created with mode 0600 on the stack's first
    /// (writable) open if absent.
    KeyFile(PathBuf),
    /// Any other [`KeyProvider`] (reserved for a KMS data key).
    Provider(Arc<dyn KeyProvider>),
}

impl fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretKeys::Passphrase(_) => f.write_str("Passphrase([redacted])"),
            SecretKeys::KeyFile(p) => f.debug_tuple("KeyFile").field(p).finish(),
            SecretKeys::Provider(p) => f.debug_tuple("Provider").field(&p.describe()).finish(),
        }
    }
}

impl SecretKeys {
    /// `$STACK_PASSPHRASE` if set, else the key file `<root>/.keys/<stack>.key`
    /// (kept outside the stack's state directory so copying or backing up the
    /// state does not copy its key).
    pub fn from_env_or_default(root: &Path, stack: &str) -> Result<SecretKeys, StateError> {
        match std::env::var(PASSPHRASE_ENV) {
            Ok(p) if p.is_empty() => Err(StateError::EmptyPassphrase),
            Ok(p) => Ok(SecretKeys::Passphrase(p)),
            Err(std::env::VarError::NotPresent) => Ok(SecretKeys::KeyFile(
                crate::StackPaths::new(root, stack)?.default_key_file,
            )),
            Err(std::env::VarError::NotUnicode(_)) => Err(StateError::WrongKey {
                reason: format!("${PASSPHRASE_ENV} is not valid UTF-8"),
            }),
        }
    }

    pub(crate) fn scheme(&self) -> String {
        match self {
            SecretKeys::Passphrase(_) => SCHEME_PASSPHRASE.into(),
            SecretKeys::KeyFile(_) => SCHEME_KEYFILE.into(),
            SecretKeys::Provider(p) => p.scheme(),
        }
    }

    /// A new stack's data key and params.
    fn create(&self) -> Result<(DataKey, Vec<u8>), StateError> {
        match self {
            SecretKeys::Passphrase(p) => {
                let mut salt = [0u8; 16];
                random_bytes(&mut salt)?;
                let params = ArgonParams {
                    salt: B64.encode(salt),
                    m_kib: argon2::Params::DEFAULT_M_COST,
                    t: argon2::Params::DEFAULT_T_COST,
                    p: argon2::Params::DEFAULT_P_COST,
                };
                let key = derive_passphrase(p, &params)?;
                let bytes = serde_json::to_vec(&params).map_err(|e| StateError::Encrypt {
                    detail: e.to_string(),
                })?;
                Ok((key, bytes))
            }
            SecretKeys::KeyFile(path) => Ok((read_or_create_key_file(path)?, Vec::new())),
            SecretKeys::Provider(p) => p.create(),
        }
    }

    /// An existing stack's data key.
    fn unwrap(&self, params: &[u8]) -> Result<DataKey, StateError> {
        match self {
            SecretKeys::Passphrase(p) => {
                let params: ArgonParams = serde_json::from_slice(params)
                    .map_err(|e| StateError::corrupt("passphrase parameters", e))?;
                derive_passphrase(p, &params)
            }
            SecretKeys::KeyFile(path) => read_key_file(path),
            SecretKeys::Provider(p) => p.unwrap(params),
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ArgonParams {
    pub(crate) salt: String,
    pub(crate) m_kib: u32,
    pub(crate) t: u32,
    pub(crate) p: u32,
}

pub(crate) fn derive_passphrase(pass: &str, params: &ArgonParams) -> Result<DataKey, StateError> {
    let salt = B64
        .decode(&params.salt)
        .map_err(|e| StateError::corrupt("passphrase salt", e))?;
    // Bound the costs read from disk so a damaged state cannot make us
    // allocate gigabytes or spin for hours.
    if params.m_kib > 1 << 20 || params.t > 64 || params.p > 64 {
        return Err(StateError::corrupt(
            "passphrase parameters",
            "argon2 costs out of range",
        ));
    }
    let argon_params = argon2::Params::new(params.m_kib, params.t, params.p, Some(32))
        .map_err(|e| StateError::corrupt("passphrase parameters", e))?;
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon_params,
    );
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(pass.as_bytes(), &salt, &mut out[..])
        .map_err(|e| StateError::corrupt("passphrase parameters", e))?;
    Ok(DataKey(out))
}

pub(crate) fn read_key_file(path: &Path) -> Result<DataKey, StateError> {
    let key_err = |problem: String| StateError::KeyFile {
        path: path.to_path_buf(),
        problem,
    };
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(key_err(
                "not found, but this stack's secrets were encrypted with it".into(),
            ))
        }
        Err(e) => return Err(key_err(e.to_string())),
    };
    let meta = f.metadata().map_err(|e| key_err(e.to_string()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(key_err(format!("mode {mode:o} lets other users read it")));
        }
    }
    if meta.len() != 32 {
        return Err(key_err(format!("holds {} bytes, not 32", meta.len())));
    }
    let mut k = Zeroizing::new([0u8; 32]);
    f.read_exact(&mut k[..])
        .map_err(|e| key_err(e.to_string()))?;
    Ok(DataKey(k))
}

pub(crate) fn read_or_create_key_file(path: &Path) -> Result<DataKey, StateError> {
    if path.exists() {
        return read_key_file(path);
    }
    if let Some(dir) = path.parent() {
        fsutil::ensure_private_dir(dir)?;
    }
    let key = DataKey::random()?;
    // Atomic create-if-absent: two processes racing both end up with the winner's key.
    match fsutil::write_new_file(path, key.as_bytes()) {
        Ok(()) => Ok(key),
        // Another process created it first: use theirs.
        Err(_) if path.exists() => read_key_file(path),
        Err(e) => Err(e),
    }
}

pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), StateError> {
    getrandom::getrandom(buf).map_err(|e| StateError::Encrypt {
        detail: format!("no randomness from the OS: {e}"),
    })
}

/// Keys stored in the state's meta: which scheme, its params, and the key check.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeysMetaV1 {
    pub format: u32,
    pub scheme: String,
    /// Base64 of the provider's params (not secret).
    pub params: String,
    pub check: SealedDto,
}

/// Encrypts and decrypts secrets for one stack with its data key.
pub(crate) struct Sealer {
    aead: ChaCha20Poly1305,
    stack: String,
}

impl Sealer {
    pub(crate) fn new(key: &DataKey, stack: &str) -> Sealer {
        Sealer {
            aead: ChaCha20Poly1305::new(Key::from_slice(key.as_bytes())),
            stack: stack.to_string(),
        }
    }

    fn aad(&self, scope: &str) -> Vec<u8> {
        let mut aad = Vec::with_capacity(24 + self.stack.len() + scope.len());
        aad.extend_from_slice(b"cairn-state:v1\0");
        aad.extend_from_slice(self.stack.as_bytes());
        aad.push(0);
        aad.extend_from_slice(scope.as_bytes());
        aad
    }

    /// Encrypts with a fresh random nonce, bound to this stack and `scope`.
    pub(crate) fn seal(&self, scope: &str, plaintext: &[u8]) -> Result<SealedDto, StateError> {
        let mut nonce = [0u8; 12];
        random_bytes(&mut nonce)?;
        let aad = self.aad(scope);
        let ct = self
            .aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|e| StateError::Encrypt {
                detail: e.to_string(),
            })?;
        Ok(SealedDto {
            alg: ALG.to_string(),
            nonce: B64.encode(nonce),
            ct: B64.encode(ct),
        })
    }

    /// Decrypts; `None` when authentication fails (wrong key, tampering, or
    /// a ciphertext moved from another stack or scope).
    pub(crate) fn open(
        &self,
        scope: &str,
        sealed: &SealedDto,
        what: &dyn Fn() -> String,
    ) -> Result<Zeroizing<Vec<u8>>, StateError> {
        if sealed.alg != ALG {
            return Err(StateError::corrupt(
                what(),
                format!("unknown secret algorithm `{}`", sealed.alg),
            ));
        }
        let nonce = B64
            .decode(&sealed.nonce)
            .map_err(|e| StateError::corrupt(what(), format!("secret nonce: {e}")))?;
        if nonce.len() != 12 {
            return Err(StateError::corrupt(what(), "secret nonce is not 12 bytes"));
        }
        let ct = B64
            .decode(&sealed.ct)
            .map_err(|e| StateError::corrupt(what(), format!("secret ciphertext: {e}")))?;
        let aad = self.aad(scope);
        self.aead
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ct,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| StateError::Decrypt { what: what() })
    }
}

/// For a new stack: make the data key and the meta record to store.
pub(crate) fn create_keys(
    keys: &SecretKeys,
    stack: &str,
) -> Result<(Sealer, KeysMetaV1), StateError> {
    let (key, params) = keys.create()?;
    let sealer = Sealer::new(&key, stack);
    let check = sealer.seal("key-check", KEY_CHECK_PLAINTEXT)?;
    Ok((
        sealer,
        KeysMetaV1 {
            format: crate::dto::FORMAT_VERSION,
            scheme: keys.scheme(),
            params: B64.encode(params),
            check,
        },
    ))
}

/// For an existing stack: recover the data key and verify it against the key check.
pub(crate) fn unlock_keys(
    keys: &SecretKeys,
    stack: &str,
    meta: &KeysMetaV1,
) -> Result<Sealer, StateError> {
    if meta.format != crate::dto::FORMAT_VERSION {
        return Err(StateError::UnsupportedFormat {
            what: "key record".into(),
            found: meta.format.into(),
            supported: crate::dto::FORMAT_VERSION,
        });
    }
    let given = keys.scheme();
    if given != meta.scheme {
        return Err(StateError::KeySchemeMismatch {
            stored: meta.scheme.clone(),
            given,
        });
    }
    let params = B64
        .decode(&meta.params)
        .map_err(|e| StateError::corrupt("key parameters", e))?;
    let key = keys.unwrap(&params)?;
    let sealer = Sealer::new(&key, stack);
    match sealer.open("key-check", &meta.check, &|| "key check".into()) {
        Ok(pt) if pt.as_slice() == KEY_CHECK_PLAINTEXT => Ok(sealer),
        Ok(_) => Err(StateError::corrupt("key check", "unexpected plaintext")),
        Err(StateError::Decrypt { .. }) => Err(StateError::WrongKey {
            reason: match keys {
                SecretKeys::Passphrase(_) => "wrong passphrase".into(),
                SecretKeys::KeyFile(p) => {
                    format!(
                        "the key file {} is not the one this stack was created with",
                        p.display()
                    )
                }
                SecretKeys::Provider(p) => format!("{} returned the wrong key", p.describe()),
            },
        }),
        Err(e) => Err(e),
    }
}
