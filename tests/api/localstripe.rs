//! End to end against a Stripe peer someone else wrote: `localstripe` (PyPI, pinned in
//! scripts/python.sh), spawned on a free port for the test and stopped after it. It signs its
//! webhooks as Stripe does; we register our URL and secret with it, create a customer carrying
//! the click in `metadata[op_click]` and subscribe it to a plan: its `customer.created` and
//! `invoice.payment_succeeded` must turn into the partner's commission.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, free_port, spawn_app_with};

const SECRET: &str = "whsec_localstripe_e2e";
const KEY: &str = "sk_test_localstripe";
const VERSION: &str = "1.15.10";

static VENV: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's python with localstripe, made on first use (scripts/test.sh makes it ahead).
fn python() -> PathBuf {
    let _one_at_a_time = VENV.lock().unwrap_or_else(|e| e.into_inner());
    let venv = root().join("target").join("localstripe");
    let python = venv.join("bin").join("python");
    let ready = Command::new(&python)
        .args(["-c", "import localstripe"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        let _ = std::fs::remove_dir_all(&venv);
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 (scripts/test.sh installs it)");
        assert!(made.success(), "python3 -m venv failed");
        let pip = Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("localstripe=={VERSION}"))
            .status()
            .expect("pip");
        assert!(pip.success(), "pip install localstripe failed");
    }
    python
}

/// A running localstripe, stopped when dropped.
struct LocalStripe {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LocalStripe {
    async fn start() -> LocalStripe {
        let port = free_port();
        let child = Command::new(python())
            .arg(root().join("scripts").join("localstripe_run.py"))
            .args(["--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("localstripe starts");
        let ls = LocalStripe {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = ls
                .http
                .get(format!("{}/v1/customers", ls.url))
                .basic_auth(KEY, Some(""))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return ls;
            }
            assert!(Instant::now() < deadline, "localstripe never answered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A form-encoded call, as Stripe's API takes them; the JSON answer.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let res = self
            .http
            .post(format!("{}{path}", self.url))
            .basic_auth(KEY, Some(""))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

/// Polls `cond` on the commissions until it holds (30 s at most: localstripe sends its
/// webhooks a second after the change, each on its own).
async fn commissions_when(app: &TestApp, cond: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = app.admin_get("/commissions?limit=500").await;
        let list = a.assert_status(200)["commissions"]
            .as_array()
            .unwrap()
            .clone();
        if cond(&list) {
            return list;
        }
        let events = app.admin_get("/admin/stripe/events?limit=200").await;
        assert!(
            Instant::now() < deadline,
            "no commission followed; events: {}",
            events.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_localstripe_subscription_earns_the_commission(b: Backend) {
    let ls = LocalStripe::start().await;
    let app = spawn_app_with(b, &[("STRIPE_WEBHOOK_SECRET", SECRET)]).await;
    ls.post(
        "/_config/webhooks/openpartner",
        &[("url", &app.url("/webhooks/stripe")), ("secret", SECRET)],
    )
    .await;
    let partner = app
        .admin_post(
            "/partners",
            json!({"email": "e2e@example.com", "name": "E2E", "sendInvite": false,
                "programIds": ["cmp_default"]}),
        )
        .await;
    let partner = partner.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.create_link(&partner, "e2e-link", "cmp_default").await;
    let click = app.click("e2e-link").await;

    let token = ls
        .post(
            "/v1/tokens",
            &[
                ("card[number]", "4242424242424242"),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2040"),
                ("card[cvc]", "123"),
            ],
        )
        .await;
    let customer = ls
        .post(
            "/v1/customers",
            &[
                ("email", "buyer@example.com"),
                ("metadata[op_click]", &click),
                ("source", token["id"].as_str().unwrap()),
            ],
        )
        .await;
    let customer = customer["id"].as_str().unwrap().to_string();
    ls.post(
        "/v1/plans",
        &[
            ("id", "pro-monthly"),
            ("amount", "2500"),
            ("currency", "usd"),
            ("interval", "month"),
            ("product[name]", "Pro"),
        ],
    )
    .await;
    let sub = ls
        .post(
            "/v1/subscriptions",
            &[("customer", &customer), ("items[0][plan]", "pro-monthly")],
        )
        .await;
    assert_eq!(sub["status"], "active", "{sub}");
    let invoice = sub["latest_invoice"].as_str().unwrap().to_string();

    // 10 % of the 25.00 invoice, to the partner whose click the customer carries.
    let list = commissions_when(&app, |l| !l.is_empty()).await;
    assert_eq!(list.len(), 1);
    let c = &list[0];
    assert_eq!(
        (
            c["partnerId"].as_str(),
            c["amount"].as_str(),
            c["currency"].as_str(),
            c["status"].as_str()
        ),
        (
            Some(partner.as_str()),
            Some("2.50"),
            Some("USD"),
            Some("accrued")
        )
    );
    // Both events were received, verified and concluded.
    let events = app.admin_get("/admin/stripe/events?limit=200").await;
    let events = events.assert_status(200)["events"]
        .as_array()
        .unwrap()
        .clone();
    let of = |t: &str| {
        events
            .iter()
            .find(|e| e["type"] == t)
            .unwrap_or_else(|| panic!("no {t} in {events:?}"))
            .clone()
    };
    assert_eq!(of("customer.created")["objectId"], customer.as_str());
    let paid = app
        .stripe_event_when(
            of("invoice.payment_succeeded")["id"].as_str().unwrap(),
            |e| e["status"] == "processed",
        )
        .await;
    assert_eq!(
        (paid["outcome"].as_str(), paid["objectId"].as_str()),
        (Some("recorded"), Some(invoice.as_str()))
    );
    let replay = app
        .admin_post(
            "/events",
            json!({"externalEventId": format!("stripe:invoice:{invoice}"), "value": "1"}),
        )
        .await;
    assert_eq!(replay.assert_status(200)["value"], "25.00");
}

both_backends!(a_localstripe_subscription_earns_the_commission);
