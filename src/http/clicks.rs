//! `POST /clicks`: clicks the Network reports (it ran the redirect itself), recorded like our
//! own redirect's.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::db::clicks::Click;
use crate::domain::scopes::Scope;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::ApiJson;
use crate::http::redirect::storable;
use crate::service::links;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(report_click))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClickReport {
    /// The reporter's click id; a replay of the same id is acknowledged, not counted twice.
    id: String,
    link_key: String,
    landing_url: Option<String>,
    /// RFC 3339; default now.
    ts: Option<String>,
    ip_hash: Option<String>,
    user_agent: Option<String>,
    referer: Option<String>,
    utm_source: Option<String>,
    utm_medium: Option<String>,
    utm_campaign: Option<String>,
    utm_term: Option<String>,
    utm_content: Option<String>,
    /// `velocity`, `manual` or `revoked`: a flagged click is kept but earns no commission.
    /// Any other non-empty flag counts as flagged too.
    fraud_flag: Option<String>,
    /// Two letters (ISO 3166-1 alpha-2), stored lower case; anything else is ignored.
    country: Option<String>,
}

/// A flag as stored: trimmed, lower case, at most 32 characters; empty means none.
fn fraud_flag(raw: Option<String>) -> Option<String> {
    raw.map(|f| {
        f.trim()
            .to_ascii_lowercase()
            .chars()
            .take(32)
            .collect::<String>()
    })
    .filter(|f| !f.is_empty())
}

fn country(raw: Option<String>) -> Option<String> {
    raw.map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_lowercase()))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ClickAck {
    ok: bool,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    replayed: Option<bool>,
}

fn cap(s: Option<String>) -> Option<String> {
    s.map(|s| storable(&s, 2048))
}

/// Report a click that happened elsewhere (the Network). Needs `clicks:write`.
#[utoipa::path(post, path = "/clicks", tag = "links", security(("bearer" = [])),
    request_body = ClickReport,
    responses((status = 201, body = ClickAck),
        (status = 200, description = "Replay of a known id: `replayed: true`", body = ClickAck),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope` (needs `clicks:write`)", body = ErrorBody),
        (status = 404, description = "`link_not_found`", body = ErrorBody)))]
async fn report_click(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ClickReport>,
) -> ApiResult<(StatusCode, Json<ClickAck>)> {
    auth.require_scope(Scope::ClicksWrite)?;
    if body.id.trim().is_empty() || body.id.len() > 100 || body.id.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "id",
            "must be 1 to 100 printable characters",
        ));
    }
    let ts = match body.ts.as_deref() {
        None => state.clock.now(),
        Some(s) => Timestamp::parse_rfc3339(s)
            .ok_or_else(|| ApiError::invalid_field("ts", "must be an RFC 3339 timestamp"))?,
    };
    let Some(link) = links::resolve(&state, &body.link_key).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "link_not_found",
            "No link has this key.",
        ));
    };
    let t = &link.target;
    let inserted = db::clicks::insert(
        &state.db,
        &[Click {
            id: body.id.clone(),
            link_id: t.link_id.to_string(),
            partner_id: t.partner_id.to_string(),
            program_id: t.program_id.to_string(),
            ts: ts.millis(),
            ip_hash: cap(body.ip_hash),
            user_agent: cap(body.user_agent),
            referer: cap(body.referer),
            landing_url: cap(body.landing_url),
            utm: [
                body.utm_source,
                body.utm_medium,
                body.utm_campaign,
                body.utm_term,
                body.utm_content,
            ]
            .map(cap),
            revoked: t.partner_revoked,
            source: "network",
            fraud_flag: fraud_flag(body.fraud_flag),
            country: country(body.country),
        }],
    )
    .await?;
    let (status, replayed) = if inserted == 1 {
        (StatusCode::CREATED, None)
    } else {
        (StatusCode::OK, Some(true))
    };
    Ok((
        status,
        Json(ClickAck {
            ok: true,
            id: body.id,
            replayed,
        }),
    ))
}
