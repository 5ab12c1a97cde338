//! API key rows. Keys are found by their display prefix and then compared by hash in constant
//! time; the plaintext never reaches this module.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::{Db, Exec};
use crate::domain::ids::{ApiKeyId, PartnerId};
use crate::domain::scopes::ScopeSet;
use crate::domain::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Admin,
    Scoped,
    Partner,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Admin => "admin",
            KeyKind::Scoped => "scoped",
            KeyKind::Partner => "partner",
        }
    }

    fn parse(s: &str) -> KeyKind {
        match s {
            "admin" => KeyKind::Admin,
            "partner" => KeyKind::Partner,
            _ => KeyKind::Scoped,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApiKeyRow {
    pub id: ApiKeyId,
    pub prefix: String,
    pub key_hash: String,
    pub kind: KeyKind,
    pub scopes: ScopeSet,
    pub partner_id: Option<PartnerId>,
    pub label: Option<String>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

pub struct NewApiKey<'a> {
    pub id: &'a ApiKeyId,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub kind: KeyKind,
    pub scopes: ScopeSet,
    pub partner_id: Option<&'a PartnerId>,
    pub label: Option<&'a str>,
    pub created_at: Timestamp,
}

const COLUMNS: &str =
    "id, prefix, key_hash, kind, scopes, partner_id, label, created_at, last_used_at, revoked_at";

impl FromRow<'_, AnyRow> for ApiKeyRow {
    fn from_row(row: &AnyRow) -> sqlx::Result<ApiKeyRow> {
        Ok(ApiKeyRow {
            id: ApiKeyId::from_string(row.try_get::<String, _>("id")?),
            prefix: row.try_get("prefix")?,
            key_hash: row.try_get("key_hash")?,
            kind: KeyKind::parse(&row.try_get::<String, _>("kind")?),
            scopes: ScopeSet::from_storage(&row.try_get::<String, _>("scopes")?),
            partner_id: row
                .try_get::<Option<String>, _>("partner_id")?
                .map(PartnerId::from_string),
            label: row.try_get("label")?,
            created_at: Timestamp::from_millis(row.try_get("created_at")?),
            last_used_at: row
                .try_get::<Option<i64>, _>("last_used_at")?
                .map(Timestamp::from_millis),
            revoked_at: row
                .try_get::<Option<i64>, _>("revoked_at")?
                .map(Timestamp::from_millis),
        })
    }
}

/// Stores a key. A partner's key only while the partner is not revoked: false otherwise.
/// The partner row is locked first (a no-op update), the same row a revocation updates
/// before it revokes the partner's keys, so the two never interleave.
pub async fn insert(db: &Db, key: NewApiKey<'_>) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    if let Some(partner) = key.partner_id {
        let live = sqlx::query(
            "UPDATE partners SET updated_at = updated_at WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(partner.as_str())
        .execute(&mut *tx)
        .await?;
        if live.rows_affected() == 0 {
            return Ok(false);
        }
    }
    sqlx::query(
        "INSERT INTO api_keys (id, prefix, key_hash, kind, scopes, partner_id, label, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(key.id.as_str())
    .bind(key.prefix)
    .bind(key.key_hash)
    .bind(key.kind.as_str())
    .bind(key.scopes.to_storage())
    .bind(key.partner_id.map(|p| p.as_str().to_string()))
    .bind(key.label)
    .bind(key.created_at.millis())
    .execute(&mut *tx)
    .await?;
    // Never the hash or the secret.
    let changes = serde_json::json!({
        "kind": {"before": null, "after": key.kind.as_str()},
        "scopes": {"before": null, "after": key.scopes.to_storage()},
        "label": {"before": null, "after": key.label},
        "partnerId": {"before": null, "after": key.partner_id.map(|p| p.as_str())},
    });
    let change = super::audit::Change {
        action: "api_key.create",
        target_type: "api_key",
        target_id: key.id.as_str(),
        changes,
    };
    super::audit::append(&mut tx, change, key.created_at).await?;
    tx.commit().await?;
    Ok(true)
}

/// Live (not revoked) keys with this display prefix.
pub async fn live_by_prefix<'e>(ex: impl Exec<'e>, prefix: &str) -> sqlx::Result<Vec<ApiKeyRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL"
    ))
    .bind(prefix)
    .fetch_all(ex)
    .await
}

pub async fn get<'e>(ex: impl Exec<'e>, id: &ApiKeyId) -> sqlx::Result<Option<ApiKeyRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"))
        .bind(id.as_str())
        .fetch_optional(ex)
        .await
}

/// Every key, newest first; `partner` narrows to one partner's keys.
pub async fn list<'e>(
    ex: impl Exec<'e>,
    partner: Option<&PartnerId>,
) -> sqlx::Result<Vec<ApiKeyRow>> {
    match partner {
        Some(p) => sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE partner_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(p.as_str())
        .fetch_all(ex)
        .await,
        None => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM api_keys ORDER BY created_at DESC, id DESC"
            ))
            .fetch_all(ex)
            .await
        }
    }
}

/// Revokes a live key, and ends the console sessions it opened, in one transaction.
/// False when there is no such live key.
pub async fn revoke(db: &Db, id: &ApiKeyId, now: Timestamp) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let done =
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now.millis())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
    sqlx::query("UPDATE admin_sessions SET ended_at = $1 WHERE key_id = $2 AND ended_at IS NULL")
        .bind(now.millis())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 1 {
        let change = super::audit::Change {
            action: "api_key.revoke",
            target_type: "api_key",
            target_id: id.as_str(),
            changes: serde_json::json!({"revokedAt": {"before": null, "after": now}}),
        };
        super::audit::append(&mut tx, change, now).await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

pub async fn touch<'e>(ex: impl Exec<'e>, id: &ApiKeyId, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
        .bind(now.millis())
        .bind(id.as_str())
        .execute(ex)
        .await?;
    Ok(())
}
