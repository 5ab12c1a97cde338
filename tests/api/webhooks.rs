//! Webhooks (issue 17): every event type fired by its API action and verified by the
//! independent `standardwebhooks` library (also across a secret rotation), and a rolled-back
//! change sending nothing; the helpers the other webhook tests share. Endpoint management is
//! in `webhook_endpoints.rs`, delivery in `webhook_delivery.rs`. The worker is driven by
//! calling its step (`deliver_due`).

use openpartner::clock::Clock;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::webhook_receiver::{Received, Receiver, assert_verified, verify};

pub const ALLOW_PRIVATE: (&str, &str) = ("OPENPARTNER_WEBHOOKS_ALLOW_PRIVATE", "true");

/// An app whose webhooks may go to the test's own receiver on 127.0.0.1.
pub async fn setup(b: Backend, extra: &[(&str, &str)]) -> (TestApp, Receiver) {
    let mut env = vec![ALLOW_PRIVATE];
    env.extend_from_slice(extra);
    (spawn_app_with(b, &env).await, Receiver::start().await)
}

/// Adds an endpoint; returns (id, secret).
pub async fn add_endpoint(app: &TestApp, url: &str, events: Value) -> (String, String) {
    let a = app
        .admin_post("/webhooks", json!({"url": url, "events": events}))
        .await;
    let body = a.assert_status(201);
    (
        body["id"].as_str().unwrap().to_string(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

/// Runs the delivery worker's step to the end; returns how many attempts it made.
pub async fn deliver(app: &TestApp) -> usize {
    openpartner::webhooks::deliver::deliver_due(&app.state)
        .await
        .expect("the worker step runs")
}

/// An endpoint's delivery log, newest first.
pub async fn deliveries(app: &TestApp, endpoint: &str) -> Vec<Value> {
    let a = app
        .admin_get(&format!("/webhooks/{endpoint}/deliveries?limit=100"))
        .await;
    a.assert_status(200)["deliveries"]
        .as_array()
        .unwrap()
        .clone()
}

pub fn types(received: &[Received]) -> Vec<String> {
    received.iter().map(Received::event_type).collect()
}

/// Drives every API action that fires an event, then checks what arrived: every type, in
/// order, signed (verified by `standardwebhooks`), each `data` the API's own view.
async fn each_event_type_is_fired_by_its_action(b: Backend) {
    let (app, rx) = setup(b, &[]).await;
    let (endpoint, secret) = add_endpoint(&app, &rx.url("/all"), json!(["*"])).await;
    // Only link.created here: the filter is applied when the event is recorded.
    let (_, link_secret) = add_endpoint(&app, &rx.url("/links"), json!(["link.created"])).await;

    let program = app
        .create_program(
            "https://shop.example.com/",
            json!({"type": "percent", "value": 10}),
        )
        .await;
    let created = app.create_partner("ada@example.com", true).await;
    let partner = created["id"].as_str().unwrap().to_string();
    let token = app.latest_token("ada@example.com", 1).await;
    app.verify(&token).await.0.assert_status(200);
    let link = app.create_link(&partner, "ada-link", &program).await;
    let click = app.click("ada-link").await;
    let sale = app.sale("order-1", "100.00", &click).await;
    let sale = sale.assert_status(201).clone();
    let commission = sale["commission"]["id"].as_str().unwrap().to_string();
    let approved = app
        .admin_post(
            &format!("/commissions/{commission}/approve"),
            json!({"force": true}),
        )
        .await;
    let approved = approved.assert_status(200).clone();
    let paid = app
        .admin_post(&format!("/commissions/{commission}/pay"), json!({}))
        .await;
    let paid = paid.assert_status(200).clone();
    let click2 = app.click("ada-link").await;
    let sale2 = app.sale("order-2", "50.00", &click2).await;
    let second = sale2.assert_status(201)["commission"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reversed = app
        .admin_post(&format!("/commissions/{second}/reverse"), json!({}))
        .await;
    reversed.assert_status(200);
    app.admin_post(
        &format!("/partners/{partner}/revoke"),
        json!({"reason": "Testing", "notify": false}),
    )
    .await
    .assert_status(200);
    app.admin_post(&format!("/partners/{partner}/reinstate"), json!({}))
        .await
        .assert_status(200);
    // A creator approved on the Network arrives the way the Network sends it.
    let federated = app
        .admin_post(
            "/partners",
            json!({"email": "creator@example.com", "name": "Creator", "sendInvite": false,
                   "metadata": {"source": "openpartner_network", "networkCreatorId": "cr_42"}}),
        )
        .await;
    federated.assert_status(201);
    let test = app
        .admin_post(&format!("/webhooks/{endpoint}/test"), json!({}))
        .await;
    // Sent at once only when nothing earlier is pending: here it waits its turn.
    assert_eq!(test.assert_status(200)["type"], "webhook.test");
    assert_eq!(test.body["status"], "pending");
    let row = app.audited_once("webhook_endpoint.test", &endpoint).await;
    assert_eq!(row["changes"]["deliveryId"]["after"], test.body["id"]);

    assert_eq!(deliver(&app).await, 17);
    let all = rx.accepted_on("/all");
    assert_eq!(
        types(&all),
        [
            "partner.created",
            "partner.activated",
            "link.created",
            "conversion.created",
            "commission.created",
            "commission.approved",
            "commission.paid",
            "conversion.created",
            "commission.created",
            "commission.reversed",
            "partner.revoked",
            "partner.reinstated",
            "partner.created",
            "partner.activated",
            "network.partner_federated",
            "webhook.test",
        ]
    );
    assert_verified(&secret, &all);
    // The other endpoint got only what it subscribed to, signed with its own secret.
    let links = rx.accepted_on("/links");
    assert_eq!(types(&links), ["link.created"]);
    assert_verified(&link_secret, &links);
    assert!(
        verify(&secret, &links)[0].is_err(),
        "another endpoint's secret verified"
    );
    for r in &all {
        let env = r.json();
        let keys: Vec<&str> = env
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["id", "type", "createdAt", "data"], "{}", r.body);
        assert_eq!(env["id"], r.id.as_str(), "webhook-id is the event id");
        assert!(r.content_type.starts_with("application/json"));
    }
    let data = |i: usize| all[i].json()["data"].clone();
    // `data` is the view the API answers for the object.
    let mut partner_view = created.clone();
    partner_view.as_object_mut().unwrap().remove("invited");
    assert_eq!(data(0), partner_view);
    assert_eq!(data(1)["status"], "active");
    assert_eq!(data(1)["id"], partner.as_str());
    assert_eq!(data(2), link);
    assert_eq!(
        data(3),
        sale,
        "conversion.created carries the attribution outcome"
    );
    assert_eq!(data(4), sale["commission"]);
    assert_eq!(data(5), approved);
    assert_eq!(data(6), paid);
    assert_eq!(data(9), reversed.body);
    assert_eq!(data(10)["status"], "revoked");
    assert_eq!(data(10)["revokeReason"], "Testing");
    assert_eq!(data(11)["status"], "active");
    assert_eq!(data(14)["email"], "creator@example.com");
    assert_eq!(data(14)["metadata"]["networkCreatorId"], "cr_42");
    assert_eq!(data(15)["endpointId"], endpoint.as_str());

    // The log: every field, all delivered at the first attempt.
    let log = deliveries(&app, &endpoint).await;
    assert_eq!(log.len(), 16);
    for d in &log {
        let keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "id",
                "eventId",
                "type",
                "status",
                "attempts",
                "lastStatusCode",
                "lastLatencyMs",
                "lastResponse",
                "nextAttemptAt"
            ]
        );
        assert_eq!(d["status"], "delivered");
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["lastStatusCode"], 200);
        assert_eq!(d["lastResponse"], "thanks");
        assert!(d["lastLatencyMs"].as_i64().unwrap() >= 0);
        assert_eq!(d["nextAttemptAt"], Value::Null);
    }
    assert_eq!(log[0]["type"], "webhook.test", "newest first");
    assert_eq!(log[15]["eventId"], all[0].id.as_str());
    // Pages.
    let page = app
        .admin_get(&format!(
            "/webhooks/{endpoint}/deliveries?limit=10&status=delivered"
        ))
        .await;
    let page = page.assert_status(200).clone();
    assert_eq!(page["deliveries"].as_array().unwrap().len(), 10);
    let cursor = page["nextCursor"].as_str().unwrap();
    let rest = app
        .admin_get(&format!(
            "/webhooks/{endpoint}/deliveries?limit=10&status=delivered&cursor={cursor}"
        ))
        .await;
    let rest = rest.assert_status(200);
    assert_eq!(rest["deliveries"].as_array().unwrap().len(), 6);
    assert_eq!(rest["nextCursor"], Value::Null);
    let pending = app
        .admin_get(&format!("/webhooks/{endpoint}/deliveries?status=pending"))
        .await;
    assert_eq!(pending.assert_status(200)["deliveries"], json!([]));
    // Nothing is left to send.
    assert_eq!(deliver(&app).await, 0);
}

