//! Sealed secrets: settings that hold credentials (webhook URLs and secrets, bot tokens, SMTP passwords) are
//! stored encrypted with ChaCha20-Poly1305 (an AEAD, from `ring`) under one 32-byte key, as
//! `v1:<base64(nonce || ciphertext || tag)>` with a fresh random 96-bit nonce per seal.
//!
//! The key comes from `[secrets] key_file` (`UPKEEP_SECRETS_KEY_FILE`): a file holding 32 bytes as base64
//! or hex. Without that setting, on SQLite, upkeep generates `secret.key` (mode 0600) next to the database
//! file the first time something is sealed, so a single node needs no setup; an in-memory SQLite database
//! gets a key that lives as long as the process. On PostgreSQL several nodes must share one key, so nothing
//! is sealed until the setting names a key file. A sealed value opened with another key fails with
//! [`SecretError::WrongKey`], never a panic.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::config::Config;

/// The prefix of every sealed value this version writes.
const PREFIX: &str = "v1:";
/// Key length in bytes.
pub const KEY_LEN: usize = 32;
/// The name of the generated key file next to a SQLite database.
pub const GENERATED_KEY_FILE: &str = "secret.key";
/// The setting that names the key file, for messages.
pub const KEY_SETTING: &str = "[secrets] key_file (UPKEEP_SECRETS_KEY_FILE)";

/// Why a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// PostgreSQL without `[secrets] key_file`.
    #[error(
        "no secrets key is configured: set {KEY_SETTING} to a file holding a 32-byte key (base64 or hex, e.g. \
         `openssl rand -base64 32`), the same file on every node; it is required with PostgreSQL"
    )]
    NotConfigured,
    /// The key file is missing, unreadable or does not hold a 32-byte key.
    #[error("the secrets key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    /// Not a value this version sealed.
    #[error("the sealed value is malformed: {0}")]
    Malformed(String),
    /// The value was sealed with another key (or altered).
    #[error(
        "the sealed value cannot be opened with the current secrets key: it was sealed with another key, or \
         altered; restore the key file it was sealed with ({KEY_SETTING}), or save the settings again"
    )]
    WrongKey,
    /// The system random source failed.
    #[error("the system random number generator failed")]
    Random,
}

/// One loaded key. `Debug` never shows it.
pub struct SecretBox {
    key: LessSafeKey,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(…)")
    }
}

impl SecretBox {
    /// A box for exactly [`KEY_LEN`] key bytes.
    pub fn from_key(bytes: &[u8]) -> Result<Self, SecretError> {
        if bytes.len() != KEY_LEN {
            return Err(SecretError::KeyFile {
                path: "(key)".into(),
                reason: format!("a key must be {KEY_LEN} bytes, not {}", bytes.len()),
            });
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes).map_err(|_| SecretError::KeyFile {
            path: "(key)".into(),
            reason: "the key was not accepted".into(),
        })?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    /// A box with a fresh random key, and that key as base64 text (what a key file holds).
    pub fn generate() -> Result<(Self, String), SecretError> {
        let mut bytes = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SecretError::Random)?;
        Ok((Self::from_key(&bytes)?, STANDARD.encode(bytes)))
    }

    /// Reads a key file: 32 bytes written as base64 (44 characters) or hex (64 characters), surrounding
    /// whitespace ignored.
    pub fn load(path: &Path) -> Result<Self, SecretError> {
        let failed = |reason: String| SecretError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|err| {
            failed(match err.kind() {
                std::io::ErrorKind::NotFound => "does not exist".to_string(),
                _ => format!("cannot be read: {err}"),
            })
        })?;
        let bytes = parse_key(&text).map_err(failed)?;
        Self::from_key(&bytes).map_err(|_| failed("does not hold a usable key".into()))
    }

    /// Encrypts `plaintext` under a fresh random nonce: `v1:<base64(nonce || ciphertext || tag)>`.
    pub fn seal(&self, plaintext: &str) -> Result<String, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SecretError::Random)?;
        let mut in_out = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut in_out,
            )
            .map_err(|_| SecretError::Malformed("the value is too long to seal".into()))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&in_out);
        Ok(format!("{PREFIX}{}", STANDARD.encode(sealed)))
    }

    /// Decrypts a value [`SecretBox::seal`] produced.
    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        let encoded = sealed.strip_prefix(PREFIX).ok_or_else(|| {
            SecretError::Malformed("it does not start with v1: (not sealed by this version)".into())
        })?;
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| SecretError::Malformed("it is not valid base64".into()))?;
        if bytes.len() < NONCE_LEN + CHACHA20_POLY1305.tag_len() {
            return Err(SecretError::Malformed("it is too short".into()));
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| SecretError::Malformed("its nonce is unusable".into()))?;
        let mut in_out = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut in_out)
            .map_err(|_| SecretError::WrongKey)?;
        String::from_utf8(plain.to_vec())
            .map_err(|_| SecretError::Malformed("the opened value is not text".into()))
    }
}

