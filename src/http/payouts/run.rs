//! `POST /payouts/run`: a run, or its dry-run preview.

use super::*;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(run))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunBody {
    /// Only this currency.
    currency: Option<String>,
    /// Only these partners (at most 1000).
    partner_ids: Option<Vec<String>>,
    /// Preview: nothing is written.
    dry_run: Option<bool>,
    /// Pay revoked partners too (skipped by default).
    include_revoked: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkippedView {
    partner_id: PartnerId,
    currency: Option<String>,
    /// What it would have been paid (negative when clawbacks exceed it).
    balance: String,
    /// `below_minimum`, `negative_balance`, `partner_revoked` or `no_commissions`.
    reason: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RunAnswer {
    payouts: Vec<PayoutView>,
    skipped: Vec<SkippedView>,
}

/// Run payouts: one per partner and currency, of the approved commissions in no live payout
/// minus outstanding clawbacks. 201, or 200 for a dry run (nothing written). Stripe payouts
/// are sent at once in the background.
#[utoipa::path(post, path = "/payouts/run", tag = "payouts", security(("bearer" = [])),
    request_body(content = Option<RunBody>),
    responses((status = 201, body = RunAnswer),
        (status = 200, description = "Dry run: the preview", body = RunAnswer),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn run(
    State(state): State<AppState>,
    auth: Auth,
    MaybeJson(body): MaybeJson<RunBody>,
) -> ApiResult<(StatusCode, Json<RunAnswer>)> {
    auth.require_admin()?;
    let currency = match body.currency.as_deref().map(Currency::parse) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(m)) => return Err(ApiError::invalid_field("currency", m)),
    };
    if body
        .partner_ids
        .as_ref()
        .is_some_and(|p| p.len() > 1000 || p.iter().any(|id| id.is_empty() || id.len() > 100))
    {
        return Err(ApiError::invalid_field(
            "partnerIds",
            "at most 1000 ids of 1 to 100 characters",
        ));
    }
    let req = RunRequest {
        currency,
        partner_ids: body
            .partner_ids
            .map(|ids| ids.into_iter().map(PartnerId::from_string).collect()),
        dry_run: body.dry_run.unwrap_or(false),
        include_revoked: body.include_revoked.unwrap_or(false),
    };
    let result = svc::run(&state, &req).await?;
    let mut payouts = Vec::with_capacity(result.payouts.len());
    for (p, commission_ids) in result.payouts {
        payouts.push(payout_view(p, commission_ids));
    }
    let skipped = result
        .skipped
        .into_iter()
        .map(|s| {
            let cur = s
                .currency
                .as_deref()
                .and_then(|c| Currency::parse(c).ok())
                .unwrap_or_else(Currency::usd);
            SkippedView {
                balance: cur.format_minor(s.balance_minor),
                partner_id: s.partner_id,
                currency: s.currency,
                reason: s.reason,
            }
        })
        .collect();
    let status = if req.dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(RunAnswer { payouts, skipped })))
}