/// After a rotation both secrets verify for 24 h (two signatures); after that, the new one.
async fn secret_rotation_keeps_both_signatures_for_a_day(b: Backend) {
    let (app, rx) = setup(b, &[]).await;
    let (endpoint, first) = add_endpoint(&app, &rx.url("/r"), json!(["partner.created"])).await;
    app.create_partner("one@example.com", false).await;
    deliver(&app).await;
    assert_verified(&first, &rx.accepted());

    let rotate = format!("/webhooks/{endpoint}/rotate-secret");
    let a = app.admin_post(&rotate, json!({})).await;
    let second = a.assert_status(200)["secret"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert!(a.body["previousSecretExpiresAt"].is_string());
    assert!(!app.admin_get("/webhooks").await.text.contains(&second[6..]));
    app.create_partner("two@example.com", false).await;
    deliver(&app).await;
    let during = rx.accepted()[1..].to_vec();
    assert_eq!(during.len(), 1);
    assert_eq!(
        during[0].signature.split(' ').count(),
        2,
        "{}",
        during[0].signature
    );
    assert_verified(&first, &during);
    assert_verified(&second, &during);

    // A rotation made 25 h ago: its old secret no longer signs. (The clock goes back for the
    // rotation and returns, so what is sent carries a current timestamp, as the verifier
    // demands.)
    let now = app.clock.now();
    app.clock.set(now.plus_millis(-25 * 3_600_000));
    let a = app.admin_post(&rotate, json!({})).await;
    let third = a.assert_status(200)["secret"].as_str().unwrap().to_string();
    app.clock.set(now);
    app.create_partner("three@example.com", false).await;
    deliver(&app).await;
    let after = rx.accepted()[2..].to_vec();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].signature.split(' ').count(), 1);
    assert_verified(&third, &after);
    assert!(verify(&second, &after)[0].is_err());
    assert!(verify(&first, &after)[0].is_err());
}

