//! A payout run: approved commissions minus outstanding clawbacks become one payout per partner
//! and currency. Groups are decided [`CHUNK`] at a time, each chunk in one transaction with
//! set-based statements, so a run over 100k commissions is a few thousand statements and
//! commits, not hundreds of thousands.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::json;

use super::{Settings, audit_payout, send_in_background, settings};
use crate::db;
use crate::db::partners::Partner;
use crate::db::payout_runs::{self as store, Group, GroupOwed};
use crate::db::payouts::{Owed, Payout, PayoutWithItems};
use crate::domain::ids::PartnerId;
use crate::domain::money::Currency;
use crate::domain::payouts::{PayoutMethod, PayoutStatus};
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::webhooks::{self, EventType};

/// (partner, currency) groups decided in one transaction.
const CHUNK: usize = 200;

/// What a run was asked to do.
#[derive(Debug, Default)]
pub struct RunRequest {
    pub currency: Option<Currency>,
    pub partner_ids: Option<Vec<PartnerId>>,
    pub dry_run: bool,
    pub include_revoked: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    pub partner_id: PartnerId,
    pub currency: Option<String>,
    /// What it would have been paid, minor units (negative when clawbacks exceed it).
    pub balance_minor: i64,
    /// `below_minimum`, `negative_balance`, `partner_revoked` or `no_commissions`.
    pub reason: &'static str,
}

#[derive(Default)]
pub struct RunResult {
    /// Each payout made (or, on a dry run, that would be made) with its commissions' ids.
    pub payouts: Vec<(Payout, Vec<String>)>,
    pub skipped: Vec<Skipped>,
}

/// Runs payouts (or previews them with `dry_run`). What a group holds is claimed with
/// conditional updates, so concurrent runs never pay a commission twice: when a chunk finds
/// some of its claims taken it is rolled back and decided again one group at a time, and the
/// loser of a group finds nothing left and skips it.
pub async fn run(state: &AppState, req: &RunRequest) -> ApiResult<RunResult> {
    let settings = settings(state).await?;
    let mut groups = db::payouts::payable_groups(state.db.pool()).await?;
    if let Some(c) = &req.currency {
        groups.retain(|(_, cur)| cur == c);
    }
    let mut out = RunResult::default();
    if let Some(wanted) = &req.partner_ids {
        groups.retain(|(p, _)| wanted.contains(p));
        for p in wanted {
            if !groups.iter().any(|(g, _)| g == p) {
                out.skipped.push(Skipped {
                    partner_id: p.clone(),
                    currency: req.currency.as_ref().map(|c| c.as_str().to_string()),
                    balance_minor: 0,
                    reason: "no_commissions",
                });
            }
        }
    }
    for chunk in groups.chunks(CHUNK) {
        let decided = match run_chunk(state, req, &settings, chunk).await? {
            Some(decided) => decided,
            // A concurrent run took some of it: decide each group alone.
            None => {
                let mut each = RunResult::default();
                for group in chunk {
                    let one = run_chunk(state, req, &settings, std::slice::from_ref(group)).await?;
                    let one = one.unwrap_or_else(|| RunResult {
                        payouts: Vec::new(),
                        skipped: vec![skip(group, 0, "no_commissions")],
                    });
                    each.payouts.extend(one.payouts);
                    each.skipped.extend(one.skipped);
                }
                each
            }
        };
        out.payouts.extend(decided.payouts);
        out.skipped.extend(decided.skipped);
    }
    if !req.dry_run
        && out
            .payouts
            .iter()
            .any(|(p, _)| p.method == PayoutMethod::Stripe)
    {
        send_in_background(state);
    }
    Ok(out)
}

fn skip(group: &Group, balance_minor: i64, reason: &'static str) -> Skipped {
    Skipped {
        partner_id: group.0.clone(),
        currency: Some(group.1.as_str().to_string()),
        balance_minor,
        reason,
    }
}

