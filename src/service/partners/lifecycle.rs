//! The partner lifecycle after creation: re-invite, sign-in links, revoke, reinstate and
//! approve. Each change and the email it causes are committed together.

use serde_json::json;

use super::{audit, get_existing};
use crate::db;
use crate::db::magic_links::Purpose;
use crate::db::partners::Partner;
use crate::domain::email::Email;
use crate::domain::ids::PartnerId;
use crate::email::Template;
use crate::error::{ApiError, ApiResult};
use crate::network::sync::{self, Change};
use crate::service::magic;
use crate::state::AppState;
use crate::webhooks::{self, EventType};

/// Emails a fresh invite link. Earlier links stay valid until their own expiry.
pub async fn reinvite(state: &AppState, id: &PartnerId) -> ApiResult<()> {
    let partner = get_existing(state, id).await?;
    if partner.revoked_at.is_some() {
        return Err(ApiError::conflict(
            "partner_revoked",
            "This partner is revoked; reinstate it first.",
        ));
    }
    if partner.activated_at.is_some() {
        return Err(ApiError::conflict(
            "already_activated",
            "This partner already accepted; it can sign in with POST /auth/signin.",
        ));
    }
    let mut tx = state.db.begin().await?;
    let mail = magic::issue_link(
        state,
        &mut tx,
        &partner,
        Purpose::Invite,
        Template::Invite,
        json!({}),
    )
    .await?;
    // No token, no link: only that an invite went out again.
    let change = crate::db::audit::Change {
        action: "partner.invite",
        target_type: "partner",
        target_id: partner.id.as_str(),
        changes: json!({"inviteSent": {"before": null, "after": true}}),
    };
    crate::db::audit::append(&mut tx, change, state.clock.now()).await?;
    tx.commit().await?;
    state.mailer.kick(mail);
    Ok(())
}

/// Emails a sign-in link if (and only if) the partner may sign in; a revoked partner gets the
/// suspended-access notice instead. Says nothing either way.
pub async fn send_signin_link(state: &AppState, email: &Email) -> ApiResult<()> {
    let Some(partner) = db::partners::get_by_email(state.db.pool(), email.as_str()).await? else {
        return Ok(());
    };
    if partner.revoked_at.is_some() {
        return magic::send_suspended_notice(state, &partner).await;
    }
    if partner.activated_at.is_none() || partner.pending_review {
        return Ok(());
    }
    let mut tx = state.db.begin().await?;
    let mail = magic::issue_link(
        state,
        &mut tx,
        &partner,
        Purpose::SignIn,
        Template::SignIn,
        json!({}),
    )
    .await?;
    tx.commit().await?;
    state.mailer.kick(mail);
    Ok(())
}

pub struct Revoked {
    pub partner: Partner,
    pub notified: bool,
}

/// Suspends a partner: ends its sessions and partner keys in the same transaction and, when
/// `notify`, emails it the reason.
pub async fn revoke(
    state: &AppState,
    id: &PartnerId,
    reason: Option<String>,
    notify: bool,
) -> ApiResult<Revoked> {
    let now = state.clock.now();
    let network = db::network::get(state.db.pool()).await?;
    let mut tx = state.db.begin().await?;
    let Some(partner) = db::partners::get(&mut *tx, id).await? else {
        return Err(ApiError::not_found("No such partner."));
    };
    let before = partner.clone();
    if !db::partners::revoke(&mut tx, id, reason.as_deref(), now).await? {
        return Err(ApiError::conflict(
            "already_revoked",
            "This partner is already revoked.",
        ));
    }
    let mail = if notify {
        let mail = state
            .mailer
            .render(
                &mut tx,
                Template::Revoked,
                &partner.email,
                json!({ "name": partner.name, "reason": reason }),
            )
            .await
            .map_err(ApiError::internal)?;
        state.mailer.enqueue(&mut tx, &mail).await?;
        Some(mail.id)
    } else {
        None
    };
    let partner = db::partners::get(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such partner."))?;
    let url = &state.config.public_url;
    webhooks::record_view(&mut tx, EventType::PartnerRevoked, &partner, url, now).await?;
    audit(&mut tx, "partner.revoke", Some(&before), &partner, now).await?;
    let pushed = sync::enqueue(state, &mut tx, &network, &partner, Change::Revoked).await?;
    tx.commit().await?;
    // Sessions and keys end at once on this replica; its links stop earning at once.
    state.auth.invalidate_all();
    state.link_cache.clear();
    if pushed {
        sync::push_now(state, id).await;
    }
    let notified = mail.is_some();
    if let Some(mail) = mail {
        state.mailer.kick(mail);
    }
    Ok(Revoked { partner, notified })
}

pub async fn reinstate(state: &AppState, id: &PartnerId) -> ApiResult<Partner> {
    let now = state.clock.now();
    let network = db::network::get(state.db.pool()).await?;
    let mut tx = state.db.begin().await?;
    let Some(before) = db::partners::get(&mut *tx, id).await? else {
        return Err(ApiError::not_found("No such partner."));
    };
    if !db::partners::reinstate(&mut *tx, id, now).await? {
        return Err(ApiError::conflict(
            "not_revoked",
            "This partner is not revoked.",
        ));
    }
    let partner = db::partners::get(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such partner."))?;
    let url = &state.config.public_url;
    webhooks::record_view(&mut tx, EventType::PartnerReinstated, &partner, url, now).await?;
    audit(&mut tx, "partner.reinstate", Some(&before), &partner, now).await?;
    let pushed = sync::enqueue(state, &mut tx, &network, &partner, Change::Reinstated).await?;
    tx.commit().await?;
    state.link_cache.clear();
    if pushed {
        sync::push_now(state, id).await;
    }
    Ok(partner)
}

/// Approves a self-signed-up partner awaiting review and emails it a sign-in link.
pub async fn approve(state: &AppState, id: &PartnerId) -> ApiResult<Partner> {
    let partner = get_existing(state, id).await?;
    if partner.revoked_at.is_some() {
        return Err(ApiError::conflict(
            "partner_revoked",
            "This partner is revoked.",
        ));
    }
    // The approval and its email commit together: never approved without the mail queued.
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let before = db::partners::get(&mut *tx, id).await?;
    let was_active = before.as_ref().is_some_and(|p| p.activated_at.is_some());
    if !db::partners::approve(&mut *tx, id, now).await? {
        return Err(ApiError::conflict(
            "not_pending_review",
            "This partner is not awaiting review.",
        ));
    }
    let partner = db::partners::get(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such partner."))?;
    if !was_active {
        let url = &state.config.public_url;
        webhooks::record_view(&mut tx, EventType::PartnerActivated, &partner, url, now).await?;
    }
    audit(&mut tx, "partner.approve", before.as_ref(), &partner, now).await?;
    let mail = magic::issue_link(
        state,
        &mut tx,
        &partner,
        Purpose::SignIn,
        Template::Approved,
        json!({}),
    )
    .await?;
    tx.commit().await?;
    state.mailer.kick(mail);
    Ok(partner)
}
