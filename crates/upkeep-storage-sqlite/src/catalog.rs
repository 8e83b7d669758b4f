//! Teams, services and the service dependency graph on SQLite.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use upkeep_storage::{
    AuditContext, CatalogStore, NewService, NewTeam, Page, PageRequest, Service, ServiceChanges,
    ServiceLink, StorageError, StorageResult, Team, TeamChanges,
};

use crate::SqliteStorage;
use crate::support::{db_err, get, insert_audit, millis, snapshot, timestamp, unique_err};

const TEAM_COLUMNS: &str = "id, slug, name, description, created_at, updated_at";
const SERVICE_SELECT: &str = "SELECT s.id, s.slug, s.name, s.description, s.team_id, t.slug AS team_slug, s.links_json, s.ping_key, s.created_at, s.updated_at
     FROM services s LEFT JOIN teams t ON t.id = s.team_id";

fn team_from_row(row: &SqliteRow) -> StorageResult<Team> {
    Ok(Team {
        id: get(row, "id")?,
        slug: get(row, "slug")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
    })
}

async fn service_from_row(conn: &mut SqliteConnection, row: &SqliteRow) -> StorageResult<Service> {
    let id: i64 = get(row, "id")?;
    let links_json: String = get(row, "links_json")?;
    let links: Vec<ServiceLink> = serde_json::from_str(&links_json)
        .map_err(|err| StorageError::Other(format!("stored service links are invalid: {err}")))?;
    let depends_on = sqlx::query(
        "SELECT s.slug FROM service_dependencies d JOIN services s ON s.id = d.depends_on_id
         WHERE d.service_id = $1 ORDER BY s.slug",
    )
    .bind(id)
    .fetch_all(conn)
    .await
    .map_err(db_err)?
    .iter()
    .map(|row| get::<String>(row, "slug"))
    .collect::<StorageResult<Vec<_>>>()?;
    Ok(Service {
        id,
        slug: get(row, "slug")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        team_id: get(row, "team_id")?,
        team_slug: get(row, "team_slug")?,
        links,
        depends_on,
        ping_key: get(row, "ping_key")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
    })
}

