//! Webhook delivery: an outage and recovery (each event once, in order per endpoint, on the
//! specification's retry schedule), failing for good, 410 and 5 days of failures disabling an
//! endpoint, private addresses refused when saved and when delivered, and two replicas
//! sharing the work. The worker's step is called directly; the app's clock passes the delays.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use openpartner::clock::{Clock, SystemClock};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, eventually, spawn_app, spawn_replica};
use crate::webhook_receiver::assert_verified;
use crate::webhooks::{ALLOW_PRIVATE, add_endpoint, deliver, deliveries, setup, types};

/// The head of the log's pending deliveries (the oldest).
async fn oldest_pending(app: &TestApp, endpoint: &str) -> Option<Value> {
    deliveries(app, endpoint)
        .await
        .into_iter()
        .rev()
        .find(|d| d["status"] == "pending")
}

/// Seconds from the app's now until the delivery's next attempt.
fn wait_secs(app: &TestApp, d: &Value) -> i64 {
    let next = chrono::DateTime::parse_from_rfc3339(d["nextAttemptAt"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    (next - app.clock.now().millis()) / 1000
}

async fn an_outage_then_recovery_delivers_each_event_once_in_order(b: Backend) {
    let (app, rx) = setup(b, &[]).await;
    let (endpoint, secret) = add_endpoint(&app, &rx.url("/crm"), json!(["*"])).await;
    rx.answer_with(503);
    let p = app.create_partner("p1@example.com", false).await;
    let id = p["id"].as_str().unwrap();
    app.admin_post(&format!("/partners/{id}/revoke"), json!({"notify": false}))
        .await
        .assert_status(200);
    app.admin_post(&format!("/partners/{id}/reinstate"), json!({}))
        .await
        .assert_status(200);
    app.create_partner("p2@example.com", true).await;
    let expected = [
        "partner.created",
        "partner.activated",
        "partner.revoked",
        "partner.reinstated",
        "partner.created",
    ];

    // Down: only the oldest is tried; the others wait behind it, whatever their due time.
    assert_eq!(deliver(&app).await, 1);
    let mut schedule = Vec::new();
    for (advance, attempts) in [(5, 2), (300, 3), (1800, 4)] {
        let head = oldest_pending(&app, &endpoint).await.unwrap();
        assert_eq!(head["attempts"], attempts - 1);
        assert_eq!(head["lastStatusCode"], 503);
        assert_eq!(head["lastResponse"], "receiver down");
        schedule.push(wait_secs(&app, &head));
        app.clock.advance(Duration::from_secs(advance));
        assert_eq!(deliver(&app).await, 1, "only the head, again");
    }
    assert_eq!(schedule, [5, 300, 1800]);
    let log = deliveries(&app, &endpoint).await;
    assert_eq!(log.len(), 5);
    assert!(log[..4].iter().all(|d| d["attempts"] == 0));
    let tries = rx.received();
    assert_eq!(tries.len(), 4);
    assert!(
        tries.iter().all(|r| r.id == tries[0].id),
        "same webhook-id on every retry"
    );

    // Back up: at the next attempt the head goes, and everything behind it follows in order.
    rx.answer_with(200);
    app.clock.advance(Duration::from_secs(7200));
    assert_eq!(deliver(&app).await, 5);
    let got = rx.accepted();
    assert_eq!(types(&got), expected);
    let mut ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 5, "each event once");
    assert_eq!(got[0].id, tries[0].id);
    let log = deliveries(&app, &endpoint).await;
    assert!(log.iter().all(|d| d["status"] == "delivered"));
    assert_eq!(log[4]["attempts"], 5);
    assert_eq!(deliver(&app).await, 0);
    // The receiver's verifier needs a current timestamp: one more, sent now, verifies.
    app.clock.set(SystemClock.now());
    app.create_partner("p3@example.com", false).await;
    deliver(&app).await;
    assert_verified(&secret, &rx.accepted()[5..]);
}

/// The full schedule, then `failed`; an endpoint failing every attempt for 5 days is disabled
/// and the admin is emailed.
async fn failing_for_five_days_disables_the_endpoint(b: Backend) {
    let admin = "ops@brand.example";
    let (app, rx) = setup(b, &[("OPENPARTNER_ADMIN_EMAIL", admin)]).await;
    let (endpoint, _) = add_endpoint(&app, &rx.url("/down"), json!(["partner.created"])).await;
    rx.answer_with(500);
    for i in 0..6 {
        app.create_partner(&format!("f{i}@example.com"), false)
            .await;
    }
    let start = app.clock.now();
    let mut first_waits = Vec::new();
    let mut disabled = false;
    for _ in 0..100 {
        deliver(&app).await;
        let ep = app.admin_get(&format!("/webhooks/{endpoint}")).await;
        if ep.assert_status(200)["enabled"] == false {
            assert_eq!(ep.body["disabledReason"], "failing");
            disabled = true;
            break;
        }
        let head = oldest_pending(&app, &endpoint).await.unwrap();
        let wait = wait_secs(&app, &head);
        if deliveries(&app, &endpoint)
            .await
            .iter()
            .all(|d| d["status"] != "failed")
        {
            first_waits.push(wait);
        }
        app.clock.advance(Duration::from_secs(wait.max(0) as u64));
    }
    assert!(disabled, "never disabled");
    assert_eq!(first_waits, [5, 300, 1800, 7200, 18_000, 36_000, 36_000]);
    let elapsed = app.clock.now().millis() - start.millis();
    assert!(elapsed >= 5 * 86_400_000, "disabled after {elapsed} ms");
    let log = deliveries(&app, &endpoint).await;
    assert_eq!(log.len(), 6);
    assert!(log.iter().all(|d| d["status"] == "failed"), "{log:?}");
    assert_eq!(log[5]["attempts"], 8, "8 attempts, then failed");
    assert_eq!(log[5]["nextAttemptAt"], Value::Null);
    let mail = app.wait_for_mails(admin, 1).await;
    assert!(mail[0].raw.contains(&rx.url("/down")), "{}", mail[0].raw);
    // Nothing more is sent to it.
    app.create_partner("after@example.com", false).await;
    let before = rx.received().len();
    assert_eq!(deliver(&app).await, 0);
    assert_eq!(rx.received().len(), before);
}

async fn a_410_disables_the_endpoint(b: Backend) {
    let (app, rx) = setup(b, &[]).await;
    let (endpoint, _) = add_endpoint(&app, &rx.url("/gone"), json!(["*"])).await;
    rx.answer_with(410);
    app.create_partner("g1@example.com", false).await;
    assert_eq!(deliver(&app).await, 1, "no retry after a 410");
    let ep = app.admin_get(&format!("/webhooks/{endpoint}")).await;
    assert_eq!(ep.assert_status(200)["enabled"], false);
    assert_eq!(ep.body["disabledReason"], "gone");
    let log = deliveries(&app, &endpoint).await;
    assert!(log.iter().all(|d| d["status"] == "failed"));
    assert_eq!(log.last().unwrap()["lastStatusCode"], 410);
    // Disabled: nothing new is recorded for it, nothing is sent, test and retry are refused.
    app.create_partner("g2@example.com", false).await;
    assert_eq!(deliveries(&app, &endpoint).await.len(), log.len());
    assert_eq!(deliver(&app).await, 0);
    app.admin_post(&format!("/webhooks/{endpoint}/test"), json!({}))
        .await
        .assert_error(409, "endpoint_disabled");
    let first = log.last().unwrap()["id"].as_str().unwrap().to_string();
    let retry = format!("/webhooks/{endpoint}/deliveries/{first}/retry");
    app.admin_post(&retry, json!({}))
        .await
        .assert_error(409, "endpoint_disabled");
    // Enabled again, a retry sends it (same webhook-id).
    rx.answer_with(200);
    app.call(
        Method::PATCH,
        &format!("/webhooks/{endpoint}"),
        Some(&app.admin_key),
        Some(json!({"enabled": true})),
    )
    .await
    .assert_status(200);
    let a = app.admin_post(&retry, json!({})).await;
    assert_eq!(a.assert_status(200)["status"], "delivered");
    assert_eq!(a.body["attempts"], 2);
    // Only the retry that went ahead is in the audit log.
    let row = app.audited_once("webhook_delivery.retry", &first).await;
    assert_eq!(
        row["changes"],
        json!({"status": {"before": "failed", "after": "pending"}})
    );
    assert!(app.audit_rows("webhook_endpoint.test").await.is_empty());
    let got = rx.received();
    assert_eq!(got.last().unwrap().id, got[0].id);
}

async fn private_addresses_are_refused(b: Backend) {
    let app = spawn_app(b).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:8080/hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "http://172.16.5.4/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.0.1/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ] {
        let a = app
            .admin_post("/webhooks", json!({"url": url, "events": ["*"]}))
            .await;
        a.assert_error(400, "url_not_allowed");
    }
    // A public address is fine; changing it to a private one is refused.
    let (id, _) = add_endpoint(&app, "https://8.8.8.8/hook", json!(["*"])).await;
    app.call(
        Method::PATCH,
        &format!("/webhooks/{id}"),
        Some(&app.admin_key),
        Some(json!({"url": "http://127.0.0.1/x"})),
    )
    .await
    .assert_error(400, "url_not_allowed");
    drop(app);

    // Checked again when delivering: saved where private addresses were allowed, delivered
    // by a replica where they are not (as after a DNS change), nothing reaches the receiver.
    let (app, rx) = setup(b, &[]).await;
    let port = rx.addr.port();
    let (by_name, _) =
        add_endpoint(&app, &format!("http://localhost:{port}/name"), json!(["*"])).await;
    let (by_ip, _) = add_endpoint(&app, &rx.url("/ip"), json!(["*"])).await;
    app.create_partner("x@example.com", false).await;
    let mut env: BTreeMap<String, String> = app.env.clone();
    env.insert(ALLOW_PRIVATE.0.into(), "false".into());
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let strict = spawn_replica(b, &pairs).await;
    assert_eq!(deliver(&strict).await, 2);
    assert!(rx.received().is_empty());
    for endpoint in [&by_name, &by_ip] {
        let head = oldest_pending(&app, endpoint).await.unwrap();
        assert_eq!(head["attempts"], 1);
        assert_eq!(head["lastStatusCode"], Value::Null);
        let why = head["lastResponse"].as_str().unwrap();
        assert!(why.starts_with("url_not_allowed"), "{why}");
    }
    // Where they are allowed, the same deliveries go through at their next attempt.
    app.clock.set(strict.clock.now().plus_millis(5_000));
    assert_eq!(deliver(&app).await, 4);
    assert_eq!(rx.accepted().len(), 4);
}

