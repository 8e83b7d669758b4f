//! `/api/v1/schedules`: on-call schedules — layers of rotations with restrictions and overrides, in an
//! IANA time zone — who is on call now or at a time (and why), the final shifts of a range, the warnings
//! of the next four weeks (gaps, participants who cannot be paged) and the secret iCalendar feed URLs
//! (`/api/v1/me/calendar` for the caller's own shifts).

mod spec_doc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use upkeep_core::oncall::ScheduleSpec;
use upkeep_core::oncall::service::{
    self, Coverage, NamedShift, OnCallNow, ScheduleInput, ScheduleUpdate, StoredSchedule,
};
use upkeep_core::storage::User;
use utoipa::{IntoParams, ToSchema};

use super::views::Paged;
use super::{ApiPath, ApiQuery, PageQuery};
use crate::AppState;
use crate::auth::{Caller, Reader, Writer};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::ApiJson;

/// How far `/shifts` looks without `to`.
const DEFAULT_SHIFT_RANGE: SignedDuration = SignedDuration::from_hours(28 * 24);

/// A schedule with who is on call now and the warnings of the next four weeks.
#[derive(Serialize, ToSchema)]
pub struct ScheduleView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    /// Slug of the owner team.
    pub team: Option<String>,
    #[schema(value_type = spec_doc::ScheduleSpecDoc)]
    pub spec: ScheduleSpec,
    /// Secret URL of the schedule's iCalendar feed: anyone holding it can read the shifts, without
    /// signing in.
    pub feed_url: String,
    /// Who is on call now, and why.
    pub on_call_now: Vec<OnCallView>,
    /// Problems in the next four weeks.
    pub warnings: WarningsView,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl ScheduleView {
    async fn build(state: &AppState, schedule: StoredSchedule) -> ApiResult<Self> {
        let core = &state.core;
        let now = core.now();
        let on_call = service::on_call_in(core, &schedule, now).await?;
        let warnings = service::warnings(core, &schedule, now).await?;
        Ok(Self {
            id: schedule.id,
            feed_url: service::schedule_feed_url(core, &schedule),
            slug: schedule.slug,
            name: schedule.name,
            team: schedule.team_slug,
            spec: schedule.spec,
            on_call_now: on_call.into_iter().map(OnCallView::from).collect(),
            warnings: warnings.into(),
            created_at: schedule.created_at,
            updated_at: schedule.updated_at,
        })
    }
}

/// Someone on call, and why.
#[derive(Serialize, ToSchema)]
pub struct OnCallView {
    pub user_id: i64,
    /// Absent when no user has this id any more.
    pub name: Option<String>,
    pub email: Option<String>,
    /// Whether the user's account is disabled (they are not paged).
    pub disabled: bool,
    /// Why, in words: `schedule Primary, layer "Weekdays"` or `schedule Primary, override #1 (added)`.
    pub reason: String,
    /// Why, as data: `{"type":"layer","index":0,"name":"Weekdays"}` or
    /// `{"type":"override","index":1,"action":{"kind":"add","user_id":7}}`.
    #[schema(value_type = Object)]
    pub source: Value,
    /// When this shift ends (absent when more than 35 days away).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<Timestamp>,
}

fn person(user: Option<User>) -> (Option<String>, Option<String>, bool) {
    match user {
        Some(user) => (Some(user.name), Some(user.email), user.disabled),
        None => (None, None, false),
    }
}

impl From<OnCallNow> for OnCallView {
    fn from(entry: OnCallNow) -> Self {
        let (name, email, disabled) = person(entry.user);
        Self {
            user_id: entry.user_id,
            name,
            email,
            disabled,
            reason: entry.reason,
            source: serde_json::to_value(&entry.source).unwrap_or(Value::Null),
            until: entry.until,
        }
    }
}

/// One final shift.
#[derive(Serialize, ToSchema)]
pub struct ShiftView {
    pub user_id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
    pub reason: String,
    /// As in `OnCallView.source`.
    #[schema(value_type = Object)]
    pub source: Value,
}

impl From<NamedShift> for ShiftView {
    fn from(shift: NamedShift) -> Self {
        let (name, email, _) = person(shift.user);
        Self {
            user_id: shift.user_id,
            name,
            email,
            start: shift.start,
            end: shift.end,
            reason: shift.reason,
            source: serde_json::to_value(&shift.source).unwrap_or(Value::Null),
        }
    }
}

/// A span with nobody on call.
#[derive(Serialize, ToSchema)]
pub struct GapView {
    #[schema(value_type = String, format = DateTime)]
    pub start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub end: Timestamp,
}