/// 32 key bytes from base64 or hex text.
fn parse_key(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty; it must hold a 32-byte key as base64 or hex".into());
    }
    let decoded = if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).ok()
    } else {
        STANDARD.decode(text).ok()
    };
    match decoded {
        Some(bytes) if bytes.len() == KEY_LEN => Ok(bytes),
        Some(bytes) => Err(format!(
            "holds {} bytes; the key must be exactly {KEY_LEN} bytes (e.g. `openssl rand -base64 32`)",
            bytes.len()
        )),
        None => Err(
            "does not hold base64 or hex text; write 32 random bytes as base64 (`openssl rand -base64 32`)"
                .into(),
        ),
    }
}

/// Where the key comes from, decided once from the configuration and the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `[secrets] key_file`.
    File(PathBuf),
    /// SQLite without the setting: this file next to the database, generated on first use.
    Generated(PathBuf),
    /// An in-memory SQLite database: a key for this process only.
    Ephemeral,
    /// PostgreSQL without the setting: nothing can be sealed.
    Missing,
}

impl KeySource {
    /// The source for `config` on the backend named `backend` (`sqlite` or `postgres`).
    pub fn from_config(config: &Config, backend: &str) -> Self {
        if let Some(path) = config
            .secrets
            .key_file
            .as_deref()
            .filter(|p| !p.trim().is_empty())
        {
            return Self::File(PathBuf::from(path));
        }
        if backend != "sqlite" {
            return Self::Missing;
        }
        match sqlite_path(&config.database_url) {
            Some(path) if path != ":memory:" => {
                let folder = Path::new(&path)
                    .parent()
                    .filter(|parent| !parent.as_os_str().is_empty())
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                Self::Generated(folder.join(GENERATED_KEY_FILE))
            }
            _ => Self::Ephemeral,
        }
    }
}

/// The file path inside `sqlite://PATH` or `sqlite:PATH?…`.
fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty()).then(|| path.to_string())
}

