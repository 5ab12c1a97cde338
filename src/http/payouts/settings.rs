//! `/config/payouts`: the payout schedule and per-currency minimums.

use super::*;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, put_settings))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    schedule: Schedule,
    /// Per currency, decimal strings in major units: `{"USD": "50.00"}`.
    minimum_amounts: BTreeMap<String, String>,
    /// The next scheduled run, if the schedule is not manual.
    next_run_at: Option<Timestamp>,
}

pub(crate) async fn settings_view(state: &AppState, s: &Settings) -> ApiResult<SettingsView> {
    Ok(SettingsView {
        schedule: s.schedule,
        minimum_amounts: s
            .minimums
            .iter()
            .map(|(c, m)| {
                let cur = Currency::parse(c).unwrap_or_else(|_| Currency::usd());
                (c.clone(), cur.format_minor(*m))
            })
            .collect(),
        next_run_at: crate::service::payout_jobs::next_run_at(state, s).await?,
    })
}

/// Payout settings: schedule and per-currency minimums (admin).
#[utoipa::path(get, path = "/config/payouts", tag = "payouts", security(("bearer" = [])),
    responses((status = 200, body = SettingsView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn get_settings(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<SettingsView>> {
    auth.require_admin()?;
    let s = svc::settings(&state).await?;
    Ok(Json(settings_view(&state, &s).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsBody {
    /// `manual`, `weekly` (Mondays), `biweekly` (Mondays of even ISO weeks) or `monthly` (the
    /// 1st), at the first tick of `OPENPARTNER_PAYOUT_SCHEDULE_CRON` that day (UTC; 09:00 by
    /// default).
    schedule: Option<Schedule>,
    /// Per currency, in major units (string or number): `{"USD": "50.00"}`. Replaces the map.
    #[schema(value_type = Option<Object>)]
    minimum_amounts: Option<BTreeMap<String, Value>>,
}

/// Set payout settings (admin). Omitted fields keep their value.
#[utoipa::path(put, path = "/config/payouts", tag = "payouts", security(("bearer" = [])),
    request_body = SettingsBody,
    responses((status = 200, body = SettingsView),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn put_settings(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<SettingsBody>,
) -> ApiResult<Json<SettingsView>> {
    auth.require_admin()?;
    let mut s = svc::settings_for_update(&state).await?;
    if let Some(schedule) = body.schedule {
        s.schedule = schedule;
    }
    if let Some(minimums) = body.minimum_amounts {
        let mut errors = Vec::new();
        if minimums.len() > 50 {
            errors.push(("minimumAmounts".into(), "at most 50 currencies".into()));
        }
        let mut parsed = BTreeMap::new();
        for (code, raw) in &minimums {
            match Currency::parse(code) {
                Err(m) => errors.push((format!("minimumAmounts.{code}"), m.to_string())),
                Ok(c) => match svc::parse_minimum(&c, raw) {
                    Ok(minor) => {
                        parsed.insert(c.as_str().to_string(), minor);
                    }
                    Err(m) => errors.push((format!("minimumAmounts.{code}"), m)),
                },
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid_body(errors));
        }
        s.minimums = parsed;
    }
    svc::save_settings(&state, &s).await?;
    Ok(Json(settings_view(&state, &s).await?))
}
