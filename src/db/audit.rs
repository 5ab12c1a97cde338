//! The audit log: who changed what, appended in the change's own transaction, never updated
//! or deleted (the schema's triggers refuse it).
//!
//! Who acted is carried in a task-local [`AuditScope`]: the HTTP layer opens one per request
//! (request id, IP hash) and the authentication extractor names the actor in it; jobs open one
//! named `system:<job>`. So a write function records its row with [`append`] inside its own
//! transaction without every caller threading an actor through. Outside any scope (the CLI),
//! the actor is `system:cli`.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::{Db, Exec, Tx};
use crate::domain::time::Timestamp;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// An API key id (also for a console session, which acts as the key it was opened with),
    /// `admin_api_key` for the configured key, `partner:<id>` for a partner's session, or
    /// `system:<job>`.
    pub id: String,
    /// The API key whose label is recorded beside the id.
    pub key_id: Option<String>,
}

impl Actor {
    pub fn system(job: &str) -> Actor {
        Actor {
            id: format!("system:{job}"),
            key_id: None,
        }
    }
}

/// The context of one request or job run.
#[derive(Debug, Default)]
pub struct AuditScope {
    pub request_id: Option<String>,
    pub ip_hash: Option<String>,
    actor: OnceLock<Actor>,
}

impl AuditScope {
    pub fn request(request_id: Option<String>, ip_hash: Option<String>) -> AuditScope {
        AuditScope {
            request_id,
            ip_hash,
            actor: OnceLock::new(),
        }
    }

    pub fn job(job: &str) -> AuditScope {
        let scope = AuditScope::default();
        let _ = scope.actor.set(Actor::system(job));
        scope
    }
}

tokio::task_local! {
    static SCOPE: Arc<AuditScope>;
}

/// Runs `f` with `scope` as the audit context.
pub async fn scoped<F: Future>(scope: AuditScope, f: F) -> F::Output {
    SCOPE.scope(Arc::new(scope), f).await
}

/// Names the actor of the current request (the first authenticated principal wins).
pub fn set_actor(actor: Actor) {
    let _ = SCOPE.try_with(|s| {
        let _ = s.actor.set(actor);
    });
}

/// One change.
pub struct Change<'a> {
    /// `partner.revoke`, `commission.approve`, `api_key.create`, ...
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    /// `{field: {before, after}}`; never a secret.
    pub changes: Value,
}

/// `{field: {"before": b, "after": a}}` for the fields that differ between two JSON objects.
pub fn diff(before: &Value, after: &Value) -> Value {
    let mut out = serde_json::Map::new();
    let empty = serde_json::Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    for (k, av) in a {
        let bv = b.get(k).unwrap_or(&Value::Null);
        if bv != av {
            out.insert(k.clone(), serde_json::json!({"before": bv, "after": av}));
        }
    }
    for (k, bv) in b {
        if !a.contains_key(k) {
            out.insert(k.clone(), serde_json::json!({"before": bv, "after": null}));
        }
    }
    Value::Object(out)
}

/// The fields of a partner an audit row compares (no metadata: it is the brand's free-form
/// data and may be large).
pub fn partner_fields(p: &super::partners::Partner) -> Value {
    serde_json::json!({
        "email": p.email,
        "name": p.name,
        "programIds": p.program_ids.iter().map(|id| id.as_str()).collect::<Vec<_>>(),
        "stripeConnectAccountId": p.stripe_connect_account_id,
        "pendingReview": p.pending_review,
        "activatedAt": p.activated_at,
        "revokedAt": p.revoked_at,
        "revokeReason": p.revoke_reason,
    })
}

/// Appends a row in `tx`, with the current scope's actor, request id and IP hash.
pub async fn append(tx: &mut Tx, change: Change<'_>, now: Timestamp) -> sqlx::Result<()> {
    append_as(tx, None, change, now).await
}

