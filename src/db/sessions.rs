//! Partner sessions (`ops_` tokens, stored hashed).

use sqlx::Row;

use super::{Db, Tx};
use crate::domain::ids::{PartnerId, SessionId};
use crate::domain::time::Timestamp;

pub struct LiveSession {
    pub id: SessionId,
    pub partner_id: PartnerId,
    pub expires_at: Timestamp,
}

impl Db {
    /// A live admin console session: its id and expiry.
    pub async fn live_admin_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> sqlx::Result<Option<(String, Timestamp)>> {
        let row = sqlx::query(
            "SELECT id, expires_at FROM admin_sessions WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now.millis())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| Ok((r.try_get(0)?, Timestamp::from_millis(r.try_get(1)?))))
            .transpose()
    }

    pub async fn create_admin_session(
        &self,
        token_hash: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO admin_sessions (id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(ulid::Ulid::new().to_string())
            .bind(token_hash)
            .bind(now.millis())
            .bind(expires_at.millis())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn end_admin_session(&self, token_hash: &str, now: Timestamp) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE admin_sessions SET ended_at = $1 WHERE token_hash = $2 AND ended_at IS NULL",
        )
        .bind(now.millis())
        .bind(token_hash)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The session with this token hash, if it has not ended or expired.
    pub async fn live_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> sqlx::Result<Option<LiveSession>> {
        let row = sqlx::query(
            "SELECT id, partner_id, expires_at FROM sessions \
             WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now.millis())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(LiveSession {
                id: SessionId::from_string(r.try_get::<String, _>("id")?),
                partner_id: PartnerId::from_string(r.try_get::<String, _>("partner_id")?),
                expires_at: Timestamp::from_millis(r.try_get("expires_at")?),
            })
        })
        .transpose()
    }

    pub async fn create_session(
        tx: &mut Tx,
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
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn end_session(&self, id: &SessionId, now: Timestamp) -> sqlx::Result<()> {
        sqlx::query("UPDATE sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
            .bind(now.millis())
            .bind(id.as_str())
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
