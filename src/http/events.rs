//! `POST /events` (conversions) and `POST /identify` (click → customer id).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::domain::ids::ClickId;
use crate::domain::money::{Currency, Dec4};
use crate::domain::scopes::Scope;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody, OK, OkAnswer};
use crate::http::auth::Auth;
use crate::http::json::ApiJson;
use crate::service::conversions::{self, EventInput};
use crate::state::AppState;
use crate::views::EventAnswer;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_event))
        .routes(routes!(identify))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventBody {
    /// The brand's id for this event; a repeat replays the first answer.
    external_event_id: Option<String>,
    /// `sale`, `lead`, ...
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Major units, JSON string (`"49.99"`) or number. Default 0.
    #[schema(value_type = Option<String>)]
    value: Option<Value>,
    /// ISO 4217. Default USD.
    currency: Option<String>,
    /// The `op_click` the visitor arrived with.
    click_id: Option<String>,
    /// A customer id linked to a click with `/identify` (recurring revenue).
    user_id: Option<String>,
    /// RFC 3339; default now.
    ts: Option<String>,
}

fn short(
    field: &str,
    v: Option<String>,
    max: usize,
    errors: &mut Vec<(String, String)>,
) -> Option<String> {
    let v = v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    if v.as_ref().is_some_and(|s| s.len() > max) {
        errors.push((field.into(), format!("must be at most {max} characters")));
    }
    v
}

/// Record a conversion. Attributed to the partner of the last click within the program's
/// attribution window; accrues a commission. 201 the first time, 200 with the same answer for
/// a repeated `externalEventId`.
#[utoipa::path(post, path = "/events", tag = "commissions", security(("bearer" = [])),
    request_body = EventBody,
    responses((status = 201, body = EventAnswer),
        (status = 200, description = "Replay: the original answer", body = EventAnswer),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope` (needs `events:write`)", body = ErrorBody)))]
async fn post_event(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<EventBody>,
) -> ApiResult<impl IntoResponse> {
    auth.require_scope(Scope::EventsWrite)?;
    let mut errors = Vec::new();
    let external = short("externalEventId", body.external_event_id, 200, &mut errors);
    if external.is_none() {
        errors.push(("externalEventId".into(), "is required".into()));
    }
    let kind = short("type", body.kind, 50, &mut errors).unwrap_or_else(|| "sale".into());
    let currency = match Currency::parse(body.currency.as_deref().unwrap_or("USD")) {
        Ok(c) => Some(c),
        Err(m) => {
            errors.push(("currency".into(), m.into()));
            None
        }
    };
    let value_minor = match (&currency, body.value) {
        (Some(c), Some(v)) => match Dec4::parse(&v, c.minor_digits()).map(|d| c.to_minor(d)) {
            Ok(Some(m)) => Some(m),
            Ok(None) | Err(_) => {
                errors.push((
                    "value".into(),
                    format!(
                        "must be a non-negative amount with at most {} decimals",
                        c.minor_digits()
                    ),
                ));
                None
            }
        },
        (_, None) => Some(0),
        _ => None,
    };
    let click_id = short("clickId", body.click_id, 100, &mut errors);
    let user_id = short("userId", body.user_id, 200, &mut errors);
    let ts = match body.ts.as_deref() {
        None => Some(state.clock.now()),
        Some(s) => Timestamp::parse_rfc3339(s).or_else(|| {
            errors.push(("ts".into(), "must be an RFC 3339 timestamp".into()));
            None
        }),
    };
    let (Some(external), Some(currency), Some(value_minor), Some(ts), true) =
        (external, currency, value_minor, ts, errors.is_empty())
    else {
        return Err(ApiError::invalid_body(errors));
    };
    let (created, answer) = conversions::record(
        &state,
        EventInput {
            external_event_id: external,
            kind,
            value_minor,
            currency,
            click_id: click_id.map(ClickId::from_string),
            user_id,
            ts,
        },
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, [(header::CONTENT_TYPE, "application/json")], answer))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentifyBody {
    click_id: String,
    user_id: String,
}

/// Link a click to a customer id, so later events may carry `userId` instead of `clickId`.
#[utoipa::path(post, path = "/identify", tag = "commissions", security(("bearer" = [])),
    request_body = IdentifyBody,
    responses((status = 200, body = OkAnswer),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope` (needs `events:write`)", body = ErrorBody),
        (status = 404, description = "`click_not_found`", body = ErrorBody)))]
async fn identify(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<IdentifyBody>,
) -> ApiResult<Json<OkAnswer>> {
    auth.require_scope(Scope::EventsWrite)?;
    let user = body.user_id.trim();
    if user.is_empty() || user.len() > 200 {
        return Err(ApiError::invalid_field(
            "userId",
            "must be 1 to 200 characters",
        ));
    }
    state.clicks.flush().await;
    let click = ClickId::from_string(body.click_id.trim());
    if !db::clicks::identify(state.db.pool(), &click, user).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "click_not_found",
            "No click has this id.",
        ));
    }
    Ok(Json(OK))
}
