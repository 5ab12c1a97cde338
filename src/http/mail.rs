//! The mail outbox as the console sees it (admin only): pending, sent and dead messages, never
//! their bodies (a pending message's body holds a live magic link), and retrying one.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::db::mail::{MailRetry, MailSummary};
use crate::domain::cursor::Position;
use crate::domain::ids::MailId;
use crate::domain::mail::MailStatus;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiPath, ApiQuery};
use crate::http::paging;
use crate::http::partners::parse_limit;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_mail))
        .routes(routes!(retry_mail))
}

/// One message of the outbox (its bodies are never shown).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MailView {
    id: String,
    to: String,
    subject: String,
    /// `pending`, `sent` or `dead`.
    status: String,
    attempts: i64,
    /// Why the last attempt failed.
    last_error: Option<String>,
    /// While pending: when it is attempted next.
    next_attempt_at: Option<Timestamp>,
    created_at: Timestamp,
    sent_at: Option<Timestamp>,
}

impl From<MailSummary> for MailView {
    fn from(m: MailSummary) -> Self {
        MailView {
            next_attempt_at: (m.status == MailStatus::Pending).then_some(m.next_attempt_at),
            id: m.id.into_string(),
            to: m.to_addr,
            subject: m.subject,
            status: m.status.as_str().to_string(),
            attempts: m.attempts,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MailPage {
    messages: Vec<MailView>,
    /// Null on the last page.
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MailQuery {
    /// `pending`, `dead` or `sent`; all when omitted.
    status: Option<String>,
    /// Opaque, from a previous `nextCursor`.
    cursor: Option<String>,
    /// 1–200, default 50.
    limit: Option<String>,
}

/// The mail outbox, newest first (admin).
#[utoipa::path(get, path = "/admin/mail/messages", tag = "system", security(("bearer" = [])),
    params(MailQuery),
    responses((status = 200, body = MailPage),
        (status = 400, description = "`invalid_query`, `invalid_cursor`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn list_mail(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<MailQuery>,
) -> ApiResult<Json<MailPage>> {
    auth.require_admin()?;
    let status = match q.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(
            MailStatus::parse(s)
                .ok_or_else(|| ApiError::invalid_query("status must be pending, dead or sent"))?,
        ),
    };
    let limit = parse_limit(q.limit.as_deref(), 50, 200)?;
    let after = paging::after(&state, q.cursor.as_deref())?;
    let mut rows = db::mail::list(
        state.db.pool(),
        status,
        after.as_ref().map(|p| (p.created_at, p.id.as_str())),
        limit + 1,
    )
    .await?;
    let next_cursor = paging::next_cursor(&state, &mut rows, limit, |m| Position {
        created_at: m.created_at.millis(),
        id: m.id.to_string(),
    });
    Ok(Json(MailPage {
        messages: rows.into_iter().map(MailView::from).collect(),
        next_cursor,
    }))
}

/// Put a dead (or pending) message back in the queue, due now, and attempt it. Its attempts
/// count on: when it fails again after its schedule is spent, it is dead again. A message that
/// died had its sign-in link removed, so the copy sent carries none (the partner asks for a new
/// one).
#[utoipa::path(post, path = "/admin/mail/messages/{id}/retry", tag = "system", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = MailView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only; `csrf_failed`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_retryable`: it was sent", body = ErrorBody)))]
async fn retry_mail(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<MailView>> {
    auth.require_admin()?;
    let id = MailId::from_string(id);
    match db::mail::retry_audited(&state.db, &id, state.clock.now()).await? {
        MailRetry::Requeued(mail) => {
            state.mailer.kick(mail.id.clone());
            Ok(Json(mail.into()))
        }
        MailRetry::AlreadySent => Err(ApiError::conflict(
            "not_retryable",
            "This message was sent; only a pending or dead message is retried.",
        )),
        MailRetry::NotFound => Err(ApiError::not_found("No such message.")),
    }
}
