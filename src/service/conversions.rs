//! Conversions: attribute an event to the partner of the customer's last click within the
//! program's attribution window, and accrue the commission priced by the partner's snapshot
//! (when it has one) or the program's live rules. Idempotent on the external event id: the
//! answer given the first time is stored with the event and replayed.
//!
//! Whether an event is the customer's *first* commission-earning one is decided inside the
//! event's write transaction by a primary key (`commission_firsts`): of concurrent events for
//! one customer exactly one is first.

use crate::db;
use crate::db::clicks::ClickRef;
use crate::db::commissions::Commission;
use crate::db::events::NewEvent;
use crate::db::programs::Program;
use crate::domain::commission::CommissionStatus;
use crate::domain::ids::{ClickId, CommissionId, EventId};
use crate::domain::money::Currency;
use crate::domain::rules::{Occasion, Price, RuleSet};
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::views::{CommissionView, EventAnswer};
use crate::webhooks::{self, EventType, RenderedView};

pub struct EventInput {
    pub external_event_id: String,
    pub kind: String,
    pub value_minor: i64,
    pub currency: Currency,
    pub click_id: Option<ClickId>,
    pub user_id: Option<String>,
    pub ts: Timestamp,
}

/// What was decided for one event: the input of the answer.
pub struct Outcome<'a> {
    pub event_id: &'a EventId,
    pub input: &'a EventInput,
    pub click: Option<&'a ClickRef>,
    pub attributed: bool,
    /// Why nothing accrued (`no_click`, `partner_revoked`, `currency_mismatch`, ...).
    pub reason: Option<&'static str>,
    pub commission: Option<&'a Commission>,
}

/// The answer of an event: what `POST /events` answers, stored and replayed.
fn render(o: &Outcome<'_>) -> String {
    let credited = o.click.filter(|_| o.attributed);
    let answer = EventAnswer {
        id: o.event_id.as_str(),
        external_event_id: &o.input.external_event_id,
        kind: &o.input.kind,
        value: o.input.currency.format_minor(o.input.value_minor),
        currency: o.input.currency.as_str(),
        ts: o.input.ts,
        click_id: o.click.map(|c| c.id.as_str()),
        user_id: o.input.user_id.as_deref(),
        attributed: o.attributed,
        reason: o.reason,
        partner_id: credited.map(|c| &c.partner_id),
        program_id: credited.map(|c| c.program_id.as_str()),
        commission: o.commission.map(CommissionView::from),
    };
    serde_json::to_string(&answer).unwrap_or_else(|_| "null".into())
}

/// Who decides the terms of an attributed event.
struct Terms {
    program: Program,
    rules: RuleSet,
    /// `snapshot` or `program`.
    source: &'static str,
    holdback_days: i64,
}

enum Attribution {
    No {
        click: Option<ClickRef>,
        reason: &'static str,
    },
    /// Attributed, but it earns nothing for a reason known before pricing.
    Unpaid {
        click: ClickRef,
        reason: &'static str,
    },
    Yes {
        click: ClickRef,
        terms: Box<Terms>,
    },
}

