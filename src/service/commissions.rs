//! Commission transitions (approve, pay, reverse). Each change and its webhook event
//! (`commission.approved`, `commission.paid`, `commission.reversed`) commit together.

use crate::db::Db;
use crate::db::commissions::{Commission, Status};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::webhooks::{self, EventType};

fn event_of(to: Status) -> Option<EventType> {
    match to {
        Status::Approved => Some(EventType::CommissionApproved),
        Status::Paid => Some(EventType::CommissionPaid),
        Status::Reversed => Some(EventType::CommissionReversed),
        Status::Accrued => None,
    }
}

/// Approves an accrued commission. 409 `not_mature` before its `matureAt` unless `force`
/// (recorded on it); 409 `invalid_transition` when it is not accrued.
pub async fn approve(state: &AppState, id: &str, force: bool) -> ApiResult<Commission> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    if !Db::approve_commission(&mut tx, id, now, force).await? {
        return Err(match Db::get_commission_tx(&mut tx, id).await? {
            Some(c) if c.status == Status::Accrued => ApiError::conflict(
                "not_mature",
                format!(
                    "This commission matures at {}; approve it after that, or pass force: true.",
                    c.mature_at
                ),
            )
            .with("matureAt", c.mature_at),
            Some(c) => invalid_transition(&c, Status::Approved),
            None => ApiError::not_found("No such commission."),
        });
    }
    finish(state, tx, id, Status::Approved).await
}

/// Moves a commission to `to` (paid, reversed) when its state allows it; 409
/// `invalid_transition` otherwise.
pub async fn transition(state: &AppState, id: &str, to: Status) -> ApiResult<Commission> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    if !Db::transition_commission(&mut tx, id, to, now).await? {
        return Err(match Db::get_commission_tx(&mut tx, id).await? {
            Some(c) => invalid_transition(&c, to),
            None => ApiError::not_found("No such commission."),
        });
    }
    finish(state, tx, id, to).await
}

/// Reads the changed commission, records its event and commits.
async fn finish(
    state: &AppState,
    mut tx: crate::db::Tx,
    id: &str,
    to: Status,
) -> ApiResult<Commission> {
    let updated = Db::get_commission_tx(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such commission."))?;
    if let Some(event) = event_of(to) {
        let url = &state.config.public_url;
        webhooks::record_view(&mut tx, event, &updated, url, state.clock.now()).await?;
    }
    tx.commit().await?;
    Ok(updated)
}

fn invalid_transition(c: &Commission, to: Status) -> ApiError {
    ApiError::conflict(
        "invalid_transition",
        format!(
            "A commission that is {} cannot become {}.",
            c.status.as_str(),
            to.as_str()
        ),
    )
}
