//! The test harness: the real application on a random port, a fresh database per test (a
//! temporary SQLite file, or a PostgreSQL database of its own when TEST_DATABASE_URL is set),
//! a controllable clock, and small HTTP helpers.

mod mail;
mod money;
mod network;
mod sessions;
mod stripe;

pub use mail::*;
pub use network::*;
pub use stripe::*;

use std::collections::BTreeMap;
use std::sync::Arc;

use openpartner::clock::ManualClock;
use openpartner::config::Config;
use openpartner::db;
use openpartner::db::api_keys::KeyKind;
use openpartner::domain::scopes::ScopeSet;
use openpartner::startup::Application;
use openpartner::state::AppState;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests create their databases on, if any.
pub fn pg_server_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

/// Generates `sqlite` and `postgres` variants of each listed `async fn name(b: Backend)`.
/// The PostgreSQL variant needs TEST_DATABASE_URL (the README's test command sets it); under
/// CI its absence is a failure, not a skip.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::helpers::pg_server_url().is_none() {
                    assert!(std::env::var("CI").is_err(), "TEST_DATABASE_URL must be set in CI");
                    eprintln!("TEST_DATABASE_URL unset: PostgreSQL variant not run");
                    return;
                }
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

pub struct TestApp {
    pub backend: Backend,
    pub base: String,
    pub client: reqwest::Client,
    pub admin_key: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub data_dir: tempfile::TempDir,
    pub env: BTreeMap<String, String>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
    pg_database: Option<(String, String)>,
}

/// A parsed answer: status, headers and JSON body (`Value::Null` when not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status and our error shape, and returns the body.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(self.body["error"], code, "body: {}", self.text);
        assert!(
            self.body.get("detail").is_some(),
            "no detail: {}",
            self.text
        );
        &self.body
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        &self.body
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// Starts the app with extra environment settings.
pub async fn spawn_app_with(backend: Backend, extra_env: &[(&str, &str)]) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut env = BTreeMap::new();
    env.insert("OPENPARTNER_BIND".to_string(), "127.0.0.1:0".to_string());
    env.insert(
        "OPENPARTNER_DATA_DIR".to_string(),
        data_dir.path().display().to_string(),
    );
    env.insert("OPENPARTNER_DB_MAX_CONNECTIONS".into(), "5".into());
    env.insert("OPENPARTNER_LOG".into(), "warn".into());
    // Jobs are driven by the tests themselves unless a test sets a schedule.
    env.insert("OPENPARTNER_HEARTBEAT_CRON".into(), "0 0 0 1 1 *".into());
    env.insert("OPENPARTNER_OUTBOX_CRON".into(), "0 0 0 1 1 *".into());
    env.insert("OPENPARTNER_MAIL_RETRY_CRON".into(), "0 0 0 1 1 *".into());
    for job in [
        "OPENPARTNER_CLEANUP_CRON",
        "OPENPARTNER_WEBHOOK_CRON",
        "OPENPARTNER_STRIPE_EVENTS_CRON",
        "OPENPARTNER_AUTO_APPROVE_CRON",
        "OPENPARTNER_PAYOUT_SCHEDULE_CRON",
        "OPENPARTNER_PAYOUT_RETRY_CRON",
        "OPENPARTNER_NETWORK_REPORT_CRON",
    ] {
        env.insert(job.into(), "0 0 0 1 1 *".into());
    }
    let pg_database = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let (server, name, url) = create_pg_database().await;
            env.insert("DATABASE_URL".to_string(), url);
            Some((server, name))
        }
    };
    for (k, v) in extra_env {
        env.insert(k.to_string(), v.to_string());
    }
    start(backend, env, data_dir, pg_database).await
}

/// A second instance on the same database as the app whose `env` is given (its `TestApp.env`).
pub async fn spawn_replica(backend: Backend, env: &[(&str, &str)]) -> TestApp {
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    start(backend, env, tempfile::tempdir().expect("temp dir"), None).await
}

