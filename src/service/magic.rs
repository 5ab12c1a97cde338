//! Magic links and partner sessions: issuing a link (and its email) inside the caller's
//! transaction, and turning a verified link into a session.

use serde_json::json;

use crate::db;
use crate::db::Tx;
use crate::db::magic_links::Purpose;
use crate::db::partners::Partner;
use crate::domain::ids::{MailId, SessionId};
use crate::domain::time::Timestamp;
use crate::domain::tokens::{NewToken, TokenKind, hash_token};
use crate::email::Template;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::webhooks::{self, EventType};

pub const LINK_TTL_MINUTES: i64 = 15;
pub const SESSION_TTL_DAYS: i64 = 30;

/// Records a new magic link for `partner` and its email in `tx`; returns the mail id to kick
/// after commit.
pub async fn issue_link(
    state: &AppState,
    tx: &mut Tx,
    partner: &Partner,
    purpose: Purpose,
    template: Template,
    extra: serde_json::Value,
) -> ApiResult<MailId> {
    let now = state.clock.now();
    let token = NewToken::generate(TokenKind::MagicLink);
    db::magic_links::insert(
        &mut **tx,
        &token.hash,
        &partner.id,
        purpose,
        now,
        now.plus_millis(LINK_TTL_MINUTES * 60_000),
    )
    .await?;
    let mut ctx = json!({
        "name": partner.name,
        "link": format!("{}/auth/magic?token={}", state.config.public_url, token.plaintext),
        "expires_minutes": LINK_TTL_MINUTES,
    });
    if let (Some(ctx), serde_json::Value::Object(extra)) = (ctx.as_object_mut(), extra) {
        ctx.extend(extra);
    }
    let mail = state
        .mailer
        .render(tx, template, &partner.email, ctx)
        .await
        .map_err(ApiError::internal)?;
    state.mailer.enqueue(tx, &mail).await?;
    Ok(mail.id)
}

/// Emails a revoked partner who asked for a sign-in link that its access is suspended, and
/// why (seed 004: the reason is visible when they try to sign in again). The caller answers
/// as it does for anyone, so the address's state is never revealed to the requester.
pub async fn send_suspended_notice(state: &AppState, partner: &Partner) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    let mail = state
        .mailer
        .render(
            &mut tx,
            Template::Suspended,
            &partner.email,
            json!({ "name": partner.name, "reason": partner.revoke_reason }),
        )
        .await
        .map_err(ApiError::internal)?;
    state.mailer.enqueue(&mut tx, &mail).await?;
    tx.commit().await?;
    state.mailer.kick(mail.id);
    Ok(())
}

/// Why a usable magic link's partner is suspended, or `None` when the link is not usable or
/// its partner is not revoked. Reads only: the link stays usable (the partner may be
/// reinstated).
pub async fn suspended_reason(state: &AppState, token: &str) -> ApiResult<Option<String>> {
    if TokenKind::of(token) != Some(TokenKind::MagicLink) {
        return Ok(None);
    }
    let Some(partner_id) =
        db::magic_links::partner_of(state.db.pool(), &hash_token(token), state.clock.now()).await?
    else {
        return Ok(None);
    };
    Ok(db::partners::get(state.db.pool(), &partner_id)
        .await?
        .filter(|p| p.revoked_at.is_some())
        .map(|p| p.revoke_reason.unwrap_or_else(|| SUSPENDED.to_string())))
}

const SUSPENDED: &str = "This partner account is suspended.";

/// The outcome of a verified magic link.
pub struct Verified {
    pub partner: Partner,
    /// A new session token, unless the partner still awaits review.
    pub session: Option<String>,
}

/// Consumes a magic link (once, atomically), verifies the partner's email, activates it unless
/// it awaits review, and opens a session.
pub async fn verify(state: &AppState, token: &str) -> ApiResult<Verified> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_or_expired_token",
            "This link is invalid, already used or expired. Ask for a new one.",
        )
    };
    if TokenKind::of(token) != Some(TokenKind::MagicLink) {
        return Err(invalid());
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let Some((partner_id, _purpose)) =
        db::magic_links::consume(&mut *tx, &hash_token(token), now).await?
    else {
        return Err(invalid());
    };
    let Some(partner) = db::partners::get(&mut *tx, &partner_id).await? else {
        return Err(invalid());
    };
    if partner.revoked_at.is_some() {
        // The link stays unused: the partner may be reinstated.
        tx.rollback().await?;
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "partner_revoked",
            partner
                .revoke_reason
                .clone()
                .unwrap_or_else(|| SUSPENDED.to_string()),
        ));
    }
    let activated = db::partners::verify_email(&mut tx, &partner.id, now).await?;
    let session = if partner.pending_review {
        None
    } else {
        Some(open_session(&mut tx, &partner, now).await?)
    };
    let partner = db::partners::get(&mut *tx, &partner.id)
        .await?
        .ok_or_else(invalid)?;
    if activated {
        let url = &state.config.public_url;
        webhooks::record_view(&mut tx, EventType::PartnerActivated, &partner, url, now).await?;
    }
    tx.commit().await?;
    Ok(Verified { partner, session })
}

async fn open_session(tx: &mut Tx, partner: &Partner, now: Timestamp) -> ApiResult<String> {
    let token = NewToken::generate(TokenKind::Session);
    db::sessions::create(
        &mut **tx,
        &SessionId::generate(),
        &token.hash,
        &partner.id,
        now,
        now.plus_days(SESSION_TTL_DAYS),
    )
    .await?;
    Ok(token.plaintext)
}
