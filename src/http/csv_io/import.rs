//! The partner import from CSV (admin).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::domain::email::Email;
use crate::domain::partners::{GrantSource, PartnerSource};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::ApiQuery;
use crate::service::partners::{self as svc, CreatePartner};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_partners))
}

/// Data rows an import takes at most (the body is bounded by the global 1 MiB limit too).
pub const MAX_IMPORT_ROWS: usize = 5_000;

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
            || db::partners::get_by_email(state.db.pool(), email.as_str())
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
