//! Users, sessions, API tokens, the setup token and login throttling on SQLite.

use jiff::Timestamp;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use upkeep_storage::{
    ApiToken, AuditContext, IdentityStore, NewSession, NewToken, NewUser, Page, PageRequest, Role,
    Scope, Session, StorageError, StorageResult, User, UserChanges,
};

use crate::SqliteStorage;
use crate::support::{
    db_err, get, insert_audit, millis, opt_timestamp, snapshot, timestamp, unique_err,
};

const USER_COLUMNS: &str = "id, email, name, role, disabled, created_at, updated_at";
const TOKEN_COLUMNS: &str = "t.id, t.user_id, u.email AS user_email, t.name, t.prefix, t.scope, t.created_at, t.expires_at, t.revoked_at, t.last_used_at";

fn user_from_row(row: &SqliteRow) -> StorageResult<User> {
    let role: String = get(row, "role")?;
    Ok(User {
        id: get(row, "id")?,
        email: get(row, "email")?,
        name: get(row, "name")?,
        role: Role::parse(&role)
            .ok_or_else(|| StorageError::Other(format!("unknown stored role {role}")))?,
        disabled: get(row, "disabled")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
    })
}

fn token_from_row(row: &SqliteRow) -> StorageResult<ApiToken> {
    let scope: String = get(row, "scope")?;
    Ok(ApiToken {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        user_email: get(row, "user_email")?,
        name: get(row, "name")?,
        prefix: get(row, "prefix")?,
        scope: Scope::parse(&scope)
            .ok_or_else(|| StorageError::Other(format!("unknown stored scope {scope}")))?,
        created_at: timestamp(row, "created_at")?,
        expires_at: opt_timestamp(row, "expires_at")?,
        revoked_at: opt_timestamp(row, "revoked_at")?,
        last_used_at: opt_timestamp(row, "last_used_at")?,
    })
}

fn session_from_row(row: &SqliteRow) -> StorageResult<Session> {
    Ok(Session {
        id: get(row, "session_id")?,
        user_id: get(row, "id")?,
        csrf_token: get(row, "csrf_token")?,
        created_at: timestamp(row, "session_created_at")?,
        expires_at: timestamp(row, "expires_at")?,
    })
}

async fn insert_user(
    conn: &mut sqlx::SqliteConnection,
    ctx: &AuditContext,
    user: &NewUser,
) -> StorageResult<User> {
    let row = sqlx::query(&format!(
        "INSERT INTO users (email, name, role, password_hash, disabled, created_at, updated_at)
         VALUES ($1, $2, $3, $4, FALSE, $5, $5) RETURNING {USER_COLUMNS}"
    ))
    .bind(&user.email)
    .bind(&user.name)
    .bind(user.role.as_str())
    .bind(&user.password_hash)
    .bind(millis(ctx.at))
    .fetch_one(&mut *conn)
    .await
    .map_err(|err| {
        unique_err(
            err,
            format!("a user with email {} already exists", user.email),
            "email",
        )
    })?;
    let created = user_from_row(&row)?;
    insert_audit(
        conn,
        ctx,
        "user.create",
        ("user", created.id.to_string()),
        None,
        snapshot(&created),
    )
    .await?;
    Ok(created)
}

async fn fetch_user(conn: &mut sqlx::SqliteConnection, id: i64) -> StorageResult<User> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?
        .ok_or(StorageError::NotFound { what: "user" })?;
    user_from_row(&row)
}

