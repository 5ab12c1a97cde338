//! Conversions: attribute an event to the partner of the customer's last click within the
//! program's attribution window, and accrue the commission priced by the partner's snapshot
//! (when it has one) or the program's live rule. Idempotent on the external event id: the
//! answer given the first time is stored with the event and replayed.

use serde_json::{Value, json};

use crate::db::Db;
use crate::db::clicks::ClickRef;
use crate::db::commissions::{Commission, Status};
use crate::db::events::NewEvent;
use crate::domain::commission::CommissionRule;
use crate::domain::money::Currency;
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use crate::state::AppState;

pub struct EventInput {
    pub external_event_id: String,
    pub kind: String,
    pub value_minor: i64,
    pub currency: Currency,
    pub click_id: Option<String>,
    pub user_id: Option<String>,
    pub ts: Timestamp,
}

/// What was decided for one event.
struct Decision {
    click: Option<ClickRef>,
    attributed: bool,
    reason: Option<&'static str>,
    commission: Option<Commission>,
}

/// Records an event. Returns `(created, answer)`; `created` is false for a replay.
pub async fn record(state: &AppState, input: EventInput) -> ApiResult<(bool, Value)> {
    if let Some(stored) = state.db.event_result(&input.external_event_id).await? {
        return Ok((false, serde_json::from_str(&stored).unwrap_or(Value::Null)));
    }
    let event_id = ulid::Ulid::new().to_string();
    let decision = decide(state, &input, &event_id).await?;
    let answer = answer(&event_id, &input, &decision);
    let stored = answer.to_string();
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let inserted = Db::insert_event(
        &mut tx,
        &NewEvent {
            id: &event_id,
            external_event_id: &input.external_event_id,
            kind: &input.kind,
            value_minor: input.value_minor,
            currency: input.currency.as_str(),
            click_id: decision.click.as_ref().map(|c| c.id.as_str()),
            user_id: input.user_id.as_deref(),
            ts: input.ts,
            partner_id: decision
                .attributed
                .then(|| decision.click.as_ref().map(|c| c.partner_id.as_str()))
                .flatten(),
            program_id: decision
                .attributed
                .then(|| decision.click.as_ref().map(|c| c.program_id.as_str()))
                .flatten(),
            attributed: decision.attributed,
            result: &stored,
            created_at: now,
        },
    )
    .await;
    match inserted {
        Ok(()) => {}
        // A concurrent post of the same external id won: answer with its result.
        Err(e) if crate::db::is_unique_violation(&e) => {
            drop(tx);
            let stored = state.db.event_result(&input.external_event_id).await?;
            let answer = stored
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or(Value::Null);
            return Ok((false, answer));
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(c) = &decision.commission {
        Db::insert_commission(&mut tx, c).await?;
    }
    tx.commit().await?;
    Ok((true, answer))
}

async fn decide(state: &AppState, input: &EventInput, event_id: &str) -> ApiResult<Decision> {
    let none = |click, reason| Decision {
        click,
        attributed: false,
        reason: Some(reason),
        commission: None,
    };
    // Clicks are written in batches: make the ones already answered visible first.
    state.clicks.flush().await;
    let click = match (&input.click_id, &input.user_id) {
        (Some(id), _) => state.db.get_click(id).await?,
        (None, Some(user)) => state.db.last_click_of_user(user, input.ts).await?,
        (None, None) => None,
    };
    let Some(click) = click else {
        return Ok(none(None, "no_click"));
    };
    let Some(program) = state.db.get_program(&click.program_id).await? else {
        return Ok(none(Some(click), "no_program"));
    };
    let age = input.ts.millis() - click.ts.millis();
    if age < 0 || age > program.attribution_window_days * 86_400_000 {
        return Ok(none(Some(click), "outside_attribution_window"));
    }
    let partner = state.db.get_partner(&click.partner_id).await?;
    if click.revoked || partner.as_ref().is_none_or(|p| p.revoked_at.is_some()) {
        return Ok(none(Some(click), "partner_revoked"));
    }
    let snapshot = state.db.get_snapshot(&click.partner_id).await?;
    let (rule, source, holdback, recurring): (CommissionRule, &str, i64, bool) = match &snapshot {
        Some(s) => (
            s.rule,
            "snapshot",
            s.holdback_days.unwrap_or(program.holdback_days),
            s.recurring,
        ),
        None => (program.rule, "program", program.holdback_days, true),
    };
    if !recurring {
        if let Some(user) = &input.user_id {
            if state
                .db
                .partner_earned_on_user(&click.partner_id, user)
                .await?
            {
                return Ok(Decision {
                    attributed: true,
                    reason: Some("not_recurring"),
                    commission: None,
                    click: Some(click),
                });
            }
        }
    }
    let amount = rule.commission_minor(input.value_minor, &input.currency);
    let now = state.clock.now();
    let commission = (amount > 0).then(|| Commission {
        id: ulid::Ulid::new().to_string(),
        partner_id: click.partner_id.clone(),
        program_id: click.program_id.clone(),
        event_id: event_id.to_string(),
        user_id: input.user_id.clone(),
        amount_minor: amount,
        currency: input.currency.as_str().to_string(),
        status: Status::Accrued,
        rule_source: source.to_string(),
        accrued_at: now,
        mature_at: now.plus_days(holdback),
    });
    Ok(Decision {
        reason: commission.is_none().then_some("zero_amount"),
        attributed: true,
        commission,
        click: Some(click),
    })
}

fn answer(event_id: &str, input: &EventInput, d: &Decision) -> Value {
    let (partner, program) = match (&d.click, d.attributed) {
        (Some(c), true) => (Some(c.partner_id.to_string()), Some(c.program_id.clone())),
        _ => (None, None),
    };
    json!({
        "id": event_id,
        "externalEventId": input.external_event_id,
        "type": input.kind,
        "value": input.currency.format_minor(input.value_minor),
        "currency": input.currency.as_str(),
        "ts": input.ts,
        "clickId": d.click.as_ref().map(|c| c.id.clone()),
        "userId": input.user_id,
        "attributed": d.attributed,
        "reason": d.reason,
        "partnerId": partner,
        "programId": program,
        "commission": d.commission.as_ref().map(commission_json),
    })
}

/// A commission as every endpoint shows it.
pub fn commission_json(c: &Commission) -> Value {
    let currency = Currency::parse(&c.currency).unwrap_or_else(|_| Currency::parse("USD").unwrap());
    json!({
        "id": c.id,
        "partnerId": c.partner_id,
        "programId": c.program_id,
        "eventId": c.event_id,
        "amount": currency.format_minor(c.amount_minor),
        "currency": c.currency,
        "status": c.status.as_str(),
        "ruleSource": c.rule_source,
        "accruedAt": c.accrued_at,
        "matureAt": c.mature_at,
    })
}
