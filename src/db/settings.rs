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