#[async_trait::async_trait]
impl IdentityStore for SqliteStorage {
    async fn count_users(&self) -> StorageResult<i64> {
        sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.reader)
            .await
            .and_then(|row| row.try_get("n"))
            .map_err(db_err)
    }

    async fn create_user(&self, ctx: &AuditContext, user: NewUser) -> StorageResult<User> {
        let mut tx = self.begin_write().await?;
        let created = insert_user(&mut tx, ctx, &user).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn user_by_id(&self, id: i64) -> StorageResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_email(&self, email: &str) -> StorageResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn password_hash(&self, user_id: i64) -> StorageResult<Option<String>> {
        let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.map(|row| get(&row, "password_hash")).transpose()
    }

    async fn list_users(&self, page: PageRequest) -> StorageResult<Page<User>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(page.cursor.unwrap_or(0))
        .bind(page.fetch_limit())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let users = rows
            .iter()
            .map(user_from_row)
            .collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(users, page, |user| user.id))
    }

    async fn update_user(
        &self,
        ctx: &AuditContext,
        id: i64,
        changes: UserChanges,
    ) -> StorageResult<User> {
        let mut tx = self.begin_write().await?;
        let before = fetch_user(&mut tx, id).await?;
        let row = sqlx::query(&format!(
            "UPDATE users SET name = $1, role = $2, disabled = $3, updated_at = $4 WHERE id = $5 RETURNING {USER_COLUMNS}"
        ))
        .bind(changes.name.as_ref().unwrap_or(&before.name))
        .bind(changes.role.unwrap_or(before.role).as_str())
        .bind(changes.disabled.unwrap_or(before.disabled))
        .bind(millis(ctx.at))
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let after = user_from_row(&row)?;
        if after.disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        insert_audit(
            &mut tx,
            ctx,
            "user.update",
            ("user", id.to_string()),
            snapshot(&before),
            snapshot(&after),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(after)
    }

    async fn set_password_hash(
        &self,
        ctx: &AuditContext,
        user_id: i64,
        password_hash: &str,
        keep_session_id: Option<i64>,
    ) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        let changed =
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(password_hash)
                .bind(millis(ctx.at))
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        if changed.rows_affected() == 0 {
            return Err(StorageError::NotFound { what: "user" });
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(user_id)
            .bind(keep_session_id.unwrap_or(0))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_audit(
            &mut tx,
            ctx,
            "user.password_change",
            ("user", user_id.to_string()),
            None,
            None,
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn delete_user(&self, ctx: &AuditContext, id: i64) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        let before = fetch_user(&mut tx, id).await?;
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_audit(
            &mut tx,
            ctx,
            "user.delete",
            ("user", id.to_string()),
            snapshot(&before),
            None,
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn replace_setup_token(&self, token_hash: &str, at: Timestamp) -> StorageResult<()> {
        sqlx::query(
            "INSERT INTO setup_tokens (id, token_hash, created_at) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at",
        )
        .bind(token_hash)
        .bind(millis(at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn complete_setup(
        &self,
        ctx: &AuditContext,
        token_hash: &str,
        owner: NewUser,
    ) -> StorageResult<Option<User>> {
        let mut tx = self.begin_write().await?;
        let consumed = sqlx::query("DELETE FROM setup_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let users: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&mut *tx)
            .await
            .and_then(|row| row.try_get("n"))
            .map_err(db_err)?;
        if consumed.rows_affected() == 0 || users > 0 {
            return Ok(None);
        }
        let created = insert_user(&mut tx, ctx, &owner).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(created))
    }

    async fn setup_token_valid(&self, token_hash: &str) -> StorageResult<bool> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM setup_tokens WHERE token_hash = $1) AS tokens, (SELECT COUNT(*) FROM users) AS users",
        )
        .bind(token_hash)
        .fetch_one(&self.reader)
        .await
        .map_err(db_err)?;
        let tokens: i64 = get(&row, "tokens")?;
        let users: i64 = get(&row, "users")?;
        Ok(tokens == 1 && users == 0)
    }

    async fn create_session(
        &self,
        ctx: &AuditContext,
        session: NewSession,
    ) -> StorageResult<Session> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, user_agent, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&session.token_hash)
        .bind(session.user_id)
        .bind(&session.csrf_token)
        .bind(&session.user_agent)
        .bind(millis(ctx.at))
        .bind(millis(session.expires_at))
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get("id"))
        .map_err(db_err)?;
        insert_audit(
            &mut tx,
            ctx,
            "user.login",
            ("user", session.user_id.to_string()),
            None,
            None,
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Session {
            id,
            user_id: session.user_id,
            csrf_token: session.csrf_token,
            created_at: ctx.at,
            expires_at: session.expires_at,
        })
    }

    async fn session_by_token_hash(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StorageResult<Option<(Session, User)>> {
        let row = sqlx::query(
            "SELECT s.id AS session_id, s.csrf_token, s.created_at AS session_created_at, s.expires_at,
                    u.id, u.email, u.name, u.role, u.disabled, u.created_at, u.updated_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled",
        )
        .bind(token_hash)
        .bind(millis(now))
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        row.map(|row| Ok((session_from_row(&row)?, user_from_row(&row)?)))
            .transpose()
    }

    async fn delete_session(&self, ctx: &AuditContext, session_id: i64) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        let user_id: Option<i64> =
            sqlx::query("DELETE FROM sessions WHERE id = $1 RETURNING user_id")
                .bind(session_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?
                .map(|row| get(&row, "user_id"))
                .transpose()?;
        if let Some(user_id) = user_id {
            insert_audit(
                &mut tx,
                ctx,
                "user.logout",
                ("user", user_id.to_string()),
                None,
                None,
            )
            .await?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn delete_expired_sessions(&self, now: Timestamp) -> StorageResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(millis(now))
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn create_token(&self, ctx: &AuditContext, token: NewToken) -> StorageResult<ApiToken> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO api_tokens (user_id, name, prefix, token_hash, scope, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(token.user_id)
        .bind(&token.name)
        .bind(&token.prefix)
        .bind(&token.token_hash)
        .bind(token.scope.as_str())
        .bind(millis(ctx.at))
        .bind(token.expires_at.map(millis))
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get("id"))
        .map_err(db_err)?;
        let created = fetch_token(&mut tx, id).await?;
        insert_audit(
            &mut tx,
            ctx,
            "token.create",
            ("token", id.to_string()),
            None,
            snapshot(&created),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn token_by_hash(&self, token_hash: &str) -> StorageResult<Option<(ApiToken, User)>> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let token = token_from_row(&row)?;
        let user = self
            .user_by_id(token.user_id)
            .await?
            .ok_or(StorageError::NotFound { what: "user" })?;
        Ok(Some((token, user)))
    }

    async fn token_by_id(&self, id: i64) -> StorageResult<Option<ApiToken>> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn list_tokens(
        &self,
        user_id: Option<i64>,
        page: PageRequest,
    ) -> StorageResult<Page<ApiToken>> {
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.id > $1 AND ($2 IS NULL OR t.user_id = $2) ORDER BY t.id LIMIT $3"
        ))
        .bind(page.cursor.unwrap_or(0))
        .bind(user_id)
        .bind(page.fetch_limit())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let tokens = rows
            .iter()
            .map(token_from_row)
            .collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(tokens, page, |token| token.id))
    }

    async fn revoke_token(&self, ctx: &AuditContext, id: i64) -> StorageResult<ApiToken> {
        let mut tx = self.begin_write().await?;
        let before = fetch_token(&mut tx, id).await?;
        sqlx::query("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
            .bind(millis(ctx.at))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let after = fetch_token(&mut tx, id).await?;
        insert_audit(
            &mut tx,
            ctx,
            "token.revoke",
            ("token", id.to_string()),
            snapshot(&before),
            snapshot(&after),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(after)
    }

    async fn mark_token_used(&self, id: i64, at: Timestamp) -> StorageResult<()> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(millis(at))
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn record_login_failure(
        &self,
        key: &str,
        at: Timestamp,
        window_start: Timestamp,
    ) -> StorageResult<u32> {
        let failures: i64 = sqlx::query(
            "INSERT INTO login_failures (key, failures, last_failure_at) VALUES ($1, 1, $2)
             ON CONFLICT (key) DO UPDATE SET
                failures = CASE WHEN login_failures.last_failure_at > $3 THEN login_failures.failures + 1 ELSE 1 END,
                last_failure_at = excluded.last_failure_at
             RETURNING failures",
        )
        .bind(key)
        .bind(millis(at))
        .bind(millis(window_start))
        .fetch_one(&self.writer)
        .await
        .and_then(|row| row.try_get("failures"))
        .map_err(db_err)?;
        Ok(u32::try_from(failures).unwrap_or(u32::MAX))
    }

    async fn login_failures(&self, key: &str, window_start: Timestamp) -> StorageResult<u32> {
        let failures: Option<i64> = sqlx::query(
            "SELECT failures FROM login_failures WHERE key = $1 AND last_failure_at > $2",
        )
        .bind(key)
        .bind(millis(window_start))
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?
        .map(|row| get(&row, "failures"))
        .transpose()?;
        Ok(failures.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
    }

    async fn clear_login_failures(&self, key: &str) -> StorageResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

async fn fetch_token(conn: &mut sqlx::SqliteConnection, id: i64) -> StorageResult<ApiToken> {
    let row = sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db_err)?
    .ok_or(StorageError::NotFound { what: "token" })?;
    token_from_row(&row)
}