/// A participant who cannot be paged.
#[derive(Serialize, ToSchema)]
pub struct ParticipantWarning {
    pub user_id: i64,
    /// `unknown_user` (deleted since) or `disabled_user`.
    pub issue: String,
    /// Where the spec names them, e.g. `spec.layers[0].rotation.participants[1]`.
    pub fields: Vec<String>,
}

/// What to fix: gaps with nobody on call in `[from, to)` and participants who cannot be paged.
#[derive(Serialize, ToSchema)]
pub struct WarningsView {
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    pub gaps: Vec<GapView>,
    pub participants: Vec<ParticipantWarning>,
}

impl From<Coverage> for WarningsView {
    fn from(coverage: Coverage) -> Self {
        Self {
            from: coverage.from,
            to: coverage.to,
            gaps: coverage
                .gaps
                .into_iter()
                .map(|gap| GapView {
                    start: gap.start,
                    end: gap.end,
                })
                .collect(),
            participants: coverage
                .participants
                .into_iter()
                .map(|problem| ParticipantWarning {
                    user_id: problem.user_id,
                    issue: serde_json::to_value(problem.issue)
                        .ok()
                        .and_then(|value| value.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    fields: problem.fields,
                })
                .collect(),
        }
    }
}

/// A new schedule.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSchedule {
    /// Lower-case letters, digits and dashes.
    pub slug: String,
    /// Defaults to the slug.
    pub name: Option<String>,
    /// Slug of the owner team.
    pub team: Option<String>,
    #[schema(value_type = spec_doc::ScheduleSpecDoc)]
    pub spec: ScheduleSpec,
}

/// The whole schedule but its slug, replacing what is stored (an absent `team` removes the team, an
/// absent `name` makes it the slug).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceSchedule {
    pub name: Option<String>,
    pub team: Option<String>,
    #[schema(value_type = spec_doc::ScheduleSpecDoc)]
    pub spec: ScheduleSpec,
}

fn parse_time(field: &str, text: &str) -> Result<Timestamp, ApiError> {
    text.trim().parse::<Timestamp>().map_err(|_| {
        ApiError::validation(
            field,
            format!("{field}: {text:?} is not an RFC 3339 time with an offset, e.g. 2026-03-29T09:00:00+02:00"),
        )
    })
}

