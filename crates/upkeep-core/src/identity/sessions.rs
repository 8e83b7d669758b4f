//! Browser sessions: password login with per-account and per-address throttling, the session cookie's
//! secret (stored only as a digest), and logout.

use upkeep_storage::{AuditContext, NewSession, Session, User};

use super::credentials::{hash_secret, random_secret, verify_password};
use super::{Principal, Via, normalize_email};
use crate::clock::{add, sub};
use crate::{Core, CoreError, CoreResult};

/// Name of the cookie that carries the session secret.
pub const SESSION_COOKIE: &str = "upkeep_session";

pub struct LoginOutcome {
    /// Goes into the cookie; never stored.
    pub secret: String,
    pub session: Session,
    pub user: User,
}

fn wrong_credentials() -> CoreError {
    CoreError::Unauthenticated("the email or password is wrong".into())
}

/// Check the password and open a session. Too many recent failures for the account or for the client
/// address refuse the attempt before the password is even checked.
pub async fn log_in(
    core: &Core,
    email: &str,
    password: String,
    origin: Option<String>,
    user_agent: Option<String>,
) -> CoreResult<LoginOutcome> {
    let auth = &core.config.auth;
    let now = core.now();
    let window_start = sub(now, auth.login_window);
    let email = normalize_email(email).map_err(|_| wrong_credentials())?;
    let account_key = format!("account:{email}");
    let address_key = origin.as_ref().map(|origin| format!("address:{origin}"));

    let account_failures = core
        .storage
        .login_failures(&account_key, window_start)
        .await?;
    let address_failures = match &address_key {
        Some(key) => core.storage.login_failures(key, window_start).await?,
        None => 0,
    };
    if account_failures >= auth.login_max_failures_per_account
        || address_failures >= auth.login_max_failures_per_address
    {
        return Err(CoreError::RateLimited {
            message: "too many failed logins; wait and try again".into(),
            retry_after: auth.login_window,
        });
    }

    let user = core.storage.user_by_email(&email).await?;
    let stored = match &user {
        Some(user) if !user.disabled => core.storage.password_hash(user.id).await?,
        _ => None,
    };
    let valid = verify_password(password, stored).await?;
    let user = match user {
        Some(user) if valid => user,
        _ => {
            core.storage
                .record_login_failure(&account_key, now, window_start)
                .await?;
            if let Some(key) = &address_key {
                core.storage
                    .record_login_failure(key, now, window_start)
                    .await?;
            }
            tracing::warn!(
                email,
                origin = origin.as_deref().unwrap_or("-"),
                "failed login"
            );
            return Err(wrong_credentials());
        }
    };
    core.storage.clear_login_failures(&account_key).await?;

    let secret = random_secret(40);
    let ctx = AuditContext {
        actor: Principal {
            user: user.clone(),
            via: Via::Session {
                session_id: 0,
                csrf_token: String::new(),
            },
        }
        .actor(),
        origin,
        at: now,
    };
    let session = core
        .storage
        .create_session(
            &ctx,
            NewSession {
                token_hash: hash_secret(&secret),
                user_id: user.id,
                csrf_token: random_secret(32),
                expires_at: add(now, auth.session_ttl),
                user_agent,
            },
        )
        .await?;
    Ok(LoginOutcome {
        secret,
        session,
        user,
    })
}

/// The signed-in person behind a session cookie, if the session is live.
pub async fn session_principal(core: &Core, secret: &str) -> CoreResult<Option<Principal>> {
    let found = core
        .storage
        .session_by_token_hash(&hash_secret(secret), core.now())
        .await?;
    Ok(found.map(|(session, user)| Principal {
        user,
        via: Via::Session {
            session_id: session.id,
            csrf_token: session.csrf_token,
        },
    }))
}

pub async fn end_session(core: &Core, ctx: &AuditContext, principal: &Principal) -> CoreResult<()> {
    if let Via::Session { session_id, .. } = principal.via {
        core.storage.delete_session(ctx, session_id).await?;
    }
    Ok(())
}
