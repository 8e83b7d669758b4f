//! Secrets: Argon2id password hashes (computed off the async runtime), random secrets for sessions and
//! tokens, and the SHA-256 digests under which those high-entropy secrets are stored.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use crate::{CoreError, CoreResult};

pub const MIN_PASSWORD_LENGTH: usize = 10;
const MAX_PASSWORD_LENGTH: usize = 1024;

/// A password someone can type but nobody can guess: 24 letters and digits.
pub fn generate_password() -> String {
    Alphanumeric.sample_string(&mut OsRng, 24)
}

/// `len` random letters and digits, for session tokens, CSRF tokens and API tokens.
pub fn random_secret(len: usize) -> String {
    Alphanumeric.sample_string(&mut OsRng, len)
}

/// `bytes` random bytes as lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::RngCore::fill_bytes(&mut OsRng, &mut buffer);
    hex::encode(buffer)
}

/// Digest under which a high-entropy secret (session, API or setup token) is stored and looked up.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn validate_password(password: &str) -> CoreResult<()> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LENGTH {
        return Err(CoreError::validation(
            "password",
            format!("must be at least {MIN_PASSWORD_LENGTH} characters"),
        ));
    }
    if length > MAX_PASSWORD_LENGTH {
        return Err(CoreError::validation(
            "password",
            format!("must be at most {MAX_PASSWORD_LENGTH} characters"),
        ));
    }
    Ok(())
}

/// Hash with Argon2id (the crate's defaults: 19 MiB, 2 passes), off the async threads.
pub async fn hash_password(password: String) -> CoreResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| CoreError::Internal(format!("password hashing failed: {err}")))
    })
    .await
    .map_err(|err| CoreError::Internal(format!("password hashing task failed: {err}")))?
}

/// Check a password against a stored hash. `None` (no such user) still costs one hash, so response times
/// do not reveal which accounts exist.
pub async fn verify_password(password: String, stored: Option<String>) -> CoreResult<bool> {
    tokio::task::spawn_blocking(move || {
        let Some(stored) = stored else {
            let salt = SaltString::generate(&mut OsRng);
            let _ = Argon2::default().hash_password(password.as_bytes(), &salt);
            return false;
        };
        PasswordHash::new(&stored)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(|err| CoreError::Internal(format!("password check task failed: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_are_argon2id() {
        let hash = hash_password("correct horse battery".into())
            .await
            .unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(
            verify_password("correct horse battery".into(), Some(hash.clone()))
                .await
                .unwrap_or(false)
        );
        assert!(
            !verify_password("wrong horse battery".into(), Some(hash))
                .await
                .unwrap_or(true)
        );
        assert!(
            !verify_password("anything at all".into(), None)
                .await
                .unwrap_or(true)
        );
    }

    #[test]
    fn short_passwords_are_refused_by_field() {
        let err = validate_password("short").err().map(|err| err.to_string());
        assert_eq!(
            err.as_deref(),
            Some("password: must be at least 10 characters")
        );
        assert!(validate_password("long enough!").is_ok());
    }

    #[test]
    fn secrets_are_random_and_hashes_stable() {
        assert_ne!(random_secret(32), random_secret(32));
        assert_eq!(hash_secret("x"), hash_secret("x"));
        assert_eq!(hash_secret("x").len(), 64);
    }
}
