//! Creating, changing and removing people, the owner safeguards, and first-run setup.
//!
//! Rules: only an owner may create, change or remove an owner (or make someone one); the last enabled
//! owner cannot be demoted, disabled or removed. The CLI on the server (`by == None`) acts with owner
//! authority, since whoever runs it already controls the database.

use upkeep_storage::{AuditContext, NewUser, Page, PageRequest, Role, User, UserChanges};

use super::credentials::{
    hash_password, hash_secret, random_secret, validate_password, verify_password,
};
use super::{Capability, Principal, normalize_email};
use crate::{Core, CoreError, CoreResult};

pub struct NewUserInput {
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub password: String,
}

#[derive(Default)]
pub struct UserPatch {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

fn validate_name(name: &str) -> CoreResult<String> {
    let name = name.trim();
    if name.chars().count() > 200 {
        return Err(CoreError::validation(
            "name",
            "must be at most 200 characters",
        ));
    }
    Ok(name.to_string())
}

fn require_admin(by: Option<&Principal>) -> CoreResult<()> {
    by.map_or(Ok(()), |principal| principal.require(Capability::Admin))
}

fn require_owner_for(by: Option<&Principal>, what: &str) -> CoreResult<()> {
    match by {
        Some(principal) if principal.user.role != Role::Owner => {
            Err(CoreError::Forbidden(format!("only an owner can {what}")))
        }
        _ => Ok(()),
    }
}

pub async fn create_user(
    core: &Core,
    ctx: &AuditContext,
    by: Option<&Principal>,
    input: NewUserInput,
) -> CoreResult<User> {
    require_admin(by)?;
    if input.role == Role::Owner {
        require_owner_for(by, "create another owner")?;
    }
    let email = normalize_email(&input.email)?;
    let name = validate_name(input.name.as_deref().unwrap_or(""))?;
    let name = if name.is_empty() {
        email.split('@').next().unwrap_or_default().to_string()
    } else {
        name
    };
    validate_password(&input.password)?;
    let password_hash = hash_password(input.password).await?;
    Ok(core
        .storage
        .create_user(
            ctx,
            NewUser {
                email,
                name,
                role: input.role,
                password_hash,
            },
        )
        .await?)
}

pub async fn user_by_email(core: &Core, email: &str) -> CoreResult<User> {
    let email = normalize_email(email)?;
    core.storage
        .user_by_email(&email)
        .await?
        .ok_or_else(|| CoreError::not_found(format!("no user with email {email}")))
}

pub async fn list_users(
    core: &Core,
    by: Option<&Principal>,
    page: PageRequest,
) -> CoreResult<Page<User>> {
    require_admin(by)?;
    Ok(core.storage.list_users(page).await?)
}

async fn enabled_owners(core: &Core) -> CoreResult<usize> {
    let mut count = 0;
    let mut page = PageRequest::new(500, None);
    loop {
        let users = core.storage.list_users(page).await?;
        count += users
            .items
            .iter()
            .filter(|user| user.role == Role::Owner && !user.disabled)
            .count();
        match users.next_cursor.and_then(|cursor| cursor.parse().ok()) {
            Some(cursor) => page = PageRequest::new(500, Some(cursor)),
            None => return Ok(count),
        }
    }
}

pub async fn update_user(
    core: &Core,
    ctx: &AuditContext,
    by: Option<&Principal>,
    id: i64,
    patch: UserPatch,
) -> CoreResult<User> {
    require_admin(by)?;
    let target = core
        .storage
        .user_by_id(id)
        .await?
        .ok_or_else(|| CoreError::not_found("user not found"))?;
    if target.role == Role::Owner || patch.role == Some(Role::Owner) {
        require_owner_for(by, "change an owner or make someone an owner")?;
    }
    let loses_owner = target.role == Role::Owner
        && !target.disabled
        && (patch.role.is_some_and(|role| role != Role::Owner) || patch.disabled == Some(true));
    if loses_owner && enabled_owners(core).await? <= 1 {
        return Err(CoreError::Conflict {
            message: "this is the last enabled owner; make someone else an owner first".into(),
            field: Some("role".into()),
        });
    }
    let name = patch.name.as_deref().map(validate_name).transpose()?;
    Ok(core
        .storage
        .update_user(
            ctx,
            id,
            UserChanges {
                name,
                role: patch.role,
                disabled: patch.disabled,
            },
        )
        .await?)
}

pub async fn delete_user(
    core: &Core,
    ctx: &AuditContext,
    by: Option<&Principal>,
    id: i64,
) -> CoreResult<()> {
    require_admin(by)?;
    let target = core
        .storage
        .user_by_id(id)
        .await?
        .ok_or_else(|| CoreError::not_found("user not found"))?;
    if target.role == Role::Owner {
        require_owner_for(by, "remove an owner")?;
        if !target.disabled && enabled_owners(core).await? <= 1 {
            return Err(CoreError::Conflict {
                message: "this is the last enabled owner and cannot be removed".into(),
                field: None,
            });
        }
    }
    Ok(core.storage.delete_user(ctx, id).await?)
}

/// Change one's own password; other sessions of the user end, `keep_session_id` stays signed in.
pub async fn change_password(
    core: &Core,
    ctx: &AuditContext,
    user: &User,
    current: String,
    new: String,
    keep_session_id: Option<i64>,
) -> CoreResult<()> {
    let stored = core.storage.password_hash(user.id).await?;
    if !verify_password(current, stored).await? {
        return Err(CoreError::validation(
            "current_password",
            "is not your current password",
        ));
    }
    validate_password(&new).map_err(|err| match err {
        CoreError::Validation { message, .. } => CoreError::validation("new_password", message),
        other => other,
    })?;
    let hash = hash_password(new).await?;
    Ok(core
        .storage
        .set_password_hash(ctx, user.id, &hash, keep_session_id)
        .await?)
}

/// Set a user's password from the CLI (`upkeep user set-password`).
pub async fn reset_password(
    core: &Core,
    ctx: &AuditContext,
    user_id: i64,
    password: String,
) -> CoreResult<()> {
    validate_password(&password)?;
    let hash = hash_password(password).await?;
    Ok(core
        .storage
        .set_password_hash(ctx, user_id, &hash, None)
        .await?)
}

pub async fn setup_pending(core: &Core) -> CoreResult<bool> {
    Ok(core.storage.count_users().await? == 0)
}

/// With no user yet, make a fresh one-time setup token (replacing any earlier one) and return it.
pub async fn ensure_setup_token(core: &Core) -> CoreResult<Option<String>> {
    if !setup_pending(core).await? {
        return Ok(None);
    }
    let token = random_secret(32);
    core.storage
        .replace_setup_token(&hash_secret(&token), core.now())
        .await?;
    Ok(Some(token))
}

pub async fn setup_token_valid(core: &Core, token: &str) -> CoreResult<bool> {
    Ok(core.storage.setup_token_valid(&hash_secret(token)).await?)
}

/// Create the owner with the setup token; the token works once and only while nobody exists.
pub async fn complete_setup(
    core: &Core,
    ctx: &AuditContext,
    token: &str,
    email: &str,
    name: Option<String>,
    password: String,
) -> CoreResult<User> {
    let email = normalize_email(email)?;
    let name = validate_name(name.as_deref().unwrap_or(""))?;
    validate_password(&password)?;
    let password_hash = hash_password(password).await?;
    let name = if name.is_empty() {
        email.split('@').next().unwrap_or_default().to_string()
    } else {
        name
    };
    core.storage
        .complete_setup(
            ctx,
            &hash_secret(token),
            NewUser {
                email,
                name,
                role: Role::Owner,
                password_hash,
            },
        )
        .await?
        .ok_or_else(|| {
            CoreError::Forbidden(
                "this setup link is no longer valid; setup has already been completed".into(),
            )
        })
}
