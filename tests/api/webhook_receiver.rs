//! What the webhook tests receive with: a small HTTP server that records every request and
//! answers with the status the test sets, and the independent verifier (PyPI's
//! `standardwebhooks`, run by `scripts/verify_webhooks.py` in a venv under `target/`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    pub body: String,
    /// The status we answered it with.
    pub answered: u16,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    pub fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_string()
    }
}

struct Shared {
    received: Mutex<Vec<Received>>,
    status: AtomicU16,
    /// Requests to `/slow…` wait here (after being recorded) until the test releases them.
    gate: tokio::sync::Semaphore,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Starts on a port of its own, answering 200.
    pub async fn start() -> Receiver {
        let shared = Arc::new(Shared {
            received: Mutex::default(),
            status: AtomicU16::new(200),
            gate: tokio::sync::Semaphore::new(0),
        });
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, shared, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The status every following request is answered with.
    pub fn answer_with(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// Lets every waiting and future `/slow…` request be answered.
    pub fn release_slow(&self) {
        self.shared.gate.add_permits(1_000_000);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The requests answered 2xx, in arrival order.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .collect()
    }

    pub fn accepted_on(&self, path: &str) -> Vec<Received> {
        self.accepted()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let status = shared.status.load(Ordering::SeqCst);
    shared.received.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        content_type: header("content-type"),
        body: String::from_utf8(body.to_vec()).expect("a UTF-8 body"),
        answered: status,
    });
    if uri.path().starts_with("/slow") {
        let _ = shared.gate.acquire().await;
    }
    let code = StatusCode::from_u16(status).unwrap();
    (
        code,
        if code.is_success() {
            "thanks"
        } else {
            "receiver down"
        },
    )
}

// ---- the independent verifier ----

static VENV: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's python with `standardwebhooks`, made on first use (scripts/test.sh makes it
/// ahead of the run).
fn python() -> PathBuf {
    let _one_at_a_time = VENV.lock().unwrap_or_else(|e| e.into_inner());
    let venv = root().join("target").join("webhook-verifier");
    let python = venv.join("bin").join("python");
    let ready = std::process::Command::new(&python)
        .args(["-c", "import standardwebhooks"])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        let _ = std::fs::remove_dir_all(&venv);
        let made = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 (scripts/test.sh installs it)");
        assert!(made.success(), "python3 -m venv failed");
        let pip = std::process::Command::new(venv.join("bin").join("pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "standardwebhooks",
            ])
            .status()
            .expect("pip");
        assert!(pip.success(), "pip install standardwebhooks failed");
    }
    python
}

/// Verifies each request against `secret` with `standardwebhooks`; `Ok` or its refusal.
pub fn verify(secret: &str, requests: &[Received]) -> Vec<Result<(), String>> {
    let items: Vec<Value> = requests
        .iter()
        .map(|r| {
            json!({
                "secret": secret,
                "headers": {
                    "webhook-id": r.id,
                    "webhook-timestamp": r.timestamp,
                    "webhook-signature": r.signature,
                },
                "body": r.body,
            })
        })
        .collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec(&items).unwrap()).unwrap();
    let out = std::process::Command::new(python())
        .arg(root().join("scripts").join("verify_webhooks.py"))
        .arg(file.path())
        .output()
        .expect("the verifier runs");
    assert!(
        out.status.success(),
        "verifier failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<String> = serde_json::from_slice(&out.stdout).expect("verifier output");
    assert_eq!(results.len(), requests.len());
    results
        .into_iter()
        .map(|r| if r == "ok" { Ok(()) } else { Err(r) })
        .collect()
}

/// Asserts every request verifies with `secret`.
#[track_caller]
pub fn assert_verified(secret: &str, requests: &[Received]) {
    assert!(!requests.is_empty(), "nothing to verify");
    for (r, result) in requests.iter().zip(verify(secret, requests)) {
        assert_eq!(result, Ok(()), "{} ({})", r.id, r.event_type());
    }
}
