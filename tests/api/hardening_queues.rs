//! Hardening of the background queues: a suspended vendor parks the Network outbox (no spin),
//! an offering is created once although its program is edited during the create or a replica
//! starts meanwhile, a backfill keeps its lease through a long batch, and two mail deliverers
//! never send one message twice.

use std::future::Future;
use std::time::{Duration, Instant};

use openpartner::clock::Clock;
use openpartner::db;
use openpartner::network_sim::{Fault, NetworkSim};
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{
    Backend, TestApp, eventually, spawn_app_with, spawn_replica, spawn_with_network,
};
use crate::smtp_sink::SmtpSink;

/// Polls an async condition until it holds (10 s at most).
async fn until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How many protocol calls the simulator got that are exactly `METHOD /path`.
fn calls(sim: &NetworkSim, call: &str) -> usize {
    sim.lock().calls.iter().filter(|c| *c == call).count()
}

fn env_of(app: &TestApp) -> Vec<(String, String)> {
    app.env.clone().into_iter().collect()
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

async fn outbox_rows(app: &TestApp) -> Vec<Value> {
    app.admin_get("/admin/network/outbox").await.body["rows"]
        .as_array()
        .unwrap()
        .clone()
}

async fn a_suspension_parks_the_outbox_until_a_status_check(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    let vendor = app.connect_hosted().await;
    app.admin_post("/config/network", json!({"autoEnroll": true}))
        .await
        .assert_status(200);
    // Five pushes wait in the outbox after an outage.
    sim.inject(Fault {
        count: 5,
        path: Some("/partners/upsert".into()),
        status: Some(503),
        ..Default::default()
    });
    let mut ids = Vec::new();
    for i in 0..5 {
        let p = app
            .create_partner(&format!("parked{i}@example.com"), false)
            .await;
        ids.push(p["id"].as_str().unwrap().to_string());
    }
    assert_eq!(outbox_rows(&app).await.len(), 5);

    // The Network suspends the vendor; this instance does not know it yet.
    sim.set_status(&vendor, "suspended");
    app.clock.advance(Duration::from_secs(60));
    let before = calls(&sim, "POST /partners/upsert");
    let drained = tokio::time::timeout(
        Duration::from_secs(10),
        openpartner::network::sync::drain(&app.state),
    )
    .await
    .expect("a drain that meets a suspension ends")
    .unwrap();
    assert_eq!(drained, 1);
    assert_eq!(
        calls(&sim, "POST /partners/upsert") - before,
        1,
        "one refused push, then the drain stops"
    );
    let rows = outbox_rows(&app).await;
    assert_eq!(rows.len(), 5);
    assert!(
        rows.iter()
            .all(|r| r["status"] == "pending" && r["attempts"] == 1),
        "a suspension is not a failed attempt: {rows:?}"
    );

    // While suspended, each drain asks the Network once and sends nothing.
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(3600));
        let (me, pushes) = (
            calls(&sim, "GET /vendors/me"),
            calls(&sim, "POST /partners/upsert"),
        );
        let drained = tokio::time::timeout(
            Duration::from_secs(10),
            openpartner::network::sync::drain(&app.state),
        )
        .await
        .expect("a drain while suspended ends")
        .unwrap();
        assert_eq!(drained, 0);
        assert_eq!(calls(&sim, "GET /vendors/me") - me, 1);
        assert_eq!(calls(&sim, "POST /partners/upsert"), pushes);
    }

    // Active again: the status check says so, and every row goes out once.
    sim.set_status(&vendor, "active");
    let drained = openpartner::network::sync::drain(&app.state).await.unwrap();
    assert_eq!(drained, 5);
    for id in &ids {
        let pushed = sim
            .lock()
            .upserts
            .iter()
            .filter(|u| u["vendorPartnerId"] == id.as_str())
            .count();
        assert_eq!(pushed, 1, "partner {id}");
    }
    assert!(outbox_rows(&app).await.is_empty(), "nothing left pending");
}