/// A change whose transaction fails after its event was recorded sends nothing.
async fn a_rolled_back_change_sends_nothing(b: Backend) {
    let (app, rx) = setup(b, &[]).await;
    let (endpoint, _) = add_endpoint(&app, &rx.url("/r"), json!(["*"])).await;
    // The invite email is queued in the partner's transaction after its events: make that
    // insert fail, so the whole transaction rolls back.
    let pool = app.state.db.pool();
    let statements: &[&str] = match b {
        Backend::Sqlite => &[
            "CREATE TRIGGER fail_mail BEFORE INSERT ON mail_outbox BEGIN SELECT RAISE(ABORT, 'injected'); END",
        ],
        Backend::Postgres => &[
            "CREATE FUNCTION fail_mail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER fail_mail BEFORE INSERT ON mail_outbox FOR EACH ROW EXECUTE FUNCTION fail_mail()",
        ],
    };
    for s in statements {
        sqlx::query(s).execute(pool).await.unwrap();
    }
    let a = app
        .admin_post(
            "/partners",
            json!({"email": "lost@example.com", "name": "Lost", "sendInvite": true}),
        )
        .await;
    a.assert_error(500, "internal_error");
    let drop = match b {
        Backend::Sqlite => "DROP TRIGGER fail_mail",
        Backend::Postgres => "DROP TRIGGER fail_mail ON mail_outbox",
    };
    sqlx::query(drop).execute(pool).await.unwrap();
    assert_eq!(deliver(&app).await, 0);
    assert!(rx.received().is_empty());
    assert!(deliveries(&app, &endpoint).await.is_empty());
    let found = app.admin_get("/partners?email=lost@example.com").await;
    assert_eq!(found.assert_status(200)["partners"], json!([]));
    // The same change, committed, is sent.
    app.create_partner("kept@example.com", true).await;
    assert_eq!(deliver(&app).await, 1);
    assert_eq!(types(&rx.accepted()), ["partner.created"]);
}

both_backends!(
    each_event_type_is_fired_by_its_action,
    secret_rotation_keeps_both_signatures_for_a_day,
    a_rolled_back_change_sends_nothing,
);
