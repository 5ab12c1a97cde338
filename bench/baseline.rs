//! The benchmark baselines, measured in the same run as OpenPartner on the same machine:
//! - `GET /static`: a fixed JSON body the size of a partner, no I/O;
//! - `GET /partners/{id}`: the same primary-key read of a partner through a plain sqlx pool of
//!   the same size (native driver, no `Any`), serialized to the same JSON, with no auth and no
//!   middleware.
//!
//! `bench-baseline <bind> <database-url> <pool-size>`

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

#[derive(Clone)]
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    /// `BASELINE_ANY=1`: the same read through sqlx's Any driver, as OpenPartner uses it.
    Any(sqlx::AnyPool),
}

const SELECT: &str = "SELECT id, email, name, stripe_connect_account_id, metadata, program_ids, \
    campaign_grant_source, created_at, updated_at, activated_at, revoked_at, revoke_reason \
    FROM partners WHERE id = $1";

fn ts(ms: Option<i64>) -> Value {
    ms.and_then(chrono::DateTime::<chrono::Utc>::from_timestamp_millis)
        .map(|t| Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)))
        .unwrap_or(Value::Null)
}

macro_rules! partner_json {
    ($r:expr) => {{
        let r = $r;
        let metadata: Value = serde_json::from_str(&r.get::<String, _>("metadata")).unwrap_or(json!({}));
        let programs: Vec<String> = r.get::<String, _>("program_ids").split_whitespace().map(str::to_string).collect();
        json!({
            "id": r.get::<String, _>("id"),
            "email": r.get::<String, _>("email"),
            "name": r.get::<String, _>("name"),
            "stripeConnectAccountId": r.get::<Option<String>, _>("stripe_connect_account_id"),
            "metadata": metadata,
            "programIds": programs,
            "campaignGrantSource": r.get::<String, _>("campaign_grant_source"),
            "status": if r.get::<Option<i64>, _>("revoked_at").is_some() { "revoked" } else { "active" },
            "createdAt": ts(Some(r.get::<i64, _>("created_at"))),
            "updatedAt": ts(Some(r.get::<i64, _>("updated_at"))),
            "activatedAt": ts(r.get::<Option<i64>, _>("activated_at")),
            "revokedAt": ts(r.get::<Option<i64>, _>("revoked_at")),
            "revokeReason": r.get::<Option<String>, _>("revoke_reason"),
        })
    }};
}

async fn read(State(pool): State<Pool>, Path(id): Path<String>) -> Response {
    let found = match &pool {
        Pool::Sqlite(p) => sqlx::query(SELECT)
            .bind(&id)
            .fetch_optional(p)
            .await
            .map(|r| r.map(|r| partner_json!(r))),
        Pool::Postgres(p) => sqlx::query(SELECT)
            .bind(&id)
            .fetch_optional(p)
            .await
            .map(|r| r.map(|r| partner_json!(r))),
        Pool::Any(p) => sqlx::query(SELECT)
            .bind(&id)
            .fetch_optional(p)
            .await
            .map(|r| r.map(|r| partner_json!(r))),
    };
    match found {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (bind, url, size) = match args.as_slice() {
        [_, b, u, s] => (b.clone(), u.clone(), s.parse::<u32>()?),
        _ => anyhow::bail!("usage: bench-baseline <bind> <database-url> <pool-size>"),
    };
    let pool = if std::env::var("BASELINE_ANY").is_ok_and(|v| v == "1") {
        sqlx::any::install_default_drivers();
        Pool::Any(
            sqlx::any::AnyPoolOptions::new()
                .max_connections(size)
                .min_connections(1)
                .connect(&url)
                .await?,
        )
    } else if url.starts_with("sqlite:") {
        let opts: SqliteConnectOptions = url
            .parse::<SqliteConnectOptions>()?
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
        Pool::Sqlite(
            SqlitePoolOptions::new()
                .max_connections(size)
                .min_connections(1)
                .connect_with(opts)
                .await?,
        )
    } else {
        Pool::Postgres(
            PgPoolOptions::new()
                .max_connections(size)
                .min_connections(1)
                .connect(&url)
                .await?,
        )
    };
    // A body of the same size as a partner's JSON.
    let sample = json!({
        "id": "01M7Y9T9JBQBFAXYAH85ABFVNH", "email": "partner000042@example.com", "name": "Bench Partner 42",
        "stripeConnectAccountId": null, "metadata": {}, "programIds": ["cmp_default"], "campaignGrantSource": "admin",
        "status": "active", "createdAt": "2026-11-21T05:38:39.879Z", "updatedAt": "2026-11-21T05:38:39.879Z",
        "activatedAt": "2026-11-21T05:38:39.879Z", "revokedAt": null, "revokeReason": null,
    });
    let body = Arc::new(sample.to_string());
    let app = Router::new()
        .route(
            "/static",
            get(move || {
                let body = body.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        body.as_str().to_owned(),
                    )
                }
            }),
        )
        .route("/partners/{id}", get(read))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("baseline listening on {bind}");
    axum::serve(listener, app).await?;
    Ok(())
}
