//! `/v1/campaigns`: create, read, list, update, pause, resume, archive.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use suite_domain::CampaignStatus;
use suite_http::{cursor, ApiError, ApiPath, ApiQuery, FieldError, Principal, ValidJson, Validate};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::campaign::schema;
use crate::campaign::validate::{check, check_patch, Definition};
use crate::campaign::{CampaignPatch, CreateCampaign};
use crate::consumer::publish_current;
use crate::optimizer::decide;
use crate::state::{cache_key, reader, AppState};
use crate::store::allocations::reason;
use crate::store::campaigns::{self, CampaignView, NewCampaign, Position};
use crate::store::counters;

/// The campaigns routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/campaigns", post(create).get(list))
        .route("/v1/campaigns/{id}", get(get_one).patch(update))
        .route("/v1/campaigns/{id}/pause", post(pause))
        .route("/v1/campaigns/{id}/resume", post(resume))
        .route("/v1/campaigns/{id}/archive", post(archive))
}

impl CreateCampaign {
    fn definition(&self) -> Definition<'_> {
        Definition {
            name: &self.name,
            target_categories: &self.target_categories,
            ladder: &self.ladder,
            objective: self.objective,
            daily_budget_micros: self.daily_budget_micros,
            channel_costs: &self.channel_costs,
            min_share: self.min_share,
            warmup_sends: self.warmup_sends,
            pacing_burst_bps: self.pacing_burst_bps,
            variants: self
                .variants
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("/variants/{i}"), v.name.as_str(), &v.content))
                .collect(),
        }
    }
}

impl Validate for CreateCampaign {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        check(&self.definition())
    }
}

impl Validate for CampaignPatch {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        check_patch(self)
    }
}

fn definition_of(view: &CampaignView) -> Definition<'_> {
    Definition {
        name: &view.name,
        target_categories: &view.target_categories,
        ladder: &view.ladder,
        objective: view.objective,
        daily_budget_micros: view.daily_budget_micros,
        channel_costs: &view.channel_costs,
        min_share: view.min_share,
        warmup_sends: i64::from(view.warmup_sends),
        pacing_burst_bps: i64::from(view.pacing_burst_bps),
        variants: view
            .variants
            .iter()
            .map(|v| {
                (
                    format!("/variant_content/{}", v.name),
                    v.name.as_str(),
                    &v.content,
                )
            })
            .collect(),
    }
}

fn to_i32(value: i64) -> i32 {
    // Validated ranges (≤ 1,000,000 and ≤ 10,000) fit.
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn created(view: CampaignView) -> Response {
    let location = HeaderValue::from_str(&format!("/v1/campaigns/{}", view.id)).ok();
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Create a campaign; it starts `active` with uniform shares, which are
/// published on `campaigns.allocations`.
#[utoipa::path(post, path = "/v1/campaigns", tag = "campaigns", request_body = CreateCampaign,
    responses((status = 201, body = CampaignView, description = "Created",
                headers(("Location" = String, description = "`/v1/campaigns/{id}` of the new campaign"))),
              (status = 422, description = "Invalid campaign (every problem listed with its field path)")))]
async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ValidJson(body): ValidJson<CreateCampaign>,
) -> Result<Response, ApiError> {
    let ws = principal.workspace_id;
    let new = NewCampaign {
        name: body.name.trim().to_owned(),
        target_categories: body.target_categories.clone(),
        ladder: body.ladder.clone(),
        objective: body.objective,
        daily_budget_micros: body.daily_budget_micros,
        channel_costs: body.channel_costs.clone(),
        min_share: body.min_share,
        warmup_sends: to_i32(body.warmup_sends),
        pacing_burst_bps: to_i32(body.pacing_burst_bps),
        variants: body
            .variants
            .into_iter()
            .map(|v| (v.name.trim().to_owned(), v.content))
            .collect(),
    };
    let mut tx = state.platform.db.primary().begin().await?;
    let id = campaigns::insert(&mut tx, &state.definitions_topic, ws, &new).await?;
    let view = campaigns::get(&mut tx, ws, id, true)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("inserted campaign not found")))?;
    publish_current(
        &state,
        &mut tx,
        &view,
        CampaignStatus::Active,
        reason::CREATED,
    )
    .await?;
    tx.commit().await?;
    after_write(&state, &principal, id).await;
    tracing::info!(campaign_id = %id, workspace_id = %ws, "campaign created");
    Ok(created(view))
}

async fn after_write(state: &AppState, principal: &Principal, id: Uuid) {
    if let Err(err) = state.platform.db.note_write(&principal.client_id()).await {
        tracing::warn!(error = %err, "read-your-writes position not recorded");
    }
    state.invalidate(principal.workspace_id, id).await;
}

