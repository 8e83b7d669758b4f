//! `/api/v1/me/contact-methods` and `/api/v1/me/notification-rules`: each person manages how they are
//! reached (any role; a token needs write scope to change anything), with a "send test" that answers what
//! came of it; `/api/v1/users/{id}/contact-methods` lets admins read anyone's. Views never contain channel
//! secrets: they show the kind, the label, whether a test got through and a redacted summary.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use upkeep_core::contacts::{self, ContactInput, ContactUpdate, SavedContact};
use upkeep_core::identity::Via;
use upkeep_core::notify::DeliveryOutcome;
use upkeep_core::storage::{ContactMethod, NotificationRule, Scope};
use upkeep_core::{Core, CoreError};
use utoipa::ToSchema;

use super::ApiPath;
use crate::AppState;
use crate::auth::{AdminCaller, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::ApiJson;

/// A signed-in caller allowed to change their own contact settings: any role, but not a read-scoped token.
pub struct SelfWriter(pub Caller);

impl FromRequestParts<AppState> for SelfWriter {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if let Via::Token {
            scope: Scope::Read, ..
        } = caller.principal.via
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this token's scope is read; changing contact methods needs a write token or a browser session",
            ));
        }
        Ok(Self(caller))
    }
}

#[derive(Serialize, ToSchema)]
pub struct ContactMethodView {
    pub id: i64,
    pub user_id: i64,
    pub label: String,
    /// webhook, slack, teams, discord, telegram, ntfy or email.
    pub kind: String,
    /// Enough to recognise the channel without its secrets, e.g. `hooks.slack.com/…`.
    pub summary: String,
    /// A test notification was delivered since the settings last changed.
    pub verified: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl ContactMethodView {
    fn new(core: &Core, method: ContactMethod) -> Self {
        Self {
            summary: contacts::stored_summary(core, &method),
            id: method.id,
            user_id: method.user_id,
            label: method.label,
            kind: method.kind,
            verified: method.verified,
            created_at: method.created_at,
            updated_at: method.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ContactMethodList {
    pub items: Vec<ContactMethodView>,
}

#[derive(Serialize, ToSchema)]
pub struct SavedContactMethod {
    pub contact_method: ContactMethodView,
    /// The signing secret generated for a webhook sent without one; shown this once.
    pub generated_webhook_secret: Option<String>,
}

impl SavedContactMethod {
    fn new(core: &Core, saved: SavedContact) -> Self {
        Self {
            contact_method: ContactMethodView::new(core, saved.method),
            generated_webhook_secret: saved.generated_secret,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContactMethod {
    /// What it is, e.g. "Phone (ntfy)"; defaults to the kind.
    pub label: Option<String>,
    /// webhook, slack, teams, discord, telegram, ntfy or email.
    pub kind: String,
    /// The channel's settings, e.g. `{"url": "https://…", "secret": "whsec_…"}` for a webhook (the secret
    /// is generated when left out), `{"webhook_url": "https://hooks.slack.com/…"}` for Slack.
    #[schema(value_type = Object)]
    pub config: Value,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContactMethod {
    pub label: Option<String>,
    /// A new kind; `config` must then hold all its settings.
    pub kind: Option<String>,
    /// Settings to change, laid over the current ones (`null` removes an optional one). Changing settings
    /// makes the method unverified until a test is delivered.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct TestOutcomeView {
    /// delivered, retry_later, failed or ambiguous.
    pub outcome: String,
    /// How it was delivered (delivered only).
    pub detail: Option<String>,
    /// Why it was not (or may not have been) delivered.
    pub reason: Option<String>,
    /// When the receiver asked to be tried again later.
    pub retry_after_seconds: Option<u64>,
    /// Whether the method is verified now.
    pub verified: bool,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationRuleView {
    pub id: i64,
    pub user_id: i64,
    pub contact_method_id: i64,
    /// How long after a page starts, e.g. `5m` (`0s` = at once).
    pub delay: String,
    pub delay_seconds: u64,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<NotificationRule> for NotificationRuleView {
    fn from(rule: NotificationRule) -> Self {
        let delay = contacts::rule_delay(&rule);
        Self {
            id: rule.id,
            user_id: rule.user_id,
            contact_method_id: rule.contact_method_id,
            delay: contacts::format_delay(delay),
            delay_seconds: delay.as_secs(),
            created_at: rule.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct NotificationRuleList {
    /// Shortest delay first. With no rules, every verified contact method is notified at once.
    pub items: Vec<NotificationRuleView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNotificationRule {
    /// One of the caller's contact methods.
    pub contact_method_id: i64,
    /// How long after a page starts: `0` (at once), `5m`, `1h30m`, … at most `24h`.
    pub delay: String,
}

fn method_list(core: &Core, methods: Vec<ContactMethod>) -> ContactMethodList {
    ContactMethodList {
        items: methods
            .into_iter()
            .map(|method| ContactMethodView::new(core, method))
            .collect(),
    }
}

/// List the caller's contact methods.
#[utoipa::path(get, path = "/api/v1/me/contact-methods", tag = "contacts",
    responses((status = 200, body = ContactMethodList), (status = 401, body = ErrorBody)))]
pub async fn list_my_contact_methods(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<ContactMethodList>> {
    let me = caller.principal.user.id;
    let methods = contacts::list_contact_methods(&state.core, Some(&caller.principal), me).await?;
    Ok(Json(method_list(&state.core, methods)))
}

/// Add a contact method for the caller. Its settings are checked now (errors name the field, e.g.
/// `config.url`) and stored encrypted; it is unverified until a test is delivered.
#[utoipa::path(post, path = "/api/v1/me/contact-methods", tag = "contacts", request_body = CreateContactMethod,
    responses((status = 201, body = SavedContactMethod), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_my_contact_method(
    State(state): State<AppState>,
    SelfWriter(caller): SelfWriter,
    ApiJson(body): ApiJson<CreateContactMethod>,
) -> ApiResult<(StatusCode, Json<SavedContactMethod>)> {
    let ctx = caller.audit(&state);
    let input = ContactInput {
        label: body.label.unwrap_or_default(),
        kind: body.kind,
        config: body.config,
    };
    let me = caller.principal.user.id;
    let saved =
        contacts::create_contact_method(&state.core, &ctx, Some(&caller.principal), me, input)
            .await?;
    Ok((
        StatusCode::CREATED,
        Json(SavedContactMethod::new(&state.core, saved)),
    ))
}

/// Change one of the caller's contact methods.
#[utoipa::path(patch, path = "/api/v1/me/contact-methods/{id}", tag = "contacts", params(("id" = i64, Path)),
    request_body = UpdateContactMethod,
    responses((status = 200, body = SavedContactMethod), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn update_my_contact_method(
    State(state): State<AppState>,
    SelfWriter(caller): SelfWriter,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<UpdateContactMethod>,
) -> ApiResult<Json<SavedContactMethod>> {
    let ctx = caller.audit(&state);
    let update = ContactUpdate {
        label: body.label,
        kind: body.kind,
        config: body.config,
    };
    let me = caller.principal.user.id;
    let saved =
        contacts::update_contact_method(&state.core, &ctx, Some(&caller.principal), me, id, update)
            .await?;
    Ok(Json(SavedContactMethod::new(&state.core, saved)))
}

/// Remove one of the caller's contact methods and the rules that use it.
#[utoipa::path(delete, path = "/api/v1/me/contact-methods/{id}", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_my_contact_method(
    State(state): State<AppState>,
    SelfWriter(caller): SelfWriter,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let ctx = caller.audit(&state);
    let me = caller.principal.user.id;
    contacts::delete_contact_method(&state.core, &ctx, Some(&caller.principal), me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a test notification through one of the caller's contact methods and answer what came of it (200
/// whatever the outcome, e.g. `{"outcome":"failed","reason":"SMTP server refused the login: 535 …"}`). A
/// delivered test marks the method verified. 422 when its stored settings are no longer valid.
#[utoipa::path(post, path = "/api/v1/me/contact-methods/{id}/test", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = TestOutcomeView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn test_my_contact_method(
    State(state): State<AppState>,
    SelfWriter(caller): SelfWriter,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<TestOutcomeView>> {
    let ctx = caller.audit(&state);
    let me = caller.principal.user.id;
    let outcome = contacts::send_test(&state.core, &ctx, Some(&caller.principal), me, id).await?;
    let verified = state
        .core
        .storage
        .contact_method_by_id(id)
        .await
        .map_err(CoreError::from)?
        .is_some_and(|method| method.verified);
    let (detail, reason, retry_after) = match &outcome {
        DeliveryOutcome::Delivered { detail } => (Some(detail.clone()), None, None),
        DeliveryOutcome::RetryLater { after, reason } => {
            (None, Some(reason.clone()), after.map(|a| a.as_secs()))
        }
        DeliveryOutcome::Failed { reason } | DeliveryOutcome::Ambiguous { reason } => {
            (None, Some(reason.clone()), None)
        }
    };
    Ok(Json(TestOutcomeView {
        outcome: contacts::outcome_name(&outcome).to_string(),
        detail,
        reason,
        retry_after_seconds: retry_after,
        verified,
    }))
}

/// List the caller's notification rules.
#[utoipa::path(get, path = "/api/v1/me/notification-rules", tag = "contacts",
    responses((status = 200, body = NotificationRuleList), (status = 401, body = ErrorBody)))]
pub async fn list_my_notification_rules(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<NotificationRuleList>> {
    let me = caller.principal.user.id;
    let rules = contacts::list_rules(&state.core, Some(&caller.principal), me).await?;
    Ok(Json(NotificationRuleList {
        items: rules.into_iter().map(NotificationRuleView::from).collect(),
    }))
}

/// Add a notification rule: reach the caller through one of their contact methods this long after a page
/// starts.
#[utoipa::path(post, path = "/api/v1/me/notification-rules", tag = "contacts", request_body = CreateNotificationRule,
    responses((status = 201, body = NotificationRuleView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_my_notification_rule(
    State(state): State<AppState>,
    SelfWriter(caller): SelfWriter,
    ApiJson(body): ApiJson<CreateNotificationRule>,
) -> ApiResult<(StatusCode, Json<NotificationRuleView>)> {
    let ctx = caller.audit(&state);
    let me = caller.principal.user.id;
    let rule = contacts::create_rule(
        &state.core,
        &ctx,
        Some(&caller.principal),
        me,
        body.contact_method_id,
        &body.delay,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(rule.into())))
}

/// Remove one of the caller's notification rules.
#[utoipa::path(delete, path = "/api/v1/me/notification-rules/{id}", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_my_notification_rule(
    State(state): State<AppState>,
    SelfWriter(caller): SelfWriter,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let ctx = caller.audit(&state);
    let me = caller.principal.user.id;
    contacts::delete_rule(&state.core, &ctx, Some(&caller.principal), me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List a person's contact methods (admin).
#[utoipa::path(get, path = "/api/v1/users/{id}/contact-methods", tag = "contacts", params(("id" = i64, Path)),
    responses((status = 200, body = ContactMethodList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_user_contact_methods(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ContactMethodList>> {
    if state
        .core
        .storage
        .user_by_id(id)
        .await
        .map_err(CoreError::from)?
        .is_none()
    {
        return Err(ApiError::not_found("user not found"));
    }
    let methods = contacts::list_contact_methods(&state.core, Some(&caller.principal), id).await?;
    Ok(Json(method_list(&state.core, methods)))
}