async fn start(
    backend: Backend,
    env: BTreeMap<String, String>,
    data_dir: tempfile::TempDir,
    pg_database: Option<(String, String)>,
) -> TestApp {
    install_log_capture();
    let config = Config::load(|k| env.get(k).cloned()).expect("test config");
    let clock = Arc::new(ManualClock::default());
    let app = Application::build_with_clock(config, clock.clone())
        .await
        .expect("app builds");
    let port = app.port();
    let state = app.state().clone();
    let admin = openpartner::keys::mint(
        &state.db,
        &state.clock,
        KeyKind::Admin,
        ScopeSet::default(),
        None,
        Some("test admin"),
    )
    .await
    .expect("admin key");
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    TestApp {
        backend,
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        admin_key: admin.plaintext,
        state,
        clock,
        data_dir,
        env,
        shutdown: Some(tx),
        handle: Some(handle),
        pg_database,
    }
}

pub async fn create_pg_database() -> (String, String, String) {
    let server = pg_server_url().expect("TEST_DATABASE_URL");
    let name = format!(
        "optest_{}_{}",
        chrono::Utc::now().timestamp(),
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let admin = openpartner::db::Db::connect_url(&server, 1)
        .await
        .expect("connect to TEST_DATABASE_URL");
    sweep_stale_databases(&admin).await;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(admin.pool())
        .await
        .expect("create test database");
    admin.close().await;
    let mut url = url::Url::parse(&server).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    (server, name, url.to_string())
}

/// Drops test databases left behind by crashed runs (older than two hours).
async fn sweep_stale_databases(admin: &openpartner::db::Db) {
    use sqlx::Row;
    let cutoff = chrono::Utc::now().timestamp() - 7200;
    let rows = sqlx::query("SELECT datname FROM pg_database WHERE datname LIKE 'optest_%'")
        .fetch_all(admin.pool())
        .await
        .unwrap_or_default();
    for row in rows {
        let name: String = row.get(0);
        let born = name
            .split('_')
            .nth(1)
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(i64::MAX);
        if born < cutoff {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(admin.pool())
                .await;
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request with an optional bearer key and optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.client.request(method, self.url(path));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        answer(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, key: &str) -> Answer {
        self.call(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    pub async fn admin_get(&self, path: &str) -> Answer {
        self.get(path, &self.admin_key.clone()).await
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> Answer {
        self.post(path, &self.admin_key.clone(), body).await
    }

    /// The audit rows of one action, newest first.
    pub async fn audit_rows(&self, action: &str) -> Vec<Value> {
        let a = self
            .admin_get(&format!("/audit-log?action={action}&limit=200"))
            .await;
        a.assert_status(200)["entries"].as_array().unwrap().clone()
    }

    /// The one audit row of `action` on `target`, made by the test's admin key.
    pub async fn audited_once(&self, action: &str, target: &str) -> Value {
        let rows: Vec<Value> = self
            .audit_rows(action)
            .await
            .into_iter()
            .filter(|r| r["targetId"] == target)
            .collect();
        assert_eq!(rows.len(), 1, "one {action} row for {target}: {rows:?}");
        assert_eq!(rows[0]["actorLabel"], "test admin", "{:?}", rows[0]);
        assert!(rows[0]["requestId"].is_string(), "{:?}", rows[0]);
        rows[0].clone()
    }

    /// Mints a scoped key through the API.
    pub async fn scoped_key(&self, scopes: &[&str]) -> String {
        let a = self
            .admin_post("/api-keys/scoped", serde_json::json!({ "scopes": scopes }))
            .await;
        a.assert_status(201);
        a.body["plaintext"].as_str().unwrap().to_string()
    }

    /// Graceful shutdown; returns once the app has stopped.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle
                .await
                .expect("app task")
                .expect("app stopped cleanly");
        }
    }
}

pub async fn answer(res: reqwest::Response) -> Answer {
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        text,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some((server, name)) = self.pg_database.take() {
            // Drop the database from a thread of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(db) = openpartner::db::Db::connect_url(&server, 1).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(db.pool())
                                .await;
                        db.close().await;
                    }
                });
            })
            .join();
        }
    }
}
