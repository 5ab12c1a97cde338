//! Instance settings: small key → value pairs that admins change at run time.

use super::{Db, Exec};

pub async fn get<'e>(ex: impl Exec<'e>, key: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(key)
        .fetch_optional(ex)
        .await
}

pub async fn set<'e>(ex: impl Exec<'e>, key: &str, value: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(ex)
    .await?;
    Ok(())
}

/// Stores a setting an admin changed, with its audit row (`config.update`, the JSON before
/// and after compared field by field).
pub async fn set_audited(
    db: &Db,
    key: &str,
    value: &str,
    now: crate::domain::time::Timestamp,
) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    let before = get(&mut *tx, key).await?;
    set(&mut *tx, key, value).await?;
    let json = |raw: Option<&str>| {
        raw.and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
            .unwrap_or_default()
    };
    let change = super::audit::Change {
        action: "config.update",
        target_type: "config",
        target_id: key,
        changes: super::audit::diff(&json(before.as_deref()), &json(Some(value))),
    };
    super::audit::append(&mut tx, change, now).await?;
    tx.commit().await
}

/// Stores `value` unless the key already has one; returns the value that is stored.
pub async fn get_or_init(db: &Db, key: &str, value: &str) -> sqlx::Result<String> {
    sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
        .bind(key)
        .bind(value)
        .execute(db.pool())
        .await?;
    Ok(get(db.pool(), key)
        .await?
        .unwrap_or_else(|| value.to_string()))
}

/// The setting that holds the brand name an admin gave, as `{"brandName": "..."}` (an
/// object, so its audit row compares the field).
pub const BRAND_NAME_KEY: &str = "brand_name";

fn brand_of(raw: Option<String>) -> Option<String> {
    raw.and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok())
        .and_then(|v| v["brandName"].as_str().map(str::to_string))
}

/// The brand name partners see: the one an admin stored, else `fallback` (the configured
/// name). Read at each use, so every replica shows the same name.
pub async fn brand_name<'e>(ex: impl Exec<'e>, fallback: &str) -> sqlx::Result<String> {
    let stored = brand_of(get(ex, BRAND_NAME_KEY).await?);
    Ok(stored.unwrap_or_else(|| fallback.to_string()))
}

/// Stores the brand name, with its audit row.
pub async fn set_brand_name(
    db: &Db,
    name: &crate::domain::brand::BrandName,
    now: crate::domain::time::Timestamp,
) -> sqlx::Result<()> {
    let value = serde_json::json!({ "brandName": name.as_str() }).to_string();
    set_audited(db, BRAND_NAME_KEY, &value, now).await
}
