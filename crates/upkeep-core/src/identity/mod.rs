//! Identity: people, how they prove who they are (passwords, browser sessions, API tokens), what their
//! role and token scope allow, and the one-time setup that creates the first owner.

mod accounts;
mod credentials;
mod principal;
mod sessions;
mod tokens;

pub use accounts::{
    NewUserInput, UserPatch, change_password, complete_setup, create_user, delete_user,
    ensure_setup_token, list_users, reset_password, setup_pending, setup_token_valid, update_user,
    user_by_email,
};
pub use credentials::{
    MIN_PASSWORD_LENGTH, generate_password, hash_secret, random_hex, random_secret,
    validate_password,
};
pub use principal::{Capability, Principal, Via};
pub use sessions::{LoginOutcome, SESSION_COOKIE, end_session, log_in, session_principal};
pub use tokens::{
    CreatedToken, TOKEN_PREFIX, authenticate_token, create_token, list_tokens, revoke_token,
};

/// Trim and lower-case an email address, and check it looks like one.
pub fn normalize_email(email: &str) -> crate::CoreResult<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err(crate::CoreError::validation(
            "email",
            "must be an email address like a@example.com",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  A@B.co ").ok().as_deref(), Some("a@b.co"));
        for bad in ["", "a", "a@b", "@b.co", "a b@c.de", "a@.co", "a@b.co."] {
            assert!(normalize_email(bad).is_err(), "{bad} should be refused");
        }
    }
}