/// Decides (and unless a dry run, makes) the payouts of these groups in one transaction.
/// `None` when a claim found its commission or clawback taken or changed: nothing was written.
async fn run_chunk(
    state: &AppState,
    req: &RunRequest,
    settings: &Settings,
    groups: &[Group],
) -> ApiResult<Option<RunResult>> {
    let ids: Vec<String> = groups.iter().map(|(p, _)| p.as_str().to_string()).collect();
    let partners: HashMap<PartnerId, Partner> = db::partners::by_ids(&state.db, &ids)
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let mut tx = state.db.begin().await?;
    let (commissions, clawbacks) = store::owed_in_groups(&mut tx, groups, !req.dry_run).await?;
    let mut owed: HashMap<Group, (Vec<Owed>, Vec<Owed>)> = HashMap::new();
    for GroupOwed {
        partner_id,
        currency,
        owed: o,
    } in commissions
    {
        owed.entry((partner_id, currency)).or_default().0.push(o);
    }
    for GroupOwed {
        partner_id,
        currency,
        owed: o,
    } in clawbacks
    {
        owed.entry((partner_id, currency)).or_default().1.push(o);
    }
    let now = state.clock.now();
    let mut result = RunResult::default();
    let mut made: Vec<(Payout, Vec<Owed>, Vec<Owed>)> = Vec::new();
    for group in groups {
        let Some(partner) = partners.get(&group.0) else {
            continue;
        };
        let (commissions, clawbacks) = owed.remove(group).unwrap_or_default();
        match decide(
            state,
            req,
            settings,
            partner,
            group,
            &commissions,
            &clawbacks,
            now,
        )? {
            Ok(payout) => made.push((payout, commissions, clawbacks)),
            Err(skipped) => result.skipped.push(skipped),
        }
    }
    if req.dry_run || made.is_empty() {
        result.payouts = made
            .into_iter()
            .map(|(p, c, _)| (p, oldest_first(&c)))
            .collect();
        return Ok(Some(result));
    }
    for (payout, _, _) in &made {
        db::payouts::insert(&mut *tx, payout, now).await?;
    }
    let held: Vec<(&str, &Owed)> = made
        .iter()
        .flat_map(|(p, c, _)| c.iter().map(move |o| (p.id.as_str(), o)))
        .collect();
    let netted: Vec<(&str, &Owed)> = made
        .iter()
        .flat_map(|(p, _, c)| c.iter().map(move |o| (p.id.as_str(), o)))
        .collect();
    if !store::hold(&mut tx, &held, &netted).await? {
        return Ok(None);
    }
    let events: Vec<PayoutWithItems> = made
        .iter()
        .map(|(payout, commissions, _)| {
            let mut commission_ids: Vec<String> =
                commissions.iter().map(|c| c.id.clone()).collect();
            commission_ids.sort();
            PayoutWithItems {
                payout: payout.clone(),
                commission_ids,
            }
        })
        .collect();
    webhooks::record_views(
        &mut tx,
        EventType::PayoutCreated,
        &events,
        &state.config.public_url,
        now,
    )
    .await?;
    for (payout, _, _) in &made {
        let changes = json!({
            "status": {"before": null, "after": payout.status.as_str()},
            "amountMinor": {"before": null, "after": payout.amount_minor},
            "currency": {"before": null, "after": payout.currency.as_str()},
            "partnerId": {"before": null, "after": payout.partner_id.as_str()},
        });
        audit_payout(&mut tx, "payout.run", &payout.id, changes, now).await?;
    }
    tx.commit().await?;
    for (payout, commissions, _) in made {
        metrics::counter!(crate::instruments::PAYOUTS, "status" => payout.status.as_str())
            .increment(1);
        let ids = oldest_first(&commissions);
        result.payouts.push((payout, ids));
    }
    Ok(Some(result))
}

/// Commission ids oldest first, as `GET /payouts/:id` lists them.
fn oldest_first(commissions: &[Owed]) -> Vec<String> {
    let mut by_age: Vec<&Owed> = commissions.iter().collect();
    by_age.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    by_age.iter().map(|c| c.id.clone()).collect()
}

/// The payout a group gets, or why it gets none.
#[allow(clippy::too_many_arguments)]
fn decide(
    state: &AppState,
    req: &RunRequest,
    settings: &Settings,
    partner: &Partner,
    group: &Group,
    commissions: &[Owed],
    clawbacks: &[Owed],
    now: Timestamp,
) -> ApiResult<Result<Payout, Skipped>> {
    let sum = |items: &[Owed]| {
        items
            .iter()
            .try_fold(0i64, |acc, c| acc.checked_add(c.amount_minor))
            .ok_or_else(|| ApiError::internal("payout total overflows"))
    };
    let gross = sum(commissions)?;
    let claw = sum(clawbacks)?;
    let net = gross - claw;
    let minimum = settings
        .minimums
        .get(group.1.as_str())
        .copied()
        .unwrap_or(0);
    let why_not = if partner.revoked_at.is_some() && !req.include_revoked {
        Some("partner_revoked")
    } else if commissions.is_empty() {
        Some(if claw > 0 {
            "negative_balance"
        } else {
            "no_commissions"
        })
    } else if net <= 0 {
        Some("negative_balance")
    } else if net < minimum {
        Some("below_minimum")
    } else {
        None
    };
    if let Some(reason) = why_not {
        return Ok(Err(skip(group, net, reason)));
    }
    let id = ulid::Ulid::new().to_string();
    // A transfer carries Stripe's units: an amount they cannot write exactly (12.34 MGA, say)
    // is paid by hand instead.
    let stripe_writable = group.1.to_stripe_amount(net).is_some();
    let stripe_ready = state.stripe.is_some()
        && partner.stripe_payouts_enabled
        && partner.stripe_connect_account_id.is_some()
        && stripe_writable;
    Ok(Ok(Payout {
        idempotency_key: format!("payout_{id}"),
        id,
        partner_id: group.0.clone(),
        amount_minor: net,
        gross_minor: gross,
        clawback_minor: claw,
        currency: group.1.clone(),
        method: if stripe_ready {
            PayoutMethod::Stripe
        } else {
            PayoutMethod::Manual
        },
        // The Stripe rail is `processing` before the call is made.
        status: if stripe_ready {
            PayoutStatus::Processing
        } else {
            PayoutStatus::Pending
        },
        destination: stripe_ready
            .then(|| partner.stripe_connect_account_id.clone())
            .flatten(),
        period_start: commissions.iter().map(|c| c.at).min(),
        period_end: commissions.iter().map(|c| c.at).max(),
        created_at: now,
        paid_at: None,
        failure_reason: None,
        stripe_transfer_id: None,
        reference: None,
        attempts: 0,
    }))
}
