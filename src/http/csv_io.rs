//! CSV for people: streamed exports of partners, commissions and conversions (admin), and the
//! partner import. Quoting is RFC 4180 (the `csv` crate); a cell a spreadsheet would run as a
//! formula (leading `=`, `+`, `-`, `@`, tab or carriage return) gets a leading `'`.

use std::future::Future;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::commission::CommissionStatus;
use crate::domain::email::Email;
use crate::domain::money::Currency;
use crate::domain::partners::{GrantSource, PartnerSource};
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::ApiQuery;
use crate::service::partners::{self as svc, CreatePartner};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(partners_csv))
        .routes(routes!(commissions_csv))
        .routes(routes!(conversions_csv))
        .routes(routes!(import_partners))
}

/// Rows per database read while streaming.
const PAGE: i64 = 500;
/// Data rows an import takes at most (the body is bounded by the global 1 MiB limit too).
pub const MAX_IMPORT_ROWS: usize = 5_000;

/// A cell defused against formula injection.
pub fn defuse(v: &str) -> std::borrow::Cow<'_, str> {
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}").into()
    } else {
        v.into()
    }
}

/// One CSV record (defused, RFC 4180 quoted, CRLF-terminated).
pub fn record<S: AsRef<str>>(cells: &[S]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let written = w.write_record(cells.iter().map(|c| defuse(c.as_ref()).into_owned()));
    let bytes = written
        .ok()
        .and_then(|_| w.into_inner().ok())
        .unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// A streamed CSV download: `header`, then page after page from `next_page(cursor)` until it
/// returns no cursor. Memory stays bounded by one page.
pub fn download<C, F, Fut>(filename: &str, header: &[&str], next_page: F) -> Response
where
    C: Send + 'static,
    F: Fn(Option<C>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = sqlx::Result<(String, Option<C>)>> + Send + 'static,
{
    let first = record(header);
    let next_page = std::sync::Arc::new(next_page);
    let pages = futures_util::stream::unfold(Some((None::<C>, true)), move |at| {
        let next_page = next_page.clone();
        async move {
            let (cursor, first_page) = at?;
            if !first_page && cursor.is_none() {
                return None;
            }
            match next_page(cursor).await {
                Ok((text, next)) => {
                    let more = next.map(|c| (Some(c), false));
                    Some((Ok::<_, std::io::Error>(Bytes::from(text)), more))
                }
                Err(e) => {
                    tracing::error!(error = %e, "CSV export failed midway");
                    Some((Err(std::io::Error::other(e)), None))
                }
            }
        }
    });
    let head = futures_util::stream::once(async move { Ok(Bytes::from(first)) });
    let body = Body::from_stream(futures_util::StreamExt::chain(head, pages));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

fn time(ms: i64) -> String {
    Timestamp::from_millis(ms).to_rfc3339()
}

fn amount(minor: i64, currency: &str) -> String {
    Currency::parse(currency).map_or_else(|_| minor.to_string(), |c| c.format_minor(minor))
}

fn parse_since(raw: Option<&str>) -> ApiResult<i64> {
    match raw.filter(|s| !s.is_empty()) {
        None => Ok(0),
        Some(s) => Timestamp::parse_rfc3339(s)
            .map(Timestamp::millis)
            .ok_or_else(|| ApiError::invalid_query("since must be an RFC 3339 timestamp")),
    }
}

/// Every partner: `id,email,name,program_ids,source,created_at,activated_at,revoked_at,
/// revoke_reason` (admin), newest first.
#[utoipa::path(get, path = "/export/partners.csv", tag = "export", security(("bearer" = [])),
    responses((status = 200, description = "CSV with a header row", content_type = "text/csv"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn partners_csv(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    auth.require_admin()?;
    let header = [
        "id",
        "email",
        "name",
        "program_ids",
        "source",
        "created_at",
        "activated_at",
        "revoked_at",
        "revoke_reason",
    ];
    Ok(download(
        "partners.csv",
        &header,
        move |after: Option<(i64, String)>| {
            let state = state.clone();
            async move {
                let after_ref = after.as_ref().map(|(a, id)| (*a, id.as_str()));
                let rows = state
                    .db
                    .list_partners(after_ref, &Default::default(), PAGE)
                    .await?;
                let mut out = String::new();
                for p in &rows {
                    let programs = p
                        .program_ids
                        .iter()
                        .map(|id| id.as_str())
                        .collect::<Vec<_>>()
                        .join(";");
                    out.push_str(&record(&[
                        p.id.as_str(),
                        &p.email,
                        &p.name,
                        &programs,
                        p.source.as_str(),
                        &p.created_at.to_rfc3339(),
                        &p.activated_at
                            .map(Timestamp::to_rfc3339)
                            .unwrap_or_default(),
                        &p.revoked_at.map(Timestamp::to_rfc3339).unwrap_or_default(),
                        p.revoke_reason.as_deref().unwrap_or_default(),
                    ]));
                }
                let next = (rows.len() as i64 == PAGE)
                    .then(|| {
                        rows.last()
                            .map(|p| (p.created_at.millis(), p.id.to_string()))
                    })
                    .flatten();
                Ok((out, next))
            }
        },
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CommissionsCsvQuery {
    /// `accrued`, `approved`, `paid` or `reversed`.
    status: Option<String>,
    /// RFC 3339: commissions accrued at or after this time.
    since: Option<String>,
}

/// Commissions, oldest first: `id,partner_id,partner_email,program_id,event_id,amount,
/// currency,status,accrued_at,approved_at,paid_at` (admin). Amounts are decimal in the
/// commission's own currency; never summed across currencies.
#[utoipa::path(get, path = "/export/commissions.csv", tag = "export", security(("bearer" = [])),
    params(CommissionsCsvQuery),
    responses((status = 200, description = "CSV with a header row", content_type = "text/csv"),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn commissions_csv(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<CommissionsCsvQuery>,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let since = parse_since(q.since.as_deref())?;
    let status = match q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(CommissionStatus::parse)
    {
        None => None,
        Some(Some(s)) if s != CommissionStatus::OnHold => Some(s),
        Some(_) => {
            return Err(ApiError::invalid_query(
                "status must be accrued, approved, paid or reversed",
            ));
        }
    };
    let header = [
        "id",
        "partner_id",
        "partner_email",
        "program_id",
        "event_id",
        "amount",
        "currency",
        "status",
        "accrued_at",
        "approved_at",
        "paid_at",
    ];
    Ok(download(
        "commissions.csv",
        &header,
        move |after: Option<(i64, String)>| {
            let state = state.clone();
            async move {
                let rows = state
                    .db
                    .export_commissions(status, since, after.as_ref(), PAGE)
                    .await?;
                let mut out = String::new();
                for c in &rows {
                    out.push_str(&record(&[
                        c.id.as_str(),
                        &c.partner_id,
                        c.email.as_deref().unwrap_or_default(),
                        &c.program_id,
                        &c.event_id,
                        &amount(c.amount_minor, &c.currency),
                        &c.currency,
                        c.status.as_str(),
                        &time(c.accrued_at),
                        &c.approved_at.map(time).unwrap_or_default(),
                        &c.paid_at.map(time).unwrap_or_default(),
                    ]));
                }
                let next = (rows.len() as i64 == PAGE)
                    .then(|| rows.last().map(|c| (c.accrued_at, c.id.clone())))
                    .flatten();
                Ok((out, next))
            }
        },
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConversionsCsvQuery {
    /// RFC 3339: conversions at or after this time.
    since: Option<String>,
}

/// Conversions (events), oldest first: `id,external_event_id,type,value,currency,ts,
/// partner_id,program_id,click_id,user_id,attributed` (admin).
#[utoipa::path(get, path = "/export/conversions.csv", tag = "export", security(("bearer" = [])),
    params(ConversionsCsvQuery),
    responses((status = 200, description = "CSV with a header row", content_type = "text/csv"),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn conversions_csv(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ConversionsCsvQuery>,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let since = parse_since(q.since.as_deref())?;
    let header = [
        "id",
        "external_event_id",
        "type",
        "value",
        "currency",
        "ts",
        "partner_id",
        "program_id",
        "click_id",
        "user_id",
        "attributed",
    ];
    Ok(download(
        "conversions.csv",
        &header,
        move |after: Option<(i64, String)>| {
            let state = state.clone();
            async move {
                let rows = state
                    .db
                    .export_conversions(since, after.as_ref(), PAGE)
                    .await?;
                let mut out = String::new();
                for e in &rows {
                    out.push_str(&record(&[
                        e.id.as_str(),
                        &e.external_event_id,
                        &e.kind,
                        &amount(e.value_minor, &e.currency),
                        &e.currency,
                        &time(e.ts),
                        e.partner_id.as_deref().unwrap_or_default(),
                        e.program_id.as_deref().unwrap_or_default(),
                        e.click_id.as_deref().unwrap_or_default(),
                        e.user_id.as_deref().unwrap_or_default(),
                        if e.attributed { "true" } else { "false" },
                    ]));
                }
                let next = (rows.len() as i64 == PAGE)
                    .then(|| rows.last().map(|e| (e.ts, e.id.clone())))
                    .flatten();
                Ok((out, next))
            }
        },
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `true`: check every row and answer what would happen; nothing is written.
    dry_run: Option<String>,
}

/// What became of one row.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ImportResult {
    /// The data row's number, 1 for the first row after the header.
    row: usize,
    email: String,
    /// `created` (or would be, on a dry run), `exists` or `invalid`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ImportAnswer {
    results: Vec<ImportResult>,
}

fn truthy(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "0" | "no" | "n" => Some(false),
        "true" | "1" | "yes" | "y" => Some(true),
        _ => None,
    }
}

/// Import partners from CSV with the header `email,name,programIds,sendInvite` (admin).
/// `programIds` lists program ids separated by `;` (empty = every current program);
/// `sendInvite` is true or false (empty = false). At most 5,000 rows; the body at most 1 MiB.
#[utoipa::path(post, path = "/import/partners", tag = "export", security(("bearer" = [])),
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "CSV: `email,name,programIds,sendInvite`"),
    responses((status = 200, body = ImportAnswer),
        (status = 400, description = "`invalid_csv`, `too_many_rows`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody)))]
async fn import_partners(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<ImportAnswer>)> {
    auth.require_admin()?;
    let dry_run = match q.dry_run.as_deref() {
        None => false,
        Some(raw) => {
            truthy(raw).ok_or_else(|| ApiError::invalid_query("dryRun must be true or false"))?
        }
    };
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("invalid_csv", "The CSV is not UTF-8 text."))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ApiError::bad_request("invalid_csv", format!("The header row: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(email_at), Some(name_at)) = (column("email"), column("name")) else {
        return Err(ApiError::bad_request(
            "invalid_csv",
            "The header row must name the columns email,name,programIds,sendInvite.",
        ));
    };
    let programs_at = column("programIds");
    let invite_at = column("sendInvite");
    let mut records = Vec::new();
    for r in reader.records() {
        let r = r.map_err(|e| ApiError::bad_request("invalid_csv", format!("{e}")))?;
        if r.iter().all(str::is_empty) {
            continue;
        }
        if records.len() == MAX_IMPORT_ROWS {
            return Err(ApiError::bad_request(
                "too_many_rows",
                format!("At most {MAX_IMPORT_ROWS} rows per import; split the file."),
            ));
        }
        records.push(r);
    }
    let mut seen = std::collections::HashSet::new();
    let mut results = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let field = |at: Option<usize>| at.and_then(|a| r.get(a)).unwrap_or_default();
        let raw_email = field(Some(email_at));
        let shown: String = raw_email.chars().filter(|c| *c != '\0').take(320).collect();
        let result = |status, reason: Option<String>| ImportResult {
            row: i + 1,
            email: shown.clone(),
            status,
            reason,
        };
        let email = match Email::parse(raw_email) {
            Ok(e) => e,
            Err(m) => {
                results.push(result("invalid", Some(format!("email: {m}"))));
                continue;
            }
        };
        let mut errors = Vec::new();
        let name =
            crate::http::partners::clean_name(Some(field(Some(name_at)).to_string()), &mut errors);
        if name.contains('\0') {
            errors.push(("name".into(), "must not contain NUL".into()));
        }
        let Some(send_invite) = truthy(field(invite_at)) else {
            results.push(result(
                "invalid",
                Some("sendInvite: must be true or false".into()),
            ));
            continue;
        };
        if let Some((f, m)) = errors.first() {
            results.push(result("invalid", Some(format!("{f}: {m}"))));
            continue;
        }
        let programs: Vec<String> = field(programs_at)
            .split([';', '|', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if programs.len() > 100 || programs.iter().any(|p| p.len() > 100) {
            results.push(result(
                "invalid",
                Some("programIds: too many or too long".into()),
            ));
            continue;
        }
        let programs = (!programs.is_empty()).then_some(programs);
        if !seen.insert(email.as_str().to_string())
            || state
                .db
                .get_partner_by_email(email.as_str())
                .await?
                .is_some()
        {
            results.push(result("exists", None));
            continue;
        }
        if let Err(e) = svc::resolve_programs(&state.db, programs.clone()).await {
            results.push(result("invalid", Some(format!("programIds: {}", e.code()))));
            continue;
        }
        if dry_run {
            results.push(result("created", None));
            continue;
        }
        let created = svc::create(
            &state,
            CreatePartner {
                email,
                name,
                send_invite,
                metadata: serde_json::Map::new(),
                program_ids: programs,
                campaign_grant_source: GrantSource::Admin,
                snapshot: None,
                source: PartnerSource::AdminInvite,
                profile: None,
                pending_review: false,
            },
        )
        .await;
        match created {
            Ok(_) => results.push(result("created", None)),
            // A concurrent create took the email between the check and the insert.
            Err(svc::CreateError::EmailTaken(_)) => results.push(result("exists", None)),
            Err(svc::CreateError::Refused(e)) if e.status().is_client_error() => {
                results.push(result("invalid", Some(e.code().to_string())));
            }
            Err(svc::CreateError::Refused(e)) => return Err(e),
        }
    }
    Ok((StatusCode::OK, Json(ImportAnswer { results })))
}
