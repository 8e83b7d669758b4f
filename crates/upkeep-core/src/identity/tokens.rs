//! API tokens: `upk_…` secrets shown once, stored as digests, scoped (read, write, admin), optionally
//! expiring, revocable, and checked on every `Authorization: Bearer` request.

use std::time::Duration;

use upkeep_storage::{ApiToken, AuditContext, NewToken, Page, PageRequest, Scope, User};

use super::credentials::{hash_secret, random_secret};
use super::{Capability, Principal, Via};
use crate::clock::add;
use crate::{Core, CoreError, CoreResult};

/// Every token starts with this, so leaked tokens are easy to recognise (and to scan for).
pub const TOKEN_PREFIX: &str = "upk_";
/// How many characters of a token are kept in clear to tell tokens apart in lists.
const SHOWN_PREFIX_LEN: usize = 12;
/// `last_used_at` is written at most this often per token, so reads do not turn into writes.
const USE_RECORD_INTERVAL: Duration = Duration::from_secs(60);

pub struct CreatedToken {
    /// The full secret: shown once, never stored.
    pub secret: String,
    pub token: ApiToken,
}

/// Create a token for `owner`. A token cannot have a wider scope than its owner's role allows, and only an
/// admin may create tokens for someone else (`by` is `None` for the CLI).
pub async fn create_token(
    core: &Core,
    ctx: &AuditContext,
    by: Option<&Principal>,
    owner: &User,
    name: &str,
    scope: Scope,
    expires_in: Option<Duration>,
) -> CoreResult<CreatedToken> {
    if let Some(principal) = by {
        if principal.user.id != owner.id {
            principal.require(Capability::Admin)?;
        }
        if Capability::of_scope(scope) > principal.capability() {
            return Err(CoreError::validation(
                "scope",
                format!(
                    "cannot create a {} token with {} permission",
                    scope.as_str(),
                    principal.capability().as_str()
                ),
            ));
        }
    }
    if Capability::of_scope(scope) > Capability::of_role(owner.role) {
        return Err(CoreError::validation(
            "scope",
            format!(
                "a {} cannot hold a {} token",
                owner.role.as_str(),
                scope.as_str()
            ),
        ));
    }
    let name = name.trim();
    if name.chars().count() > 100 {
        return Err(CoreError::validation(
            "name",
            "must be at most 100 characters",
        ));
    }
    if expires_in.is_some_and(|span| span.is_zero()) {
        return Err(CoreError::validation("expires", "must be longer than zero"));
    }
    let secret = format!("{TOKEN_PREFIX}{}", random_secret(40));
    let token = core
        .storage
        .create_token(
            ctx,
            NewToken {
                user_id: owner.id,
                name: if name.is_empty() {
                    "token".to_string()
                } else {
                    name.to_string()
                },
                prefix: secret.chars().take(SHOWN_PREFIX_LEN).collect(),
                token_hash: hash_secret(&secret),
                scope,
                expires_at: expires_in.map(|span| add(ctx.at, span)),
            },
        )
        .await?;
    Ok(CreatedToken { secret, token })
}

/// The caller behind a bearer token, or why the token is refused.
pub async fn authenticate_token(core: &Core, secret: &str) -> CoreResult<Principal> {
    let refused = |why: &str| CoreError::Unauthenticated(why.to_string());
    if !secret.starts_with(TOKEN_PREFIX) {
        return Err(refused("not an upkeep API token (they start with upk_)"));
    }
    let (token, user) = core
        .storage
        .token_by_hash(&hash_secret(secret))
        .await?
        .ok_or_else(|| refused("unknown API token"))?;
    let now = core.now();
    if token.revoked_at.is_some() {
        return Err(refused("this API token has been revoked"));
    }
    if !token.is_usable_at(now) {
        return Err(refused("this API token has expired"));
    }
    if user.disabled {
        return Err(refused("the owner of this API token is disabled"));
    }
    let stale = token
        .last_used_at
        .is_none_or(|last| add(last, USE_RECORD_INTERVAL) <= now);
    if stale && let Err(err) = core.storage.mark_token_used(token.id, now).await {
        tracing::warn!(%err, token = token.prefix, "could not record token use");
    }
    Ok(Principal {
        user,
        via: Via::Token {
            token_id: token.id,
            scope: token.scope,
            prefix: token.prefix,
        },
    })
}

/// Tokens of `user_id`, or of everyone when `None` (admins only).
pub async fn list_tokens(
    core: &Core,
    by: Option<&Principal>,
    user_id: Option<i64>,
    page: PageRequest,
) -> CoreResult<Page<ApiToken>> {
    if let Some(principal) = by
        && user_id != Some(principal.user.id)
    {
        principal.require(Capability::Admin)?;
    }
    Ok(core.storage.list_tokens(user_id, page).await?)
}

/// Revoke a token: its owner may revoke their own, an admin any.
pub async fn revoke_token(
    core: &Core,
    ctx: &AuditContext,
    by: Option<&Principal>,
    id: i64,
) -> CoreResult<ApiToken> {
    let token = core
        .storage
        .token_by_id(id)
        .await?
        .ok_or_else(|| CoreError::not_found("token not found"))?;
    if let Some(principal) = by
        && token.user_id != principal.user.id
    {
        principal.require(Capability::Admin)?;
    }
    Ok(core.storage.revoke_token(ctx, id).await?)
}
