//! Instance settings: small key → value pairs that admins change at run time.

use sqlx::Row;

use super::{Db, Tx};

impl Db {
    pub async fn get_setting(&self, key: &str) -> sqlx::Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| r.try_get(0)).transpose()
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Stores a setting an admin changed, with its audit row (`config.update`, the JSON before
    /// and after compared field by field).
    pub async fn set_setting_audited(
        &self,
        key: &str,
        value: &str,
        now: crate::domain::time::Timestamp,
    ) -> sqlx::Result<()> {
        let mut tx = self.begin().await?;
        let before = Db::get_setting_tx(&mut tx, key).await?;
        Db::set_setting_tx(&mut tx, key, value).await?;
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

    /// `get_setting` inside `tx`.
    pub async fn get_setting_tx(tx: &mut Tx, key: &str) -> sqlx::Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut **tx)
            .await?;
        row.map(|r| r.try_get(0)).transpose()
    }

    /// `set_setting` inside `tx`.
    pub async fn set_setting_tx(tx: &mut Tx, key: &str, value: &str) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Stores `value` unless the key already has one; returns the value that is stored.
    pub async fn setting_or_init(&self, key: &str, value: &str) -> sqlx::Result<String> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(self.pool())
        .await?;
        Ok(self
            .get_setting(key)
            .await?
            .unwrap_or_else(|| value.to_string()))
    }
}

/// The setting that holds the brand name an admin gave, as `{"brandName": "..."}` (an
/// object, so its audit row compares the field).
pub const BRAND_NAME_KEY: &str = "brand_name";

fn brand_of(raw: Option<String>) -> Option<String> {
    raw.and_then(|r| serde_json::from_str::<serde_json::Value>(&r).ok())
        .and_then(|v| v["brandName"].as_str().map(str::to_string))
}

impl Db {
    /// The brand name partners see: the one an admin stored, else `fallback` (the configured
    /// name). Read at each use, so every replica shows the same name.
    pub async fn brand_name(&self, fallback: &str) -> sqlx::Result<String> {
        let stored = brand_of(self.get_setting(BRAND_NAME_KEY).await?);
        Ok(stored.unwrap_or_else(|| fallback.to_string()))
    }

    /// [`Db::brand_name`] inside `tx`.
    pub async fn brand_name_tx(tx: &mut Tx, fallback: &str) -> sqlx::Result<String> {
        let raw = Db::get_setting_tx(tx, BRAND_NAME_KEY).await?;
        Ok(brand_of(raw).unwrap_or_else(|| fallback.to_string()))
    }

    /// Stores the brand name, with its audit row.
    pub async fn set_brand_name(
        &self,
        name: &crate::domain::brand::BrandName,
        now: crate::domain::time::Timestamp,
    ) -> sqlx::Result<()> {
        let value = serde_json::json!({ "brandName": name.as_str() }).to_string();
        self.set_setting_audited(BRAND_NAME_KEY, &value, now).await
    }
}
