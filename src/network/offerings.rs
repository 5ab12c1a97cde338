//! Offerings: programs with `shareOnNetwork` are published to the Network (created, then
//! updated; turning sharing off unpublishes). A failed sync leaves the program marked and is
//! retried by the jobs; it never fails the program save.

use serde_json::{Value, json};

use crate::db;
use crate::db::programs::Program;
use crate::domain::rules::rule_views;
use crate::network::client::ADMIN_TIMEOUT;
use crate::network::vendor_token;
use crate::state::AppState;

/// The offering as the Network takes it. `terms` carries the rule set and the legacy mirror of
/// its first `every` rule (`commissionType`, `commissionValue`, `recurring`); `holdbackDays`
/// stays beside `payoutHoldbackDays` for older Networks.
fn offering_body(p: &Program) -> Value {
    let legacy = p.rules.legacy();
    let currency = legacy.currency.unwrap_or(&p.currency);
    json!({
        "title": p.name,
        "description": p.marketplace_description,
        "productUrl": p.destination_url,
        "vendorProgramId": p.id,
        "terms": {
            "commissionRules": rule_views(&p.rules),
            "commissionType": legacy.rate.kind.as_str(),
            "commissionValue": legacy.rate.display_value(Some(currency)),
            "recurring": legacy.recurring,
            "currency": p.currency.as_str(),
            "payoutHoldbackDays": p.holdback_days,
            "holdbackDays": p.holdback_days,
            "attributionWindowDays": p.attribution_window_days,
        },
        "published": p.share_on_network,
    })
}

/// How long a sync holds a program: longer than one call to the Network can take.
const LEASE_MS: i64 = 5 * 60_000;

/// Sends every pending offering change. Returns how many were sent.
pub async fn sync(state: &AppState) -> anyhow::Result<usize> {
    let network = db::network::get(state.db.pool()).await?;
    let Ok(token) = vendor_token(state, &network) else {
        return Ok(0);
    };
    let mut done = 0;
    for id in db::programs::needing_offering_sync(state.db.pool(), state.clock.now()).await? {
        // An edit made while this sync sends the program leaves it to this sync (the claim
        // stays), which sends it again: never a second create from another sync.
        loop {
            let owner = ulid::Ulid::new().to_string();
            let now = state.clock.now();
            if !db::programs::claim_offering_sync(
                state.db.pool(),
                &id,
                &owner,
                now,
                now.plus_millis(LEASE_MS),
            )
            .await?
            {
                break; // sent, or another sync is sending it
            }
            let Some(p) = db::programs::get(state.db.pool(), &id).await? else {
                break;
            };
            match send(state, &token, &p).await {
                Ok(offering_id) => {
                    db::programs::offering_synced(
                        &state.db,
                        p.id.as_str(),
                        offering_id.as_deref(),
                        &owner,
                    )
                    .await?;
                    done += 1;
                }
                Err(e) => {
                    tracing::warn!(program = %p.id, reason = %e, "offering sync failed; will retry");
                    db::programs::offering_sync_failed(&state.db, p.id.as_str(), &owner).await?;
                    break;
                }
            }
        }
    }
    Ok(done)
}

/// Creates, updates or unpublishes the program's offering; the id of a created one.
async fn send(
    state: &AppState,
    token: &str,
    p: &Program,
) -> Result<Option<String>, crate::network::client::CallError> {
    let body = offering_body(p);
    let create = || async {
        state
            .network
            .post("/vendors/me/offerings", Some(token), &body, ADMIN_TIMEOUT)
            .await
            .map(|a| a["id"].as_str().map(str::to_string))
    };
    match &p.network_offering_id {
        Some(offering) => match state
            .network
            .patch(
                &format!("/vendors/me/offerings/{offering}"),
                token,
                &body,
                ADMIN_TIMEOUT,
            )
            .await
        {
            Ok(_) => Ok(None),
            // The Network does not know this offering (e.g. we reconnected as another vendor):
            // publish it anew rather than retry a dead id forever.
            Err(crate::network::client::CallError::Status { status: 404, .. })
                if p.share_on_network =>
            {
                create().await
            }
            Err(crate::network::client::CallError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        },
        None if p.share_on_network => create().await,
        None => Ok(None),
    }
}

pub fn sync_in_background(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = sync(&state).await {
            tracing::warn!(error = %e, "offering sync failed; will retry");
        }
    });
}