/// One campaign with its variants; reads the caller's own writes at once.
#[utoipa::path(get, path = "/v1/campaigns/{id}", tag = "campaigns", params(("id" = Uuid, Path)),
    responses((status = 200, body = CampaignView), (status = 404, description = "No such campaign in this workspace")))]
async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<CampaignView>, ApiError> {
    load(&state, &principal, id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// A campaign through the cache (replica on a miss).
pub async fn load(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<Option<CampaignView>, ApiError> {
    let ws = principal.workspace_id;
    let key = cache_key(ws, id);
    let view = state
        .campaigns
        .get_or_load(&key, async {
            // Chosen only on a miss; a replica that has the campaign's last change.
            let pool = state.platform.db.read(Some(&reader(&key))).await;
            let mut conn = pool.acquire().await?;
            campaigns::get(&mut conn, ws, id, false).await
        })
        .await?;
    Ok(view)
}

/// Query of `GET /v1/campaigns`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only campaigns with this status.
    #[param(schema_with = schema::status)]
    pub status: Option<CampaignStatus>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, nullable = false)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page; a cursor this API did not issue is refused with 400.
    #[param(nullable = false)]
    pub cursor: Option<String>,
}

impl Validate for ListQuery {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        if self.limit.is_some_and(|l| !(1..=200).contains(&l)) {
            return Err(vec![FieldError::new("?limit", "must be between 1 and 200")]);
        }
        Ok(())
    }
}

/// A page of campaigns.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignPage {
    /// Campaigns, newest first.
    pub data: Vec<CampaignView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// List the workspace's campaigns, newest first, from a read replica.
#[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns", params(ListQuery),
    responses((status = 200, body = CampaignPage), (status = 400, description = "A `cursor` this API did not issue"),
              (status = 422, description = "Bad status or limit")))]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<CampaignPage>, ApiError> {
    let after: Option<Position> = query.cursor.as_deref().map(cursor::decode).transpose()?;
    let status = query.status;
    let limit = query.limit.unwrap_or(50);
    let pool = state.platform.db.read(Some(&principal.client_id())).await;
    let (data, more) =
        campaigns::list(&pool, principal.workspace_id, status, after.as_ref(), limit).await?;
    let next_cursor = more
        .then(|| {
            data.last().map(|c| {
                cursor::encode(&Position {
                    t: c.created_at,
                    id: c.id,
                })
            })
        })
        .flatten();
    Ok(Json(CampaignPage { data, next_cursor }))
}

/// Change a campaign's settings (fields not given keep their values); the
/// version goes up by one and the shares are recomputed and published.
#[utoipa::path(patch, path = "/v1/campaigns/{id}", tag = "campaigns", params(("id" = Uuid, Path)),
    request_body = CampaignPatch,
    responses((status = 200, body = CampaignView), (status = 404), (status = 409, description = "Archived, or not at expected_version"),
              (status = 422, description = "Invalid change")))]
async fn update(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
    ValidJson(patch): ValidJson<CampaignPatch>,
) -> Result<Json<CampaignView>, ApiError> {
    let ws = principal.workspace_id;
    let mut tx = state.platform.db.primary().begin().await?;
    let current = campaigns::get(&mut tx, ws, id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    if current.status == CampaignStatus::Archived {
        return Err(ApiError::Conflict(
            "an archived campaign cannot change".into(),
        ));
    }
    if patch.expected_version.is_some_and(|v| v != current.version) {
        return Err(ApiError::Conflict(format!(
            "the campaign is at version {}, not {}",
            current.version,
            patch.expected_version.unwrap_or_default()
        )));
    }
    let merged = apply_patch(&current, patch)?;
    campaigns::update(&mut tx, &state.definitions_topic, ws, &merged).await?;
    let hold = counters::pacing_hold(&mut tx, id).await?;
    let announced = match merged.status {
        CampaignStatus::Active if hold => CampaignStatus::Paused,
        other => other,
    };
    let view = campaigns::get(&mut tx, ws, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    publish_current(&state, &mut tx, &view, announced, reason::STATUS).await?;
    tx.commit().await?;
    after_write(&state, &principal, id).await;
    Ok(Json(view))
}

/// `current` with `patch` applied, validated as a whole.
fn apply_patch(current: &CampaignView, patch: CampaignPatch) -> Result<CampaignView, ApiError> {
    let mut next = current.clone();
    let mut errors = Vec::new();
    if let Some(name) = patch.name {
        next.name = name.trim().to_owned();
    }
    if let Some(v) = patch.target_categories {
        next.target_categories = v;
    }
    if let Some(v) = patch.ladder {
        next.ladder = v;
    }
    if let Some(v) = patch.objective {
        next.objective = v;
    }
    if let Some(v) = patch.daily_budget_micros {
        next.daily_budget_micros = v;
    }
    if let Some(v) = patch.channel_costs {
        next.channel_costs = v;
    }
    if let Some(v) = patch.min_share {
        next.min_share = v;
    }
    let mut warmup = i64::from(next.warmup_sends);
    if let Some(v) = patch.warmup_sends {
        warmup = v;
    }
    let mut burst = i64::from(next.pacing_burst_bps);
    if let Some(v) = patch.pacing_burst_bps {
        burst = v;
    }
    for (name, content) in patch.variant_content.unwrap_or_default() {
        match next.variants.iter_mut().find(|v| v.name == name) {
            Some(variant) => variant.content = content,
            None => errors.push(FieldError::new(
                format!("/variant_content/{name}"),
                "no variant of this campaign has this name",
            )),
        }
    }
    let mut def = definition_of(&next);
    def.warmup_sends = warmup;
    def.pacing_burst_bps = burst;
    if let Err(mut more) = check(&def) {
        errors.append(&mut more);
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    next.warmup_sends = to_i32(warmup);
    next.pacing_burst_bps = to_i32(burst);
    Ok(next)
}

/// What a lifecycle call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Pause,
    Resume,
    Archive,
}

/// Pause a campaign: engagement plans no new sends for it. Pausing a paused campaign changes nothing.
#[utoipa::path(post, path = "/v1/campaigns/{id}/pause", tag = "campaigns", params(("id" = Uuid, Path)),
    responses((status = 200, body = CampaignView), (status = 403, description = "The API key lacks the `write` scope"),
              (status = 404), (status = 409, description = "Archived")))]
