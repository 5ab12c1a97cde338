//! Webhook endpoints and their subscriptions, and the fan-out of an event to the endpoints
//! subscribed to it (inside the transaction of the change that caused the event).

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::{Db, Exec, Tx, flag};
use crate::domain::time::Timestamp;
use crate::domain::urls::for_audit;
use crate::secrets::Secret;

/// An endpoint as stored. The secrets are as stored (encrypted, or marked plain when no
/// SECRETS_ENCRYPTION_KEY is set), and redacted in `Debug`.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub secret: Secret<String>,
    pub previous_secret: Option<Secret<String>>,
    pub previous_until: Option<Timestamp>,
    pub failing_since: Option<Timestamp>,
    /// Sorted; `*` is every type.
    pub events: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, url, description, enabled, disabled_reason, secret, previous_secret, \
    previous_until, failing_since, created_at, updated_at";

/// Without its subscriptions (`events` empty): they are read apart.
impl FromRow<'_, AnyRow> for Endpoint {
    fn from_row(r: &AnyRow) -> sqlx::Result<Endpoint> {
        Ok(Endpoint {
            id: r.try_get("id")?,
            url: r.try_get("url")?,
            description: r.try_get("description")?,
            enabled: r.try_get::<i64, _>("enabled")? != 0,
            disabled_reason: r.try_get("disabled_reason")?,
            secret: Secret::new(r.try_get("secret")?),
            previous_secret: r
                .try_get::<Option<String>, _>("previous_secret")?
                .map(Secret::new),
            previous_until: r
                .try_get::<Option<i64>, _>("previous_until")?
                .map(Timestamp::from_millis),
            failing_since: r
                .try_get::<Option<i64>, _>("failing_since")?
                .map(Timestamp::from_millis),
            events: Vec::new(),
            created_at: Timestamp::from_millis(r.try_get("created_at")?),
            updated_at: Timestamp::from_millis(r.try_get("updated_at")?),
        })
    }
}

/// What a PATCH changes; `None` keeps the stored value.
#[derive(Debug, Default)]
pub struct EndpointChanges<'a> {
    pub url: Option<&'a str>,
    pub description: Option<Option<&'a str>>,
    pub enabled: Option<bool>,
    pub events: Option<&'a [String]>,
}

pub async fn insert_endpoint(db: &Db, e: &Endpoint) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, url, description, enabled, secret, created_at, updated_at) \
         VALUES ($1, $2, $3, 1, $4, $5, $5)",
    )
    .bind(&e.id)
    .bind(&e.url)
    .bind(e.description.as_deref())
    .bind(e.secret.expose())
    .bind(e.created_at.millis())
    .execute(&mut *tx)
    .await?;
    set_subscriptions(&mut tx, &e.id, &e.events).await?;
    // Never the signing secret, nor a credential inside the URL.
    let changes = serde_json::json!({
        "url": {"before": null, "after": for_audit(&e.url)},
        "description": {"before": null, "after": e.description},
        "events": {"before": null, "after": e.events},
    });
    audit_endpoint(
        &mut tx,
        "webhook_endpoint.create",
        &e.id,
        changes,
        e.created_at,
    )
    .await?;
    tx.commit().await
}

pub async fn get_endpoint(db: &Db, id: &str) -> sqlx::Result<Option<Endpoint>> {
    let endpoint: Option<Endpoint> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    let Some(mut endpoint) = endpoint else {
        return Ok(None);
    };
    endpoint.events = sqlx::query_scalar(
        "SELECT event_type FROM webhook_subscriptions WHERE endpoint_id = $1 ORDER BY event_type",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    Ok(Some(endpoint))
}

/// Every endpoint, oldest first (an instance has a handful).
pub async fn list_endpoints(db: &Db) -> sqlx::Result<Vec<Endpoint>> {
    let mut endpoints: Vec<Endpoint> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhook_endpoints ORDER BY created_at, id"
    ))
    .fetch_all(db.pool())
    .await?;
    let mut subs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in
        sqlx::query("SELECT endpoint_id, event_type FROM webhook_subscriptions ORDER BY event_type")
            .fetch_all(db.pool())
            .await?
    {
        subs.entry(r.try_get(0)?).or_default().push(r.try_get(1)?);
    }
    for e in &mut endpoints {
        e.events = subs.remove(&e.id).unwrap_or_default();
    }
    Ok(endpoints)
}