/// Records an event. Returns `(created, answer)`: the answer (JSON text of a
/// [`EventAnswer`]), stored with the event; `created` is false for a replay, which returns the
/// stored answer.
pub async fn record(state: &AppState, input: EventInput) -> ApiResult<(bool, String)> {
    if let Some(stored) = db::events::result(state.db.pool(), &input.external_event_id).await? {
        return Ok((false, stored));
    }
    let event_id = EventId::generate();
    let attribution = attribute(state, &input).await?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let (click, attributed, reason, commission) = match attribution {
        Attribution::No { click, reason } => (click, false, Some(reason), None),
        Attribution::Unpaid { click, reason } => (Some(click), true, Some(reason), None),
        Attribution::Yes { click, terms } => {
            let (commission, reason) =
                price(&mut tx, &input, &event_id, &click, &terms, now).await?;
            (Some(click), true, reason, commission)
        }
    };
    let answer = render(&Outcome {
        event_id: &event_id,
        input: &input,
        click: click.as_ref(),
        attributed,
        reason,
        commission: commission.as_ref(),
    });
    let credited = click.as_ref().filter(|_| attributed);
    let inserted = db::events::insert(
        &mut *tx,
        &NewEvent {
            id: &event_id,
            external_event_id: &input.external_event_id,
            kind: &input.kind,
            value_minor: input.value_minor,
            currency: input.currency.as_str(),
            click_id: click.as_ref().map(|c| c.id.as_str()),
            user_id: input.user_id.as_deref(),
            ts: input.ts,
            partner_id: credited.map(|c| c.partner_id.as_str()),
            program_id: credited.map(|c| c.program_id.as_str()),
            attributed,
            result: &answer,
            created_at: now,
        },
    )
    .await;
    match inserted {
        Ok(()) => {}
        // A concurrent post of the same external id won: answer with its result.
        Err(e) if crate::error::is_unique_violation(&e) => {
            drop(tx);
            let stored = db::events::result(state.db.pool(), &input.external_event_id).await?;
            return Ok((false, stored.unwrap_or_else(|| "null".into())));
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(c) = &commission {
        db::commissions::insert(&mut *tx, c).await?;
    }
    // The conversion with its attribution outcome (the answer), then what it earned.
    let url = &state.config.public_url;
    let kind = EventType::ConversionCreated;
    webhooks::record_view(&mut tx, kind, &RenderedView(&answer), url, now).await?;
    if let Some(c) = &commission {
        webhooks::record_view(&mut tx, EventType::CommissionCreated, c, url, now).await?;
    }
    tx.commit().await?;
    // Reasons are a fixed set of codes: the label stays bounded.
    let outcome = match (&commission, reason) {
        (Some(_), _) => "accrued",
        (None, Some(reason)) => reason,
        (None, None) if attributed => "attributed",
        (None, None) => "unattributed",
    };
    metrics::counter!(crate::instruments::CONVERSIONS, "outcome" => outcome).increment(1);
    if commission.is_some() {
        metrics::counter!(crate::instruments::COMMISSIONS, "status" => "accrued").increment(1);
    }
    Ok((true, answer))
}

/// Finds the click and decides whether (and under which terms) the event is attributed.
async fn attribute(state: &AppState, input: &EventInput) -> ApiResult<Attribution> {
    let no = |click, reason| Ok(Attribution::No { click, reason });
    // Clicks are written in batches: make the ones already answered visible first.
    state.clicks.flush().await;
    let click = match (&input.click_id, &input.user_id) {
        (Some(id), _) => db::clicks::get(state.db.pool(), id).await?,
        (None, Some(user)) => db::clicks::last_of_user(state.db.pool(), user, input.ts).await?,
        (None, None) => None,
    };
    let Some(click) = click else {
        return no(None, "no_click");
    };
    let Some(program) = db::programs::get(state.db.pool(), &click.program_id).await? else {
        return no(Some(click), "no_program");
    };
    let age = input.ts.millis() - click.ts.millis();
    if age < 0 || age > program.attribution_window_days * 86_400_000 {
        return no(Some(click), "outside_attribution_window");
    }
    let partner = db::partners::get(state.db.pool(), &click.partner_id).await?;
    let Some(partner) = partner.filter(|p| p.revoked_at.is_none() && !click.revoked) else {
        return no(Some(click), "partner_revoked");
    };
    if click.fraud_flag.is_some() {
        return no(Some(click), "click_flagged");
    }
    // The grant is checked at event time: a partner whose program was taken away earns
    // nothing on it from then on, whatever links still point there.
    if !partner
        .program_ids
        .iter()
        .any(|p| p.as_str() == click.program_id)
    {
        return Ok(Attribution::Unpaid {
            click,
            reason: "program_not_granted",
        });
    }
    let terms = match db::partners::get_snapshot(state.db.pool(), &click.partner_id).await? {
        Some(s) => Terms {
            holdback_days: s.holdback_days.unwrap_or(program.holdback_days),
            rules: s.rules,
            source: "snapshot",
            program,
        },
        None => Terms {
            holdback_days: program.holdback_days,
            rules: program.rules.clone(),
            source: "program",
            program,
        },
    };
    Ok(Attribution::Yes {
        click,
        terms: Box::new(terms),
    })
}

/// Prices an attributed event inside its write transaction: the commission, or why none.
async fn price(
    tx: &mut crate::db::Tx,
    input: &EventInput,
    event_id: &EventId,
    click: &ClickRef,
    terms: &Terms,
    now: Timestamp,
) -> ApiResult<(Option<Commission>, Option<&'static str>)> {
    // The customer: the identified user, else the click itself.
    let customer = match &input.user_id {
        Some(user) => format!("user:{user}"),
        None => format!("click:{}", click.id),
    };
    let partner = &click.partner_id;
    let program = click.program_id.as_str();
    let earlier = db::commissions::first_at(&mut **tx, partner, Some(program), &customer).await?;
    let anchor = db::commissions::first_at(&mut **tx, partner, None, &customer).await?;
    let mut occasion = Occasion {
        event_type: &input.kind,
        currency: &input.currency,
        value_minor: input.value_minor,
        program_currency: &terms.program.currency,
        first: earlier.is_none(),
        anchor,
        at: input.ts,
    };
    let mut priced = terms.rules.price(&occasion);
    if matches!(priced, Price::Earned { .. })
        && occasion.first
        && !db::commissions::claim_first(&mut **tx, partner, program, &customer, event_id, input.ts)
            .await?
    {
        // A concurrent event of the same customer was first: this one is not.
        occasion.first = false;
        occasion.anchor = db::commissions::first_at(&mut **tx, partner, None, &customer).await?;
        priced = terms.rules.price(&occasion);
    }
    Ok(match priced {
        Price::Nothing(reason) => (None, Some(reason)),
        Price::Earned {
            amount_minor,
            trigger,
        } => (
            Some(Commission {
                id: CommissionId::generate(),
                partner_id: partner.clone(),
                program_id: click.program_id.clone(),
                event_id: event_id.clone(),
                user_id: input.user_id.clone(),
                amount_minor,
                currency: input.currency.clone(),
                status: CommissionStatus::Accrued,
                rule_source: terms.source.to_string(),
                accrued_at: now,
                mature_at: now.plus_days(terms.holdback_days),
                trigger: Some(trigger),
                paid_at: None,
                approved_at: None,
                approval_forced: false,
                reversed_minor: 0,
            }),
            None,
        ),
    })
}