async fn pause(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<CampaignView>, ApiError> {
    lifecycle(&state, &principal, id, Action::Pause).await
}

/// Resume a paused campaign. Refused (409) while the day's budget is spent.
#[utoipa::path(post, path = "/v1/campaigns/{id}/resume", tag = "campaigns", params(("id" = Uuid, Path)),
    responses((status = 200, body = CampaignView), (status = 403, description = "The API key lacks the `write` scope"),
              (status = 404), (status = 409, description = "Archived, or the day's budget is spent")))]
async fn resume(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<CampaignView>, ApiError> {
    lifecycle(&state, &principal, id, Action::Resume).await
}

/// Archive a campaign: final; it gets no sends and cannot change or resume.
#[utoipa::path(post, path = "/v1/campaigns/{id}/archive", tag = "campaigns", params(("id" = Uuid, Path)),
    responses((status = 200, body = CampaignView), (status = 403, description = "The API key lacks the `write` scope"),
              (status = 404)))]
async fn archive(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<CampaignView>, ApiError> {
    lifecycle(&state, &principal, id, Action::Archive).await
}

async fn lifecycle(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    action: Action,
) -> Result<Json<CampaignView>, ApiError> {
    let ws = principal.workspace_id;
    let mut tx = state.platform.db.primary().begin().await?;
    let current = campaigns::get(&mut tx, ws, id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    let target = match (action, current.status) {
        (Action::Archive, CampaignStatus::Archived) => return Ok(Json(current)),
        (_, CampaignStatus::Archived) => {
            return Err(ApiError::Conflict("the campaign is archived".into()))
        }
        (Action::Pause, CampaignStatus::Paused)
            if current.pause_reason.as_deref() == Some("manual") =>
        {
            return Ok(Json(current))
        }
        (Action::Resume, CampaignStatus::Active) => return Ok(Json(current)),
        (Action::Pause, _) => (CampaignStatus::Paused, Some("manual")),
        (Action::Resume, _) => (CampaignStatus::Active, None),
        (Action::Archive, _) => (CampaignStatus::Archived, None),
    };
    if action == Action::Resume {
        let now = chrono::Utc::now();
        let spend = counters::spend_on(&mut tx, id, now.date_naive()).await?;
        if decide::pacing(&current, spend, now).is_some_and(|p| p.exhausted) {
            return Err(ApiError::Conflict(
                "today's budget is spent: raise daily_budget_micros or wait for the next day"
                    .into(),
            ));
        }
    }
    campaigns::set_status(&mut tx, &state.definitions_topic, id, target.0, target.1).await?;
    counters::set_pacing_hold(&mut tx, id, false).await?;
    let view = campaigns::get(&mut tx, ws, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    publish_current(state, &mut tx, &view, target.0, reason::STATUS).await?;
    tx.commit().await?;
    after_write(state, principal, id).await;
    tracing::info!(campaign_id = %id, status = %target.0, "campaign status changed");
    Ok(Json(view))
}
