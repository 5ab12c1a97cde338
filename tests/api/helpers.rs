//! The test harness: the real application on a random port, a fresh database per test (a
//! temporary SQLite file, or a PostgreSQL database of its own when TEST_DATABASE_URL is set),
//! a controllable clock, and small HTTP helpers.

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

// ---- mail ----

/// One message read back from the outbox directory.
#[derive(Debug, Clone)]
pub struct Mail {
    pub raw: String,
}

impl Mail {
    pub fn to(&self) -> &str {
        self.header("To").unwrap_or_default()
    }

    pub fn subject(&self) -> &str {
        self.header("Subject").unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.raw
            .lines()
            .take_while(|l| !l.is_empty())
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
    }

    /// The magic-link token in the message, if any.
    pub fn magic_token(&self) -> Option<String> {
        magic_token(&self.raw)
    }
}

pub fn magic_token(text: &str) -> Option<String> {
    let start = text.find("/auth/magic?token=")? + "/auth/magic?token=".len();
    Some(
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect(),
    )
}

impl TestApp {
    /// Every message written to `<data dir>/mail/`, oldest first.
    pub fn mails(&self) -> Vec<Mail> {
        let dir = self.data_dir.path().join("mail");
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(Result::ok).collect())
            .unwrap_or_default();
        entries.retain(|e| e.path().extension().is_some_and(|x| x == "eml"));
        // File names are ULIDs: name order is creation order.
        entries.sort_by_key(|e| e.file_name());
        entries
            .iter()
            .map(|e| Mail {
                raw: std::fs::read_to_string(e.path()).unwrap_or_default(),
            })
            .collect()
    }

    pub fn mails_to(&self, to: &str) -> Vec<Mail> {
        self.mails().into_iter().filter(|m| m.to() == to).collect()
    }

    /// Waits (bounded) until `to` has received `count` messages; returns them.
    pub async fn wait_for_mails(&self, to: &str, count: usize) -> Vec<Mail> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let mails = self.mails_to(to);
            if mails.len() >= count {
                return mails;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{to} got {} of {count} messages",
                mails.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The magic-link token in the newest message to `to`.
    pub async fn latest_token(&self, to: &str, nth_mail: usize) -> String {
        let mails = self.wait_for_mails(to, nth_mail).await;
        mails[nth_mail - 1]
            .magic_token()
            .expect("a magic link in the message")
    }

    /// Creates a partner as admin; returns its JSON.
    pub async fn create_partner(&self, email: &str, send_invite: bool) -> Value {
        let a = self
            .admin_post(
                "/partners",
                serde_json::json!({ "email": email, "name": format!("Partner {email}"), "sendInvite": send_invite }),
            )
            .await;
        a.assert_status(201).clone()
    }

    /// The PostgreSQL database of this test, if on PostgreSQL.
    pub fn pg_database_name(&self) -> Option<String> {
        self.pg_database.as_ref().map(|(_, name)| name.clone())
    }

    /// The id of the partner with this email (admin list filter).
    pub async fn partner_id_by_email(&self, email: &str) -> String {
        let list = self.admin_get(&format!("/partners?email={email}")).await;
        list.assert_status(200)["partners"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no partner {email}: {}", list.text))
            .to_string()
    }

    /// Verifies a magic-link token; returns the answer and the session token if one was set.
    pub async fn verify(&self, token: &str) -> (Answer, Option<String>) {
        let a = self
            .call(
                Method::POST,
                "/auth/magic/verify",
                None,
                Some(serde_json::json!({ "token": token })),
            )
            .await;
        let session = a
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("op_session="))
            .map(|c| c.split(';').next().unwrap_or_default().to_string())
            .filter(|s| !s.is_empty());
        (a, session)
    }
}

// ---- the money loop ----

impl TestApp {
    /// Creates a program; returns its id.
    pub async fn create_program(&self, destination: &str, commission: Value) -> String {
        let a = self
            .admin_post(
                "/programs",
                serde_json::json!({"name": "Program", "destinationUrl": destination, "commission": commission}),
            )
            .await;
        a.assert_status(201)["id"].as_str().unwrap().to_string()
    }

    /// Creates a link as admin; returns its JSON.
    pub async fn create_link(&self, partner_id: &str, key: &str, program: &str) -> Value {
        let a = self
            .admin_post(
                &format!("/partners/{partner_id}/links"),
                serde_json::json!({"linkKey": key, "programId": program}),
            )
            .await;
        a.assert_status(201).clone()
    }