fn offering_posts(sim: &NetworkSim) -> usize {
    calls(sim, "POST /vendors/me/offerings")
}

/// Holds the next offering create in the simulator for `ms`, creates a shared program (whose
/// background sync sends that create) and waits until the create is in flight. Returns the
/// program id.
async fn program_with_a_create_in_flight(app: &TestApp, sim: &NetworkSim, ms: u64) -> String {
    sim.inject(Fault {
        count: 1,
        path: Some("/vendors/me/offerings".into()),
        delay_ms: Some(ms),
        ..Default::default()
    });
    let a = app
        .admin_post("/programs", json!({"name": "First", "destinationUrl": "https://shop.example.com",
            "commission": {"type": "percent", "value": 10}, "shareOnNetwork": true, "marketplaceDescription": "Join"}))
        .await;
    let id = a.assert_status(201)["id"].as_str().unwrap().to_string();
    eventually("the create is in flight", || offering_posts(sim) == 1).await;
    id
}

async fn an_offering_edited_during_its_create_is_created_once(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    let vendor = app.connect_hosted().await;
    let id = program_with_a_create_in_flight(&app, &sim, 3000).await;
    app.call(
        Method::PATCH,
        &format!("/programs/{id}"),
        Some(&app.admin_key),
        Some(json!({"name": "Second"})),
    )
    .await
    .assert_status(200);
    // Another sync (the edit's own runs in the background too) while the create is in flight.
    openpartner::network::offerings::sync(&app.state)
        .await
        .unwrap();
    let offerings = || sim.lock().vendors[&vendor].offerings.clone();
    assert!(
        offerings().is_empty(),
        "the first create is still in flight"
    );
    eventually("the edit reached the Network", || {
        offerings().first().is_some_and(|o| o["title"] == "Second")
    })
    .await;
    assert_eq!(offering_posts(&sim), 1, "created once");
    assert_eq!(offerings().len(), 1);
    let program = app.admin_get(&format!("/programs/{id}")).await;
    assert_eq!(program.body["networkOfferingId"], offerings()[0]["id"]);
}

async fn a_starting_replica_leaves_live_offering_claims_alone(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    let vendor = app.connect_hosted().await;
    let id = program_with_a_create_in_flight(&app, &sim, 5000).await;
    // A replica starts (releasing lapsed claims) and syncs while the create is in flight.
    let env = env_of(&app);
    let replica = spawn_replica(b, &pairs(&env)).await;
    openpartner::network::offerings::sync(&replica.state)
        .await
        .unwrap();
    let offerings = || sim.lock().vendors[&vendor].offerings.clone();
    assert!(
        offerings().is_empty(),
        "the first create is still in flight"
    );
    assert_eq!(offering_posts(&sim), 1);
    eventually("the create finished", || offerings().len() == 1).await;
    until("the offering id stored", || async {
        app.admin_get(&format!("/programs/{id}")).await.body["networkOfferingId"].is_string()
    })
    .await;
    // Nothing is left to send, on either instance.
    assert_eq!(
        openpartner::network::offerings::sync(&replica.state)
            .await
            .unwrap(),
        0
    );
    assert_eq!(offering_posts(&sim), 1, "created once");
    assert_eq!(offerings().len(), 1);
}

async fn lease_until(app: &TestApp) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT lease_until FROM backfill_runs WHERE status = 'running'")
        .fetch_optional(app.state.db.pool())
        .await
        .unwrap()
        .map_or(0, |r| r.get::<i64, _>(0))
}