/// The process's secrets key, loaded (or generated) on first use and kept. Cheap to share in an `Arc`.
pub struct Secrets {
    source: KeySource,
    loaded: Mutex<Option<Arc<SecretBox>>>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Secrets {
    pub fn new(source: KeySource) -> Self {
        Self {
            source,
            loaded: Mutex::new(None),
        }
    }

    /// Secrets with a key already in hand (tests, tools).
    pub fn with_box(secret_box: SecretBox) -> Self {
        Self {
            source: KeySource::Ephemeral,
            loaded: Mutex::new(Some(Arc::new(secret_box))),
        }
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// Seals `plaintext`, generating the SQLite key file first when there is none yet.
    pub fn seal(&self, plaintext: &str) -> Result<String, SecretError> {
        self.key(true)?.seal(plaintext)
    }

    /// Opens a sealed value. Never generates a key: a missing generated key file is reported as missing.
    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        self.key(false)?.open(sealed)
    }

    /// The loaded key; `create` allows generating the SQLite key file.
    fn key(&self, create: bool) -> Result<Arc<SecretBox>, SecretError> {
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(secret_box) = loaded.as_ref() {
            return Ok(secret_box.clone());
        }
        let secret_box = Arc::new(match &self.source {
            KeySource::File(path) => SecretBox::load(path)?,
            KeySource::Missing => return Err(SecretError::NotConfigured),
            KeySource::Ephemeral => SecretBox::generate()?.0,
            KeySource::Generated(path) if path.exists() || !create => SecretBox::load(path)?,
            KeySource::Generated(path) => generate_file(path)?,
        });
        *loaded = Some(secret_box.clone());
        Ok(secret_box)
    }
}

/// Writes a fresh key to `path` (mode 0600) unless another process got there first, then loads the file.
/// The key is written to a temporary file and hard-linked into place, so nobody reads a half-written key
/// and two processes starting together end up with the same one.
fn generate_file(path: &Path) -> Result<SecretBox, SecretError> {
    let failed = |reason: String| SecretError::KeyFile {
        path: path.display().to_string(),
        reason,
    };
    let (_, text) = SecretBox::generate()?;
    let mut suffix = [0u8; 8];
    SystemRandom::new()
        .fill(&mut suffix)
        .map_err(|_| SecretError::Random)?;
    let temporary = path.with_extension(format!("tmp-{}", hex::encode(suffix)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let written = options
        .open(&temporary)
        .and_then(|mut file| {
            file.write_all(format!("{text}\n").as_bytes())?;
            file.sync_all()
        })
        .map_err(|err| failed(format!("cannot be created: {err}")));
    let linked = written.and_then(|()| match std::fs::hard_link(&temporary, path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(failed(format!("cannot be created: {err}"))),
    });
    let _ = std::fs::remove_file(&temporary);
    linked?;
    tracing::info!(path = %path.display(), "generated the secrets key file; back it up with the database");
    SecretBox::load(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn config(url: &str, key_file: Option<&str>) -> Config {
        let mut config = Config {
            database_url: url.into(),
            ..Config::default()
        };
        config.secrets.key_file = key_file.map(str::to_string);
        config
    }

    #[test]
    fn seal_and_open_round_trip_with_fresh_nonces() {
        let (secret_box, _) = SecretBox::generate().unwrap();
        let a = secret_box
            .seal("https://hooks.slack.com/services/T/B/x")
            .unwrap();
        let b = secret_box
            .seal("https://hooks.slack.com/services/T/B/x")
            .unwrap();
        assert!(a.starts_with("v1:"), "{a}");
        assert_ne!(a, b, "every seal uses a new nonce");
        assert!(!a.contains("hooks.slack.com"));
        assert_eq!(
            secret_box.open(&a).unwrap(),
            "https://hooks.slack.com/services/T/B/x"
        );
    }

    #[test]
    fn a_wrong_key_or_tampering_is_an_error_not_a_panic() {
        let (one, _) = SecretBox::generate().unwrap();
        let (other, _) = SecretBox::generate().unwrap();
        let sealed = one.seal("s3cret").unwrap();
        assert_eq!(other.open(&sealed), Err(SecretError::WrongKey));
        let mut bytes = STANDARD.decode(&sealed[3..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("v1:{}", STANDARD.encode(&bytes));
        assert_eq!(one.open(&tampered), Err(SecretError::WrongKey));
        for bad in ["", "v1:", "v1:!!", "v2:abcd", "v1:AAAA", "plain text"] {
            assert!(
                matches!(one.open(bad), Err(SecretError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(SecretError::WrongKey.to_string().contains("key_file"));
    }

    #[test]
    fn key_files_hold_base64_or_hex() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..32).collect();
        let b64 = dir.path().join("b64.key");
        std::fs::write(&b64, format!("{}\n", STANDARD.encode(&bytes))).unwrap();
        let hex_file = dir.path().join("hex.key");
        std::fs::write(&hex_file, hex::encode(&bytes)).unwrap();
        let sealed = SecretBox::load(&b64).unwrap().seal("x").unwrap();
        assert_eq!(
            SecretBox::load(&hex_file).unwrap().open(&sealed).unwrap(),
            "x"
        );

        let short = dir.path().join("short.key");
        std::fs::write(&short, STANDARD.encode([1u8; 16])).unwrap();
        let err = SecretBox::load(&short).unwrap_err().to_string();
        assert!(
            err.contains("holds 16 bytes") && err.contains("short.key"),
            "{err}"
        );
        let err = SecretBox::load(&dir.path().join("none.key"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
        let junk = dir.path().join("junk.key");
        std::fs::write(&junk, "not a key at all").unwrap();
        assert!(SecretBox::load(&junk).is_err());
    }

    #[test]
    fn the_source_follows_the_setting_and_the_backend() {
        assert_eq!(
            KeySource::from_config(&config("sqlite://data/u.db", None), "sqlite"),
            KeySource::Generated(PathBuf::from("data/secret.key"))
        );
        assert_eq!(
            KeySource::from_config(&config("sqlite:u.db?mode=rwc", None), "sqlite"),
            KeySource::Generated(PathBuf::from("./secret.key"))
        );
        assert_eq!(
            KeySource::from_config(&config("sqlite::memory:", None), "sqlite"),
            KeySource::Ephemeral
        );
        assert_eq!(
            KeySource::from_config(&config("postgres://x/y", None), "postgres"),
            KeySource::Missing
        );
        assert_eq!(
            KeySource::from_config(&config("postgres://x/y", Some("/k")), "postgres"),
            KeySource::File(PathBuf::from("/k"))
        );
    }

    #[test]
    fn postgres_without_a_key_refuses_naming_the_setting() {
        let secrets = Secrets::new(KeySource::Missing);
        let err = secrets.seal("x").unwrap_err();
        assert_eq!(err, SecretError::NotConfigured);
        assert!(err.to_string().contains("UPKEEP_SECRETS_KEY_FILE"), "{err}");
    }

    #[test]
    fn the_sqlite_key_is_generated_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(GENERATED_KEY_FILE);
        // Opening never generates a key.
        let reader = Secrets::new(KeySource::Generated(path.clone()));
        assert!(matches!(
            reader.open("v1:AAAA"),
            Err(SecretError::KeyFile { .. })
        ));
        assert!(!path.exists());

        let writer = Secrets::new(KeySource::Generated(path.clone()));
        let sealed = writer.seal("hello").unwrap();
        assert!(path.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Another process (a CLI next to `serve`) reads the same key.
        let other = Secrets::new(KeySource::Generated(path.clone()));
        assert_eq!(other.open(&sealed).unwrap(), "hello");
        let again = Secrets::new(KeySource::Generated(path.clone()));
        again.seal("y").unwrap();
        assert_eq!(
            other.open(&sealed).unwrap(),
            "hello",
            "the key is not replaced"
        );
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary files are left behind");
    }
}