    /// Follows a share link like a browser would (without following the redirect); returns
    /// the click id the destination receives.
    pub async fn click(&self, key: &str) -> String {
        let res = self
            .client
            .get(self.url(&format!("/r/{key}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302);
        let location = res.headers()["location"].to_str().unwrap().to_string();
        location
            .split("op_click=")
            .nth(1)
            .unwrap()
            .split(['&', '#'])
            .next()
            .unwrap()
            .to_string()
    }

    /// Posts a sale attributed by click id.
    pub async fn sale(&self, external_id: &str, value: &str, click_id: &str) -> Answer {
        self.admin_post(
            "/events",
            serde_json::json!({"externalEventId": external_id, "type": "sale", "value": value, "currency": "USD", "clickId": click_id}),
        )
        .await
    }

    pub async fn clicks_in_db(&self) -> i64 {
        db::clicks::total(self.state.db.pool()).await.unwrap()
    }
}

// ---- the Network ----

pub const SIM_ADMIN_KEY: &str = "sim-admin-key-for-tests";
pub const ADMIN_EMAIL: &str = "admin@brand.example";
pub const ENCRYPTION_KEY: &str = "0101010101010101010101010101010101010101010101010101010101010101";

/// An app pointed at a fresh in-process Network simulator. `hosted` sets the admin key that
/// enables one-click connect.
pub async fn spawn_with_network(
    b: Backend,
    hosted: bool,
    extra: &[(&str, &str)],
) -> (TestApp, openpartner::network_sim::NetworkSim) {
    let sim = openpartner::network_sim::NetworkSim::start(
        "127.0.0.1:0".parse().unwrap(),
        Some(SIM_ADMIN_KEY.into()),
    )
    .await
    .unwrap();
    let mut env: Vec<(&str, &str)> = vec![
        ("NETWORK_URL", sim.url.as_str()),
        ("SECRETS_ENCRYPTION_KEY", ENCRYPTION_KEY),
    ];
    if hosted {
        env.push(("NETWORK_ADMIN_API_KEY", SIM_ADMIN_KEY));
        // One-click's default contact; a test overrides it with "" to have none.
        env.push(("OPENPARTNER_ADMIN_EMAIL", ADMIN_EMAIL));
    }
    env.extend_from_slice(extra);
    (spawn_app_with(b, &env).await, sim)
}

impl TestApp {
    /// Connects through the hosted one-click flow; returns the vendor id.
    pub async fn connect_hosted(&self) -> String {
        let a = self
            .admin_post("/config/network/auto-enroll", serde_json::json!({}))
            .await;
        a.assert_status(200)["vendorId"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Waits (bounded) until the background heartbeat trigger is idle.
    pub async fn heartbeat_idle(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !self.state.heartbeat.is_idle() {
            assert!(
                std::time::Instant::now() < deadline,
                "a heartbeat is stuck in flight"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// Polls `cond` until it holds (10 s at most).
pub async fn eventually<F: FnMut() -> bool>(what: &str, mut cond: F) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

// ---- log capture ----

static LOGS: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test process (all tests), from the first app started on.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&install_log_capture().lock().unwrap()).into_owned()
}

pub fn install_log_capture() -> Arc<std::sync::Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let buf = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = Capture(buf.clone());
        let _ = tracing_subscriber::fmt()
            .with_env_filter("openpartner=trace,tower_http=debug,reqwest=debug,lettre=debug")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buf
    })
    .clone()
}

/// Like [`spawn_with_network`], but the app listens where its public URL says, so the
/// simulator can call back into it (federation on approve).
pub async fn spawn_reachable_with_network(
    b: Backend,
) -> (TestApp, openpartner::network_sim::NetworkSim) {
    spawn_reachable(b, true).await
}

/// A reachable app (its public URL is where it listens); `hosted` as in [`spawn_with_network`].
pub async fn spawn_reachable(
    b: Backend,
    hosted: bool,
) -> (TestApp, openpartner::network_sim::NetworkSim) {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let public = format!("http://127.0.0.1:{port}");
    spawn_with_network(
        b,
        hosted,
        &[
            ("OPENPARTNER_BIND", &bind),
            ("OPENPARTNER_PUBLIC_URL", &public),
        ],
    )
    .await
}

/// A port for a server a test starts itself. Taken from below the kernel's ephemeral range
/// (32768–60999), so the port cannot be handed to another socket between this check and the
/// server's bind, and unique within this test process.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(
        0,
        20_000 + (std::process::id() % 500) as u16 * 20,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(port < 32_000, "out of test ports");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl TestApp {
    /// Sends `n` requests at the same moment (`body(i)` is the i-th body); returns the answers
    /// in order.
    pub async fn concurrently(
        &self,
        n: usize,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: impl Fn(usize) -> Option<Value>,
    ) -> Vec<Answer> {
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let mut req = self.client.request(method.clone(), self.url(path));
                if let Some(key) = key {
                    req = req.bearer_auth(key);
                }
                if let Some(body) = body(i) {
                    req = req.json(&body);
                }
                tokio::spawn(async move { answer(req.send().await.expect("request sent")).await })
            })
            .collect();
        let mut answers = Vec::with_capacity(n);
        for task in tasks {
            answers.push(task.await.expect("request task"));
        }
        answers
    }
}

// ---- cookie sessions ----

impl TestApp {
    /// Signs in to the console with `key`; returns (cookie header value, CSRF token).
    pub async fn console_session_with(&self, key: &str) -> (String, String) {
        let a = self
            .call(
                Method::POST,
                "/admin/session",
                None,
                Some(serde_json::json!({ "key": key })),
            )
            .await;
        let csrf = a.assert_status(200)["csrfToken"]
            .as_str()
            .unwrap()
            .to_string();
        let set = a.header("set-cookie").unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let cookie = set.split(';').next().unwrap().to_string();
        assert!(cookie.starts_with("op_admin=opa_"), "{cookie}");
        (cookie, csrf)
    }

    /// Signs in to the console with the test's admin key.
    pub async fn console_session(&self) -> (String, String) {
        self.console_session_with(&self.admin_key.clone()).await
    }

    /// A request authenticated by a cookie, with an optional CSRF token.
    pub async fn with_cookie(
        &self,
        method: Method,
        path: &str,
        cookie: &str,
        csrf: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("cookie", cookie);
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        answer(req.send().await.expect("request sent")).await
    }
}

// ---- Stripe ----

pub const STRIPE_KEY: &str = "sk_test_openpartner_tests";
pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_openpartner_tests";

/// An app pointed at a fresh in-process Stripe simulator (`STRIPE_API_BASE`), whose webhooks
/// the simulator sends to the app's `POST /webhooks/stripe`, signed with
/// [`STRIPE_WEBHOOK_SECRET`]. `extra` settings override these.
pub async fn spawn_with_stripe(
    b: Backend,
    extra: &[(&str, &str)],
) -> (TestApp, openpartner::stripe_sim::StripeSim) {
    let sim = openpartner::stripe_sim::StripeSim::start(
        "127.0.0.1:0".parse().unwrap(),
        openpartner::stripe_sim::SimOptions {
            secret_key: STRIPE_KEY.into(),
            webhook: None,
        },
    )
    .await
    .unwrap();
    let mut env: Vec<(&str, &str)> = vec![
        ("STRIPE_SECRET_KEY", STRIPE_KEY),
        ("STRIPE_API_BASE", sim.url.as_str()),
        ("STRIPE_WEBHOOK_SECRET", STRIPE_WEBHOOK_SECRET),
    ];
    env.extend_from_slice(extra);
    let app = spawn_app_with(b, &env).await;
    sim.set_webhook(&app.url("/webhooks/stripe"), STRIPE_WEBHOOK_SECRET);
    (app, sim)
}

impl TestApp {
    /// A partner API key for `partner_id`, minted by the admin.
    pub async fn partner_key(&self, partner_id: &str) -> String {
        let a = self
            .admin_post(
                &format!("/partners/{partner_id}/api-keys"),
                serde_json::json!({}),
            )
            .await;
        a.assert_status(201)["plaintext"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The Stripe event `id` as `GET /admin/stripe/events` lists it, once `done` holds for it
    /// (10 s at most: processing runs in the background).
    pub async fn stripe_event_when(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let list = self.admin_get("/admin/stripe/events?limit=200").await;
            let event = list.assert_status(200)["events"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["id"] == id)
                .cloned();
            if let Some(e) = event.filter(|e| done(e)) {
                return e;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "event {id} never got there: {}",
                list.text
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
