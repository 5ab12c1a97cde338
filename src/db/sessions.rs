//! Partner sessions (`ops_` tokens, stored hashed).

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::{Db, Exec};
use crate::domain::ids::{PartnerId, SessionId};
use crate::domain::time::Timestamp;

pub struct LiveSession {
    pub id: SessionId,
    pub partner_id: PartnerId,
    pub expires_at: Timestamp,
}

/// The key a console session was opened with; the session lives only as long as it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionKey {
    /// An admin API key (its id).
    ApiKey(String),
    /// The configured `ADMIN_API_KEY` (the SHA-256 of it, hex).
    Configured(String),
}

/// A live admin session.
pub struct LiveAdminSession {
    pub expires_at: Timestamp,
    pub key: SessionKey,
}

impl FromRow<'_, AnyRow> for LiveSession {
    fn from_row(r: &AnyRow) -> sqlx::Result<LiveSession> {
        Ok(LiveSession {
            id: SessionId::from_string(r.try_get::<String, _>("id")?),
            partner_id: PartnerId::from_string(r.try_get::<String, _>("partner_id")?),
            expires_at: Timestamp::from_millis(r.try_get("expires_at")?),
        })
    }
}

/// A live admin console session: not ended, not expired, and, when an API key opened it,
/// that key not revoked. (A session of the configured key is checked against the current
/// setting by the caller.)
pub async fn live_admin<'e>(
    ex: impl Exec<'e>,
    token_hash: &str,
    now: Timestamp,
) -> sqlx::Result<Option<LiveAdminSession>> {
    let row = sqlx::query(
        "SELECT s.expires_at, s.key_id, s.key_digest FROM admin_sessions s \
         LEFT JOIN api_keys k ON k.id = s.key_id \
         WHERE s.token_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2 \
         AND ((s.key_id IS NOT NULL AND k.revoked_at IS NULL AND k.kind = 'admin') \
              OR (s.key_id IS NULL AND s.key_digest IS NOT NULL))",
    )
    .bind(token_hash)
    .bind(now.millis())
    .fetch_optional(ex)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let key = match (
        r.try_get::<Option<String>, _>("key_id")?,
        r.try_get::<Option<String>, _>("key_digest")?,
    ) {
        (Some(id), _) => SessionKey::ApiKey(id),
        (None, Some(digest)) => SessionKey::Configured(digest),
        (None, None) => return Ok(None),
    };
    Ok(Some(LiveAdminSession {
        expires_at: Timestamp::from_millis(r.try_get("expires_at")?),
        key,
    }))
}

pub async fn create_admin(
    db: &Db,
    token_hash: &str,
    key: &SessionKey,
    now: Timestamp,
    expires_at: Timestamp,
) -> sqlx::Result<()> {
    let (key_id, key_digest) = match key {
        SessionKey::ApiKey(id) => (Some(id.as_str()), None),
        SessionKey::Configured(digest) => (None, Some(digest.as_str())),
    };
    let id = ulid::Ulid::new().to_string();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO admin_sessions (id, token_hash, created_at, expires_at, key_id, key_digest) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(token_hash)
    .bind(now.millis())
    .bind(expires_at.millis())
    .bind(key_id)
    .bind(key_digest)
    .execute(&mut *tx)
    .await?;
    // The session acts as the key it was opened with; never the token or its hash.
    let actor = super::audit::Actor {
        id: key_id.unwrap_or("admin_api_key").to_string(),
        key_id: key_id.map(str::to_string),
    };
    let change = super::audit::Change {
        action: "session.create",
        target_type: "admin_session",
        target_id: &id,
        changes: serde_json::json!({"expiresAt": {"before": null, "after": expires_at}}),
    };
    super::audit::append_as(&mut tx, Some(actor), change, now).await?;
    tx.commit().await
}

/// Ends every console session (all admins signed out). Returns how many were live.
pub async fn end_all_admin(db: &Db, now: Timestamp) -> sqlx::Result<u64> {
    let mut tx = db.begin().await?;
    let done = sqlx::query("UPDATE admin_sessions SET ended_at = $1 WHERE ended_at IS NULL")
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
    let change = super::audit::Change {
        action: "session.end_all",
        target_type: "admin_session",
        target_id: "*",
        changes: serde_json::json!({"ended": {"before": null, "after": done.rows_affected()}}),
    };
    super::audit::append(&mut tx, change, now).await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

pub async fn end_admin(db: &Db, token_hash: &str, now: Timestamp) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    let ended = sqlx::query(
        "UPDATE admin_sessions SET ended_at = $1 WHERE token_hash = $2 AND ended_at IS NULL \
         RETURNING id",
    )
    .bind(now.millis())
    .bind(token_hash)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = ended {
        let id: String = row.try_get(0)?;
        let change = super::audit::Change {
            action: "session.end",
            target_type: "admin_session",
            target_id: &id,
            changes: serde_json::json!({"endedAt": {"before": null, "after": now}}),
        };
        super::audit::append(&mut tx, change, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The session with this token hash, if it has not ended or expired.
pub async fn live<'e>(
    ex: impl Exec<'e>,
    token_hash: &str,
    now: Timestamp,
) -> sqlx::Result<Option<LiveSession>> {
    sqlx::query_as(
        "SELECT id, partner_id, expires_at FROM sessions \
         WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now.millis())
    .fetch_optional(ex)
    .await
}

pub async fn create<'e>(
    ex: impl Exec<'e>,
    id: &SessionId,
    token_hash: &str,
    partner_id: &PartnerId,
    now: Timestamp,
    expires_at: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, partner_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id.as_str())
    .bind(token_hash)
    .bind(partner_id.as_str())
    .bind(now.millis())
    .bind(expires_at.millis())
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn end(db: &Db, id: &SessionId, now: Timestamp) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    let done = sqlx::query("UPDATE sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
        .bind(now.millis())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 1 {
        // The session's id, never its token or hash.
        let change = super::audit::Change {
            action: "partner_session.end",
            target_type: "partner_session",
            target_id: id.as_str(),
            changes: serde_json::json!({"endedAt": {"before": null, "after": now}}),
        };
        super::audit::append(&mut tx, change, now).await?;
    }
    tx.commit().await
}
