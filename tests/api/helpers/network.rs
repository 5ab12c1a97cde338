use super::*;

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
