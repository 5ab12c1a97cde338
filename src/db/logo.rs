//! The brand logo: one row holding the image itself, so every replica serves the same logo
//! (a file on one replica's disk is a 404 on the others).

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::{Db, Exec};

/// The stored logo.
#[derive(Debug, Clone)]
pub struct Logo {
    pub content_type: String,
    /// Changes with each upload; part of the logo's public URL.
    pub version: i64,
    pub bytes: Vec<u8>,
}

impl FromRow<'_, AnyRow> for Logo {
    fn from_row(r: &AnyRow) -> sqlx::Result<Logo> {
        Ok(Logo {
            content_type: r.try_get(0)?,
            version: r.try_get(1)?,
            bytes: r.try_get(2)?,
        })
    }
}

/// Replaces the logo.
pub async fn put(db: &Db, content_type: &str, version: i64, bytes: &[u8]) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO brand_logo (id, content_type, version, bytes) VALUES (1, $1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET content_type = excluded.content_type, \
         version = excluded.version, bytes = excluded.bytes",
    )
    .bind(content_type)
    .bind(version)
    .bind(bytes.to_vec())
    .execute(&mut *tx)
    .await?;
    let change = super::audit::Change {
        action: "logo.update",
        target_type: "logo",
        target_id: "logo",
        changes: serde_json::json!({
            "contentType": {"after": content_type},
            "bytes": {"after": bytes.len()},
        }),
    };
    // The logo's version is its upload time in milliseconds.
    let now = crate::domain::time::Timestamp::from_millis(version);
    super::audit::append(&mut tx, change, now).await?;
    tx.commit().await
}

pub async fn get<'e>(ex: impl Exec<'e>) -> sqlx::Result<Option<Logo>> {
    sqlx::query_as("SELECT content_type, version, bytes FROM brand_logo WHERE id = 1")
        .fetch_optional(ex)
        .await
}

/// The logo's (content type, version), without reading the image.
pub async fn meta<'e>(ex: impl Exec<'e>) -> sqlx::Result<Option<(String, i64)>> {
    sqlx::query_as("SELECT content_type, version FROM brand_logo WHERE id = 1")
        .fetch_optional(ex)
        .await
}
