//! The manual rail (CSV export, mark paid) and the actions on one payout: cancel, retry.

use super::*;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_csv))
        .routes(routes!(mark_paid))
        .routes(routes!(cancel))
        .routes(routes!(retry))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Default `pending` (what is owed on the manual rail).
    status: Option<String>,
}

/// Quotes a CSV cell (RFC 4180) and defuses formulas (a leading `=`, `+`, `-`, `@`, tab or
/// carriage return): the same rules as every CSV export (`http::csv_io`).
fn csv_cell(v: &str) -> String {
    if v.is_empty() {
        return String::new();
    }
    let line = crate::http::csv_io::record(&[v]);
    line.strip_suffix("\r\n").unwrap_or(&line).to_string()
}

/// Payouts as CSV for PayPal mass pay or a Wise batch: `payout_id,partner_id,email,name,
/// amount,currency,method`, streamed with a header row (admin).
#[utoipa::path(get, path = "/payouts/export.csv", tag = "payouts", security(("bearer" = [])),
    params(ExportQuery),
    responses((status = 200, description = "CSV", content_type = "text/csv"),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn export_csv(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let status = parse_status(Some(q.status.as_deref().unwrap_or("pending")))?;
    let stream = async_stream_pages(state, status);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"payouts.csv\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The CSV, page by page (500 rows per database read): memory stays bounded.
fn async_stream_pages(
    state: AppState,
    status: Option<PayoutStatus>,
) -> impl futures_core::Stream<Item = Result<String, std::io::Error>> {
    futures_util::stream::unfold(
        (Some(None::<(i64, String)>), true),
        move |(after, first)| {
            let state = state.clone();
            async move {
                let after = after?;
                let mut out = String::new();
                if first {
                    out.push_str("payout_id,partner_id,email,name,amount,currency,method\r\n");
                }
                let rows =
                    match db::payout_reports::export(state.db.pool(), status, after, 500).await {
                        Ok(rows) => rows,
                        Err(e) => return Some((Err(std::io::Error::other(e)), (None, false))),
                    };
                let next = (rows.len() == 500).then(|| {
                    rows.last()
                        .map(|r| (r.payout.created_at.millis(), r.payout.id.clone()))
                });
                for r in &rows {
                    let p = &r.payout;
                    let cells = [
                        p.id.as_str(),
                        p.partner_id.as_str(),
                        r.email.as_str(),
                        r.name.as_str(),
                        &p.currency.format_minor(p.amount_minor),
                        p.currency.as_str(),
                        p.method.as_str(),
                    ];
                    out.push_str(
                        &cells
                            .iter()
                            .map(|v| csv_cell(v))
                            .collect::<Vec<_>>()
                            .join(","),
                    );
                    out.push_str("\r\n");
                }
                let state_next = match next {
                    Some(Some(pos)) => Some(Some(pos)),
                    _ => None,
                };
                Some((Ok(out), (state_next, false)))
            }
        },
    )
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkPaidBody {
    /// The brand's reference (e.g. the PayPal batch id), up to 200 characters.
    reference: Option<String>,
}

/// Mark a manual payout paid (admin); 409 for a Stripe payout or one not pending.
#[utoipa::path(post, path = "/payouts/{id}/mark-paid", tag = "payouts", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Option<MarkPaidBody>),
    responses((status = 200, body = PayoutView),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_manual`, `invalid_transition`", body = ErrorBody)))]
async fn mark_paid(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    MaybeJson(body): MaybeJson<MarkPaidBody>,
) -> ApiResult<Json<PayoutView>> {
    auth.require_admin()?;
    let reference = body
        .reference
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if reference.as_ref().is_some_and(|r| r.chars().count() > 200) {
        return Err(ApiError::invalid_field(
            "reference",
            "at most 200 characters",
        ));
    }
    let p = existing(&state, &id).await?;
    if p.method != PayoutMethod::Manual {
        return Err(ApiError::conflict(
            "not_manual",
            "Only a manual payout is marked paid; Stripe payouts are paid by their transfer.",
        ));
    }
    if !svc::mark_paid(&state, &id, None, reference.as_deref()).await? {
        return Err(transition_conflict(&p, "paid"));
    }
    let p = existing(&state, &id).await?;
    Ok(Json(full_view(&state, p).await?))
}

fn transition_conflict(p: &Payout, to: &str) -> ApiError {
    ApiError::conflict(
        "invalid_transition",
        format!("A payout that is {} cannot become {to}.", p.status.as_str()),
    )
}

/// Cancel a pending or failed payout (admin); its commissions are free for the next run.
#[utoipa::path(post, path = "/payouts/{id}/cancel", tag = "payouts", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PayoutView),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody)))]
async fn cancel(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PayoutView>> {
    auth.require_admin()?;
    let p = existing(&state, &id).await?;
    if !svc::cancel(&state, &id).await? {
        return Err(transition_conflict(&p, "canceled"));
    }
    let p = existing(&state, &id).await?;
    Ok(Json(full_view(&state, p).await?))
}

/// Retry a failed Stripe payout (admin).
#[utoipa::path(post, path = "/payouts/{id}/retry", tag = "payouts", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PayoutView),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition` (not a failed Stripe payout, or its commissions went into another payout)", body = ErrorBody)))]
async fn retry(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PayoutView>> {
    auth.require_admin()?;
    let p = existing(&state, &id).await?;
    if !svc::retry(&state, &p).await? {
        return Err(transition_conflict(&p, "processing"));
    }
    let p = existing(&state, &id).await?;
    Ok(Json(full_view(&state, p).await?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(super::csv_cell("plain"), "plain");
        assert_eq!(super::csv_cell("a,b"), "\"a,b\"");
        assert_eq!(super::csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(super::csv_cell("=1+1"), "'=1+1");
        assert_eq!(super::csv_cell("@SUM(A1)"), "'@SUM(A1)");
    }
}