async fn fetch_team(conn: &mut SqliteConnection, id: i64) -> StorageResult<Team> {
    let row = sqlx::query(&format!("SELECT {TEAM_COLUMNS} FROM teams WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db_err)?
        .ok_or(StorageError::NotFound { what: "team" })?;
    team_from_row(&row)
}

async fn fetch_service(conn: &mut SqliteConnection, id: i64) -> StorageResult<Option<Service>> {
    let row = sqlx::query(&format!("{SERVICE_SELECT} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
    match row {
        Some(row) => Ok(Some(service_from_row(conn, &row).await?)),
        None => Ok(None),
    }
}

async fn replace_dependencies(
    conn: &mut SqliteConnection,
    id: i64,
    depends_on: &[i64],
) -> StorageResult<()> {
    sqlx::query("DELETE FROM service_dependencies WHERE service_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    for target in depends_on {
        sqlx::query("INSERT INTO service_dependencies (service_id, depends_on_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(target)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

fn links_text(links: &[ServiceLink]) -> StorageResult<String> {
    serde_json::to_string(links).map_err(|err| StorageError::Other(err.to_string()))
}

#[async_trait::async_trait]
impl CatalogStore for SqliteStorage {
    async fn create_team(&self, ctx: &AuditContext, team: NewTeam) -> StorageResult<Team> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO teams (slug, name, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING {TEAM_COLUMNS}"
        ))
        .bind(&team.slug)
        .bind(&team.name)
        .bind(&team.description)
        .bind(millis(ctx.at))
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| unique_err(err, format!("a team with slug {} already exists", team.slug), "slug"))?;
        let created = team_from_row(&row)?;
        insert_audit(
            &mut tx,
            ctx,
            "team.create",
            ("team", created.slug.clone()),
            None,
            snapshot(&created),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn team_by_slug(&self, slug: &str) -> StorageResult<Option<Team>> {
        let row = sqlx::query(&format!("SELECT {TEAM_COLUMNS} FROM teams WHERE slug = $1"))
            .bind(slug)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.as_ref().map(team_from_row).transpose()
    }

    async fn list_teams(&self, page: PageRequest) -> StorageResult<Page<Team>> {
        let rows = sqlx::query(&format!(
            "SELECT {TEAM_COLUMNS} FROM teams WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(page.cursor.unwrap_or(0))
        .bind(page.fetch_limit())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        let teams = rows
            .iter()
            .map(team_from_row)
            .collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(teams, page, |team| team.id))
    }

    async fn update_team(
        &self,
        ctx: &AuditContext,
        id: i64,
        changes: TeamChanges,
    ) -> StorageResult<Team> {
        let mut tx = self.begin_write().await?;
        let before = fetch_team(&mut tx, id).await?;
        let row = sqlx::query(&format!(
            "UPDATE teams SET name = $1, description = $2, updated_at = $3 WHERE id = $4 RETURNING {TEAM_COLUMNS}"
        ))
        .bind(changes.name.as_ref().unwrap_or(&before.name))
        .bind(changes.description.as_ref().unwrap_or(&before.description))
        .bind(millis(ctx.at))
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let after = team_from_row(&row)?;
        insert_audit(
            &mut tx,
            ctx,
            "team.update",
            ("team", after.slug.clone()),
            snapshot(&before),
            snapshot(&after),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(after)
    }

    async fn delete_team(&self, ctx: &AuditContext, id: i64) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        let before = fetch_team(&mut tx, id).await?;
        let owned: Vec<String> =
            sqlx::query("SELECT slug FROM services WHERE team_id = $1 ORDER BY slug LIMIT 5")
                .bind(id)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?
                .iter()
                .map(|row| get(row, "slug"))
                .collect::<StorageResult<_>>()?;
        if !owned.is_empty() {
            return Err(StorageError::conflict(
                format!(
                    "team {} still owns services ({}); move or delete them first",
                    before.slug,
                    owned.join(", ")
                ),
                None,
            ));
        }
        sqlx::query("DELETE FROM teams WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_audit(
            &mut tx,
            ctx,
            "team.delete",
            ("team", before.slug.clone()),
            snapshot(&before),
            None,
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn create_service(
        &self,
        ctx: &AuditContext,
        service: NewService,
    ) -> StorageResult<Service> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO services (slug, name, description, team_id, links_json, created_at, updated_at, ping_key)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7) RETURNING id",
        )
        .bind(&service.slug)
        .bind(&service.name)
        .bind(&service.description)
        .bind(service.team_id)
        .bind(links_text(&service.links)?)
        .bind(millis(ctx.at))
        .bind(&service.ping_key)
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get("id"))
        .map_err(|err| unique_err(err, format!("a service with slug {} already exists", service.slug), "slug"))?;
        replace_dependencies(&mut tx, id, &service.depends_on).await?;
        let created = fetch_service(&mut tx, id)
            .await?
            .ok_or(StorageError::NotFound { what: "service" })?;
        insert_audit(
            &mut tx,
            ctx,
            "service.create",
            ("service", created.slug.clone()),
            None,
            snapshot(&created),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn service_by_slug(&self, slug: &str) -> StorageResult<Option<Service>> {
        let mut conn = self.reader.acquire().await.map_err(db_err)?;
        let row = sqlx::query(&format!("{SERVICE_SELECT} WHERE s.slug = $1"))
            .bind(slug)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        match row {
            Some(row) => Ok(Some(service_from_row(&mut conn, &row).await?)),
            None => Ok(None),
        }
    }

    async fn service_by_id(&self, id: i64) -> StorageResult<Option<Service>> {
        let mut conn = self.reader.acquire().await.map_err(db_err)?;
        fetch_service(&mut conn, id).await
    }

    async fn list_services(
        &self,
        team_id: Option<i64>,
        page: PageRequest,
    ) -> StorageResult<Page<Service>> {
        let mut conn = self.reader.acquire().await.map_err(db_err)?;
        let rows = sqlx::query(&format!(
            "{SERVICE_SELECT} WHERE s.id > $1 AND ($2 IS NULL OR s.team_id = $2) ORDER BY s.id LIMIT $3"
        ))
        .bind(page.cursor.unwrap_or(0))
        .bind(team_id)
        .bind(page.fetch_limit())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        let mut services = Vec::with_capacity(rows.len());
        for row in &rows {
            services.push(service_from_row(&mut conn, row).await?);
        }
        Ok(Page::from_rows(services, page, |service| service.id))
    }

    async fn update_service(
        &self,
        ctx: &AuditContext,
        id: i64,
        changes: ServiceChanges,
    ) -> StorageResult<Service> {
        let mut tx = self.begin_write().await?;
        let before = fetch_service(&mut tx, id)
            .await?
            .ok_or(StorageError::NotFound { what: "service" })?;
        sqlx::query(
            "UPDATE services SET name = $1, description = $2, team_id = $3, links_json = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(changes.name.as_ref().unwrap_or(&before.name))
        .bind(changes.description.as_ref().unwrap_or(&before.description))
        .bind(changes.team_id.unwrap_or(before.team_id))
        .bind(links_text(changes.links.as_ref().unwrap_or(&before.links))?)
        .bind(millis(ctx.at))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(depends_on) = &changes.depends_on {
            replace_dependencies(&mut tx, id, depends_on).await?;
        }
        let after = fetch_service(&mut tx, id)
            .await?
            .ok_or(StorageError::NotFound { what: "service" })?;
        insert_audit(
            &mut tx,
            ctx,
            "service.update",
            ("service", after.slug.clone()),
            snapshot(&before),
            snapshot(&after),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(after)
    }

    async fn delete_service(&self, ctx: &AuditContext, id: i64) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        let before = fetch_service(&mut tx, id)
            .await?
            .ok_or(StorageError::NotFound { what: "service" })?;
        let dependents: Vec<String> = sqlx::query(
            "SELECT s.slug FROM service_dependencies d JOIN services s ON s.id = d.service_id WHERE d.depends_on_id = $1 ORDER BY s.slug",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?
        .iter()
        .map(|row| get(row, "slug"))
        .collect::<StorageResult<_>>()?;
        if !dependents.is_empty() {
            return Err(StorageError::conflict(
                format!(
                    "services depend on {} ({}); remove those dependencies first",
                    before.slug,
                    dependents.join(", ")
                ),
                None,
            ));
        }
        sqlx::query("DELETE FROM services WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_audit(
            &mut tx,
            ctx,
            "service.delete",
            ("service", before.slug.clone()),
            snapshot(&before),
            None,
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    async fn dependency_edges(&self) -> StorageResult<Vec<(i64, i64)>> {
        sqlx::query("SELECT service_id, depends_on_id FROM service_dependencies")
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?
            .iter()
            .map(|row| Ok((get(row, "service_id")?, get(row, "depends_on_id")?)))
            .collect()
    }
}
