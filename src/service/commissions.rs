//! Commission transitions (approve, pay, reverse). Each change and its webhook event
//! (`commission.approved`, `commission.paid`, `commission.reversed`) commit together.

use crate::db;
use crate::db::commissions::{Commission, Reversal};
use crate::domain::commission::CommissionStatus;
use crate::domain::ids::CommissionId;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::webhooks::{self, EventType};

fn event_of(to: CommissionStatus) -> Option<EventType> {
    match to {
        CommissionStatus::Approved => Some(EventType::CommissionApproved),
        CommissionStatus::Paid => Some(EventType::CommissionPaid),
        CommissionStatus::Reversed => Some(EventType::CommissionReversed),
        CommissionStatus::Accrued | CommissionStatus::OnHold => None,
    }
}

/// Approves an accrued commission. 409 `not_mature` before its `matureAt` unless `force`
/// (recorded on it); 409 `invalid_transition` when it is not accrued.
pub async fn approve(state: &AppState, id: &CommissionId, force: bool) -> ApiResult<Commission> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let before = db::commissions::get(&mut *tx, id).await?;
    if !db::commissions::approve(&mut *tx, id, now, force).await? {
        return Err(match db::commissions::get(&mut *tx, id).await? {
            Some(c) if c.status == CommissionStatus::Accrued => ApiError::conflict(
                "not_mature",
                format!(
                    "This commission matures at {}; approve it after that, or pass force: true.",
                    c.mature_at
                ),
            )
            .with("matureAt", c.mature_at),
            Some(c) => invalid_transition(&c, CommissionStatus::Approved),
            None => ApiError::not_found("No such commission."),
        });
    }
    finish(state, tx, id, CommissionStatus::Approved, before).await
}

/// Moves a commission to `to` (paid, reversed) when its state allows it; 409
/// `invalid_transition` otherwise.
pub async fn transition(
    state: &AppState,
    id: &CommissionId,
    to: CommissionStatus,
) -> ApiResult<Commission> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let before = db::commissions::get(&mut *tx, id).await?;
    if !db::commissions::transition(&mut *tx, id, to, now).await? {
        return Err(match db::commissions::get(&mut *tx, id).await? {
            Some(c) => invalid_transition(&c, to),
            None => ApiError::not_found("No such commission."),
        });
    }
    finish(state, tx, id, to, before).await
}

/// Reverses a commission (a paid one becomes a clawback), with its `commission.reversed`
/// event, in one transaction.
pub async fn reverse(
    state: &AppState,
    id: &CommissionId,
    reason: Option<&str>,
) -> ApiResult<Commission> {
    let mut tx = state.db.begin().await?;
    let before = db::commissions::get(&mut *tx, id).await?;
    match db::commissions::reverse(&mut tx, id, reason, state.clock.now()).await? {
        Reversal::Reversed | Reversal::ClawedBack => {}
        Reversal::NotFound => return Err(ApiError::not_found("No such commission.")),
        Reversal::InPayout => {
            return Err(ApiError::conflict(
                "in_payout",
                "This commission is in a payout not yet paid; cancel that payout first.",
            ));
        }
        Reversal::Invalid(status) => {
            return Err(ApiError::conflict(
                "invalid_transition",
                format!(
                    "A commission that is {} cannot be reversed.",
                    status.as_str()
                ),
            ));
        }
    }
    finish(state, tx, id, CommissionStatus::Reversed, before).await
}

/// Approves every matured accrued commission in programs with auto-approve on, each with its
/// `commission.approved` event. Returns how many.
pub async fn auto_approve(state: &AppState) -> ApiResult<u64> {
    let mut approved = 0;
    loop {
        let due =
            db::payout_reports::auto_approvable(state.db.pool(), state.clock.now(), 500).await?;
        if due.is_empty() {
            return Ok(approved);
        }
        for id in due {
            let mut tx = state.db.begin().await?;
            let before = db::commissions::get(&mut *tx, &id).await?;
            // Another replica (or an admin) may have moved it meanwhile: then skip it.
            if db::commissions::approve(&mut *tx, &id, state.clock.now(), false).await? {
                finish(state, tx, &id, CommissionStatus::Approved, before).await?;
                approved += 1;
            }
        }
    }
}

/// Reads the changed commission, records its event and audit row, and commits.
async fn finish(
    state: &AppState,
    mut tx: crate::db::Tx,
    id: &CommissionId,
    to: CommissionStatus,
    before: Option<Commission>,
) -> ApiResult<Commission> {
    let updated = db::commissions::get(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such commission."))?;
    let action = match to {
        CommissionStatus::Approved => "commission.approve",
        CommissionStatus::Paid => "commission.mark_paid",
        CommissionStatus::Reversed => "commission.reverse",
        CommissionStatus::Accrued | CommissionStatus::OnHold => "commission.update",
    };
    let changes = crate::db::audit::diff(
        &before.as_ref().map(audit_fields).unwrap_or_default(),
        &audit_fields(&updated),
    );
    let change = crate::db::audit::Change {
        action,
        target_type: "commission",
        target_id: id.as_str(),
        changes,
    };
    crate::db::audit::append(&mut tx, change, state.clock.now()).await?;
    metrics::counter!(crate::instruments::COMMISSIONS, "status" => to.as_str()).increment(1);
    if let Some(event) = event_of(to) {
        let url = &state.config.public_url;
        webhooks::record_view(&mut tx, event, &updated, url, state.clock.now()).await?;
    }
    tx.commit().await?;
    Ok(updated)
}

/// The fields of a commission an audit row compares.
fn audit_fields(c: &Commission) -> serde_json::Value {
    serde_json::json!({
        "status": c.status.as_str(),
        "approvedAt": c.approved_at,
        "paidAt": c.paid_at,
        "approvalForced": c.approval_forced,
    })
}

fn invalid_transition(c: &Commission, to: CommissionStatus) -> ApiError {
    ApiError::conflict(
        "invalid_transition",
        format!(
            "A commission that is {} cannot become {}.",
            c.status.as_str(),
            to.as_str()
        ),
    )
}