/// List schedules, oldest first.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules", params(PageQuery),
    responses((status = 200, body = Paged<ScheduleView>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_schedules(
    State(state): State<AppState>,
    _reader: Reader,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<ScheduleView>>> {
    let page = service::list_schedules(&state.core, query.page()?).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for schedule in page.items {
        items.push(ScheduleView::build(&state, schedule).await?);
    }
    Ok(Json(Paged {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// Create a schedule (write). The spec is checked whole: every problem names its field, e.g.
/// `spec.layers[0].rotation.handoff_time`, and every user id must exist.
#[utoipa::path(post, path = "/api/v1/schedules", tag = "schedules", request_body = CreateSchedule,
    responses((status = 201, body = ScheduleView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_schedule(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<CreateSchedule>,
) -> ApiResult<(StatusCode, Json<ScheduleView>)> {
    let ctx = caller.audit(&state);
    let input = ScheduleInput {
        slug: body.slug,
        name: body.name,
        team: body.team,
        spec: body.spec,
    };
    let schedule = service::create_schedule(&state.core, &ctx, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(ScheduleView::build(&state, schedule).await?),
    ))
}

/// A schedule, who is on call now and the warnings of the next four weeks.
#[utoipa::path(get, path = "/api/v1/schedules/{slug}", tag = "schedules", params(("slug" = String, Path)),
    responses((status = 200, body = ScheduleView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_schedule(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<Json<ScheduleView>> {
    let schedule = service::schedule(&state.core, &slug).await?;
    Ok(Json(ScheduleView::build(&state, schedule).await?))
}

/// Replace a schedule's name, team and spec (write).
#[utoipa::path(put, path = "/api/v1/schedules/{slug}", tag = "schedules", params(("slug" = String, Path)), request_body = ReplaceSchedule,
    responses((status = 200, body = ScheduleView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace_schedule(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<ReplaceSchedule>,
) -> ApiResult<Json<ScheduleView>> {
    let ctx = caller.audit(&state);
    let update = ScheduleUpdate {
        name: Some(body.name.unwrap_or_default()),
        team: Some(body.team),
        spec: Some(body.spec),
    };
    let schedule = service::update_schedule(&state.core, &ctx, &slug, update).await?;
    Ok(Json(ScheduleView::build(&state, schedule).await?))
}

/// Delete a schedule (write).
#[utoipa::path(delete, path = "/api/v1/schedules/{slug}", tag = "schedules", params(("slug" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_schedule(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let ctx = caller.audit(&state);
    service::delete_schedule(&state.core, &ctx, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give the schedule a new feed URL; the old one stops working at once (write).
#[utoipa::path(post, path = "/api/v1/schedules/{slug}/rotate-feed", tag = "schedules", params(("slug" = String, Path)),
    responses((status = 200, body = ScheduleView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate_feed(
    State(state): State<AppState>,
    Writer(caller): Writer,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult<Json<ScheduleView>> {
    let ctx = caller.audit(&state);
    let schedule = service::rotate_feed_token(&state.core, &ctx, &slug).await?;
    Ok(Json(ScheduleView::build(&state, schedule).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OnCallQuery {
    /// RFC 3339 time (default now).
    pub at: Option<String>,
}

/// Who is on call at a time.
#[derive(Serialize, ToSchema)]
pub struct OnCallAnswer {
    pub schedule: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub on_call: Vec<OnCallView>,
}

/// Who is on call now, or at `at`, and why.
#[utoipa::path(get, path = "/api/v1/schedules/{slug}/oncall", tag = "schedules", params(("slug" = String, Path), OnCallQuery),
    responses((status = 200, body = OnCallAnswer), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn get_on_call(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(query): ApiQuery<OnCallQuery>,
) -> ApiResult<Json<OnCallAnswer>> {
    let at = match query.at.as_deref() {
        Some(text) if !text.trim().is_empty() => parse_time("at", text)?,
        _ => state.core.now(),
    };
    let on_call = service::on_call_now(&state.core, &slug, at).await?;
    Ok(Json(OnCallAnswer {
        schedule: slug,
        at,
        on_call: on_call.into_iter().map(OnCallView::from).collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShiftsQuery {
    /// RFC 3339 (default now).
    pub from: Option<String>,
    /// RFC 3339, after `from`, at most 366 days later (default 28 days after `from`).
    pub to: Option<String>,
}

/// The final shifts of a range.
#[derive(Serialize, ToSchema)]
pub struct ShiftsAnswer {
    pub schedule: String,
    #[schema(value_type = String, format = DateTime)]
    pub from: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub to: Timestamp,
    /// Ordered by start, clipped to the range; several at once when overrides add people.
    pub shifts: Vec<ShiftView>,
}

/// The final shifts (layers and overrides applied) between `from` and `to`.
#[utoipa::path(get, path = "/api/v1/schedules/{slug}/shifts", tag = "schedules", params(("slug" = String, Path), ShiftsQuery),
    responses((status = 200, body = ShiftsAnswer), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn get_shifts(
    State(state): State<AppState>,
    _reader: Reader,
    ApiPath(slug): ApiPath<String>,
    ApiQuery(query): ApiQuery<ShiftsQuery>,
) -> ApiResult<Json<ShiftsAnswer>> {
    let from = match query.from.as_deref() {
        Some(text) if !text.trim().is_empty() => parse_time("from", text)?,
        _ => state.core.now(),
    };
    let to = match query.to.as_deref() {
        Some(text) if !text.trim().is_empty() => parse_time("to", text)?,
        _ => from
            .checked_add(DEFAULT_SHIFT_RANGE)
            .map_err(|_| ApiError::validation("from", "from: too far in the future"))?,
    };
    let shifts = service::shifts(&state.core, &slug, from, to).await?;
    Ok(Json(ShiftsAnswer {
        schedule: slug,
        from,
        to,
        shifts: shifts.into_iter().map(ShiftView::from).collect(),
    }))
}

/// The caller's own calendar feed.
#[derive(Serialize, ToSchema)]
pub struct CalendarView {
    /// Secret iCalendar URL of the caller's shifts in every schedule (one week back, eight ahead);
    /// subscribe to it in a calendar app. Anyone holding it can read those shifts.
    pub url: String,
}

/// The caller's own on-call calendar feed URL (made on first use).
#[utoipa::path(get, path = "/api/v1/me/calendar", tag = "account",
    responses((status = 200, body = CalendarView), (status = 401, body = ErrorBody)))]
pub async fn my_calendar(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<CalendarView>> {
    let url = service::my_calendar_url(&state.core, caller.principal.user.id).await?;
    Ok(Json(CalendarView { url }))
}