/// Applies a PATCH. Re-enabling clears the failure record; disabling by the admin fails
/// the endpoint's pending deliveries (a retry sends one again). False when no such endpoint.
pub async fn update_endpoint(
    db: &Db,
    id: &str,
    c: &EndpointChanges<'_>,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET url = COALESCE($1, url), \
         description = CASE WHEN $2 = 1 THEN $3 ELSE description END, \
         enabled = COALESCE($4, enabled), \
         disabled_reason = CASE WHEN $4 = 1 THEN NULL WHEN $4 = 0 AND enabled = 1 THEN 'admin' \
           ELSE disabled_reason END, \
         failing_since = CASE WHEN $4 = 1 AND enabled = 0 THEN NULL ELSE failing_since END, \
         updated_at = $5 WHERE id = $6",
    )
    .bind(c.url)
    .bind(flag(c.description.is_some()))
    .bind(c.description.flatten())
    .bind(c.enabled.map(flag))
    .bind(now.millis())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    if let Some(events) = c.events {
        sqlx::query("DELETE FROM webhook_subscriptions WHERE endpoint_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        set_subscriptions(&mut tx, id, events).await?;
    }
    if c.enabled == Some(false) {
        super::webhook_deliveries::fail_pending(&mut *tx, id, "endpoint disabled", now).await?;
    }
    let mut changes = serde_json::Map::new();
    if let Some(url) = c.url {
        changes.insert("url".into(), serde_json::json!({ "after": for_audit(url) }));
    }
    if let Some(d) = c.description {
        changes.insert("description".into(), serde_json::json!({ "after": d }));
    }
    if let Some(on) = c.enabled {
        changes.insert("enabled".into(), serde_json::json!({ "after": on }));
    }
    if let Some(events) = c.events {
        changes.insert("events".into(), serde_json::json!({ "after": events }));
    }
    let changes = serde_json::Value::Object(changes);
    audit_endpoint(&mut tx, "webhook_endpoint.update", id, changes, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes an endpoint with its subscriptions and deliveries. False when there is none.
pub async fn delete_endpoint(db: &Db, id: &str, now: Timestamp) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 1 {
        let changes = serde_json::json!({});
        audit_endpoint(&mut tx, "webhook_endpoint.delete", id, changes, now).await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Stores a new secret; the current one keeps signing until `previous_until`.
pub async fn rotate_secret(
    db: &Db,
    id: &str,
    secret: &str,
    previous_until: Timestamp,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = $1, \
         secret = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(previous_until.millis())
    .bind(secret)
    .bind(now.millis())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 1 {
        // That it rotated, never the secrets.
        let changes = serde_json::json!({"secret": {"before": "[redacted]", "after": "[rotated]"}});
        audit_endpoint(&mut tx, "webhook_endpoint.rotate_secret", id, changes, now).await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// The enabled endpoints subscribed to `event_type` (or to every type), read inside the
/// transaction that records the event.
pub async fn subscribed_endpoints<'e>(
    ex: impl Exec<'e>,
    event_type: &str,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT e.id FROM webhook_endpoints e WHERE e.enabled = 1 AND EXISTS ( \
           SELECT 1 FROM webhook_subscriptions s WHERE s.endpoint_id = e.id \
           AND s.event_type IN ($1, '*')) ORDER BY e.id",
    )
    .bind(event_type)
    .fetch_all(ex)
    .await
}

/// Records an event's envelope and one pending delivery per endpoint, in `tx`.
pub async fn insert_event(
    tx: &mut Tx,
    event_id: &str,
    event_type: &str,
    payload: &str,
    endpoints: &[String],
    now: Timestamp,
) -> sqlx::Result<Vec<String>> {
    sqlx::query(
        "INSERT INTO webhook_events (id, type, payload, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(event_id)
    .bind(event_type)
    .bind(payload)
    .bind(now.millis())
    .execute(&mut **tx)
    .await?;
    let mut ids = Vec::with_capacity(endpoints.len());
    for endpoint in endpoints {
        let id = format!("whd_{}", ulid::Ulid::new());
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, type, status, \
             next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', $5, $5, $5)",
        )
        .bind(&id)
        .bind(endpoint)
        .bind(event_id)
        .bind(event_type)
        .bind(now.millis())
        .execute(&mut **tx)
        .await?;
        ids.push(id);
    }
    Ok(ids)
}

async fn set_subscriptions(tx: &mut Tx, id: &str, events: &[String]) -> sqlx::Result<()> {
    for event in events {
        sqlx::query(
            "INSERT INTO webhook_subscriptions (endpoint_id, event_type) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(event)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn audit_endpoint(
    tx: &mut Tx,
    action: &str,
    id: &str,
    changes: serde_json::Value,
    now: Timestamp,
) -> sqlx::Result<()> {
    let change = super::audit::Change {
        action,
        target_type: "webhook_endpoint",
        target_id: id,
        changes,
    };
    super::audit::append(tx, change, now).await
}