/// Two replicas running the worker at once: every event reaches every endpoint once, in
/// order.
async fn two_replicas_deliver_each_event_once(b: Backend) {
    let (a, rx) = setup(b, &[]).await;
    let pairs: Vec<(&str, &str)> = a
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let replica = spawn_replica(b, &pairs).await;
    // One time for both (each test app has a clock of its own).
    a.clock.set(replica.clock.now());
    let paths = ["/one", "/two", "/three"];
    for path in paths {
        add_endpoint(&a, &rx.url(path), json!(["partner.created"])).await;
    }
    let mut emails = Vec::new();
    for i in 0..12 {
        let email = format!("r{i}@example.com");
        // Changes come through either replica.
        let app = if i % 2 == 0 { &a } else { &replica };
        app.create_partner(&email, false).await;
        emails.push(email);
    }
    let (x, y) = tokio::join!(deliver(&a), deliver(&replica));
    assert_eq!(x + y, 36, "one attempt per delivery ({x} + {y})");
    for path in paths {
        let got = rx.accepted_on(path);
        let order: Vec<String> = got
            .iter()
            .map(|r| r.json()["data"]["email"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(order, emails, "{path}");
    }
    assert_eq!(rx.received().len(), 36);
}

both_backends!(
    an_outage_then_recovery_delivers_each_event_once_in_order,
    failing_for_five_days_disables_the_endpoint,
    a_410_disables_the_endpoint,
    private_addresses_are_refused,
    two_replicas_deliver_each_event_once,
);

/// The scheduled worker (every second here) sends without being called, and a receiver that
/// does not answer holds only its own endpoint: the other gets everything meanwhile.
async fn a_slow_endpoint_delays_no_other(b: Backend) {
    let (app, rx) = setup(b, &[("OPENPARTNER_WEBHOOK_CRON", "* * * * * *")]).await;
    let (slow, _) = add_endpoint(&app, &rx.url("/slow"), json!(["partner.created"])).await;
    add_endpoint(&app, &rx.url("/fast"), json!(["partner.created"])).await;
    for i in 0..4 {
        app.create_partner(&format!("s{i}@example.com"), false)
            .await;
    }
    eventually("the fast endpoint has every event", || {
        rx.accepted_on("/fast").len() == 4
    })
    .await;
    // Meanwhile the slow one got its first request and is still holding it.
    let slow_got: Vec<_> = rx
        .received()
        .into_iter()
        .filter(|r| r.path == "/slow")
        .collect();
    assert_eq!(slow_got.len(), 1);
    assert_eq!(
        oldest_pending(&app, &slow).await.unwrap()["attempts"],
        0,
        "still in flight"
    );
    rx.release_slow();
    eventually("the slow endpoint catches up", || {
        rx.accepted_on("/slow").len() == 4
    })
    .await;
    let order: Vec<String> = rx
        .accepted_on("/slow")
        .iter()
        .map(|r| r.json()["data"]["email"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        order,
        ["s0", "s1", "s2", "s3"].map(|s| format!("{s}@example.com"))
    );
}

/// Finished deliveries go after OPENPARTNER_WEBHOOK_RETENTION_DAYS; pending ones stay.
async fn old_deliveries_are_pruned(b: Backend) {
    let (app, rx) = setup(b, &[("OPENPARTNER_WEBHOOK_RETENTION_DAYS", "7")]).await;
    let (ok, _) = add_endpoint(&app, &rx.url("/ok"), json!(["partner.created"])).await;
    app.create_partner("old@example.com", false).await;
    deliver(&app).await;
    let (down, _) = add_endpoint(&app, &rx.url("/down"), json!(["partner.created"])).await;
    app.call(
        Method::PATCH,
        &format!("/webhooks/{ok}"),
        Some(&app.admin_key),
        Some(json!({"enabled": false})),
    )
    .await
    .assert_status(200);
    app.clock.advance(Duration::from_secs(6 * 86_400));
    app.create_partner("waiting@example.com", false).await;
    let prune = || openpartner::webhooks::deliver::prune(&app.state);
    assert_eq!(prune().await.unwrap(), 0, "nothing is 7 days old yet");
    app.clock.advance(Duration::from_secs(2 * 86_400));
    assert_eq!(prune().await.unwrap(), 1);
    assert!(deliveries(&app, &ok).await.is_empty());
    let kept = deliveries(&app, &down).await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["status"], "pending");
}

both_backends!(a_slow_endpoint_delays_no_other, old_deliveries_are_pruned);