async fn a_backfill_keeps_its_lease_through_a_long_batch(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    app.connect_hosted().await;
    for i in 0..20 {
        app.create_partner(&format!("long{i}@example.com"), false)
            .await;
    }
    let env = env_of(&app);
    let replica = spawn_replica(b, &pairs(&env)).await;
    // One batch: 16 pushes go at once, the 17th takes a while, the last three longer (within
    // the 5 s push timeout).
    let upsert = |count: usize, delay_ms: Option<u64>| Fault {
        count,
        path: Some("/partners/upsert".into()),
        delay_ms,
        ..Default::default()
    };
    sim.inject(upsert(16, None));
    sim.inject(upsert(1, Some(1500)));
    sim.inject(upsert(3, Some(4000)));
    let t0 = app.clock.now().millis();
    let lease = 60_000;
    let run = app.admin_post("/config/network/backfill", json!({})).await;
    let run_id = run.assert_status(202)["runId"].clone();
    eventually("16 pushes", || sim.lock().upserts.len() == 16).await;

    // Time passes within the batch; the pushes that complete renew the lease.
    app.clock.advance(Duration::from_secs(50));
    until("the lease renewed as pushes complete", || async {
        lease_until(&app).await >= t0 + 50_000 + lease
    })
    .await;
    // Past the lease the run started with: another replica cannot take the run over.
    app.clock.advance(Duration::from_secs(30));
    replica.clock.set(app.clock.now());
    let joined = replica
        .admin_post("/config/network/backfill", json!({}))
        .await;
    assert_eq!(
        joined.assert_status(202)["runId"],
        run_id,
        "joined, not restarted"
    );

    until("the backfill finished", || async {
        app.admin_get("/config/network/backfill").await.body["status"] == "done"
    })
    .await;
    let done = app.admin_get("/config/network/backfill").await.body;
    assert_eq!(done["runId"], run_id);
    assert_eq!(done["pushed"], 20);
    let upserts = sim.lock().upserts.clone();
    let mut partners: Vec<&str> = upserts
        .iter()
        .map(|u| u["vendorPartnerId"].as_str().unwrap())
        .collect();
    partners.sort();
    partners.dedup();
    assert_eq!(upserts.len(), 20, "each partner pushed once");
    assert_eq!(partners.len(), 20);
}

async fn two_mail_deliverers_never_send_one_message_twice(b: Backend) {
    let sink = SmtpSink::start().await;
    sink.fail_next(3);
    let app = spawn_app_with(b, &[("SMTP_URL", &sink.url())]).await;
    let env = env_of(&app);
    let replica = spawn_replica(b, &pairs(&env)).await;
    for i in 0..3 {
        app.create_partner(&format!("twice{i}@example.com"), true)
            .await;
    }
    // Each first attempt was refused: three messages wait for the retry job.
    until("three failed attempts recorded", || async {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) FROM mail_outbox WHERE status = 'pending' AND attempts = 1")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap()
            .get::<i64, _>(0)
            == 3
    })
    .await;
    app.clock.advance(Duration::from_secs(31));
    // The first deliverer's first message stalls at the SMTP server.
    sink.hold_next(1);
    let state = app.state.clone();
    let first = tokio::spawn(async move { state.mailer.deliver_due().await });
    eventually("a message held at the server", || sink.held() == 1).await;
    // A second deliverer runs more than the old 120 s lease later.
    replica.clock.set(app.clock.now().plus_millis(121_000));
    let second = replica.state.mailer.deliver_due().await.unwrap();
    assert_eq!(second, 2, "the other two messages, not the one being sent");
    sink.release();
    let first = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("the first deliverer ends")
        .unwrap()
        .unwrap();
    assert_eq!(first, 1);
    let mut to = sink.recipients();
    to.sort();
    assert_eq!(
        to,
        [
            "twice0@example.com",
            "twice1@example.com",
            "twice2@example.com"
        ],
        "each message sent once"
    );
    assert_eq!(
        db::mail::counts(app.state.db.pool()).await.unwrap(),
        (0, 3, 0)
    );
}

both_backends!(
    a_suspension_parks_the_outbox_until_a_status_check,
    an_offering_edited_during_its_create_is_created_once,
    a_starting_replica_leaves_live_offering_claims_alone,
    a_backfill_keeps_its_lease_through_a_long_batch,
    two_mail_deliverers_never_send_one_message_twice,
);