/// [`append`] naming the actor explicitly (a console sign-in acts as the key it presented).
pub async fn append_as(
    tx: &mut Tx,
    actor: Option<Actor>,
    change: Change<'_>,
    now: Timestamp,
) -> sqlx::Result<()> {
    let (scoped, request_id, ip_hash) = SCOPE
        .try_with(|s| {
            (
                s.actor.get().cloned(),
                s.request_id.clone(),
                s.ip_hash.clone(),
            )
        })
        .unwrap_or((None, None, None));
    let actor = match actor.or(scoped) {
        Some(a) => a,
        // A request that changed something without credentials (a sign-up, a sign-in).
        None if SCOPE.try_with(|_| ()).is_ok() => Actor {
            id: "anonymous".into(),
            key_id: None,
        },
        None => Actor::system("cli"),
    };
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor, actor_label, action, target_type, target_id, \
         changes, request_id, ip_hash) \
         VALUES ($1, $2, $3, (SELECT label FROM api_keys WHERE id = $4), $5, $6, $7, $8, $9, $10)",
    )
    .bind(ulid::Ulid::new().to_string())
    .bind(now.millis())
    .bind(&actor.id)
    .bind(actor.key_id.as_deref())
    .bind(change.action)
    .bind(change.target_type)
    .bind(change.target_id)
    .bind(change.changes.to_string())
    .bind(request_id)
    .bind(ip_hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One stored row.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: String,
    pub at: Timestamp,
    pub actor: String,
    pub actor_label: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub changes: String,
    pub request_id: Option<String>,
    pub ip_hash: Option<String>,
}

/// What `GET /audit-log` filters on; `after` is the keyset position (at, id) of the last row
/// of the previous page.
#[derive(Debug, Default)]
pub struct AuditFilter<'a> {
    pub actor: Option<&'a str>,
    pub action: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub since: Option<Timestamp>,
    pub after: Option<(i64, String)>,
}

impl FromRow<'_, AnyRow> for AuditRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<AuditRow> {
        Ok(AuditRow {
            id: r.try_get("id")?,
            at: Timestamp::from_millis(r.try_get("at")?),
            actor: r.try_get("actor")?,
            actor_label: r.try_get("actor_label")?,
            action: r.try_get("action")?,
            target_type: r.try_get("target_type")?,
            target_id: r.try_get("target_id")?,
            changes: r.try_get("changes")?,
            request_id: r.try_get("request_id")?,
            ip_hash: r.try_get("ip_hash")?,
        })
    }
}

/// Appends a row in a transaction of its own, for an action whose change happens elsewhere
/// (a call to the Network): nothing local to share a transaction with.
pub async fn record_action(db: &Db, change: Change<'_>, now: Timestamp) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    append(&mut tx, change, now).await?;
    tx.commit().await
}

/// Newest first, at most `limit` rows.
pub async fn list<'e>(
    ex: impl Exec<'e>,
    f: &AuditFilter<'_>,
    limit: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    let mut clauses = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    for (value, column) in [
        (f.actor.is_some(), "actor"),
        (f.action.is_some(), "action"),
        (f.target_id.is_some(), "target_id"),
    ] {
        if value {
            clauses.push(format!("{column} = ${}", next()));
        }
    }
    if f.since.is_some() {
        clauses.push(format!("at >= ${}", next()));
    }
    if f.after.is_some() {
        let (a, b) = (next(), next());
        clauses.push(format!("(at, id) < (${a}, ${b})"));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let sql = format!(
        "SELECT id, at, actor, actor_label, action, target_type, target_id, changes, \
         request_id, ip_hash FROM audit_log{filter} ORDER BY at DESC, id DESC LIMIT ${}",
        next()
    );
    let mut q = sqlx::query_as(&sql);
    for v in [f.actor, f.action, f.target_id].into_iter().flatten() {
        q = q.bind(v);
    }
    if let Some(since) = f.since {
        q = q.bind(since.millis());
    }
    if let Some((at, id)) = &f.after {
        q = q.bind(*at).bind(id.clone());
    }
    q.bind(limit).fetch_all(ex).await
}
