//! Payouts, gaps left by payouts.rs and payouts_stripe.rs (part 1): auto-approve on by default,
//! the scheduled run (on its day, under the test clock), a payout's fields, and the paging and
//! filters of `GET /payouts`. Part 2 is payouts_after_run.rs.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use openpartner::clock::Clock;
use openpartner::domain::time::Timestamp;
use openpartner::service::payout_jobs;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};
use crate::payouts::sale;
pub(crate) use crate::payouts::{approved, partner};

/// Runs payouts over HTTP; returns the payouts made.
pub(crate) async fn run(app: &TestApp, body: Value) -> Vec<Value> {
    let a = app.admin_post("/payouts/run", body).await;
    a.assert_status(201)["payouts"].as_array().unwrap().clone()
}

pub(crate) fn ids(payouts: &[Value]) -> Vec<String> {
    payouts
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

fn at(v: &Value) -> DateTime<Utc> {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

/// One commission of a partner, as the admin API shows it.
pub(crate) async fn commission(app: &TestApp, pid: &str, id: &str) -> Value {
    let list = app.admin_get(&format!("/partners/{pid}/commissions")).await;
    let all = list.assert_status(200)["commissions"].as_array().unwrap();
    all.iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no {id}: {}", list.text))
}

async fn auto_approve_is_on_by_default(b: Backend) {
    let app = spawn_app(b).await;
    let created = app
        .admin_post(
            "/programs",
            json!({"name": "Default", "destinationUrl": "https://d.example.com",
                   "commission": {"type": "percent", "value": 10}, "holdbackDays": 7}),
        )
        .await;
    let program = created.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(created.body["autoApprove"], true, "{}", created.text);
    // A change that does not name it keeps it on.
    let path = format!("/programs/{program}");
    let patched = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.admin_key),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(patched.assert_status(200)["autoApprove"], true);
    assert_eq!(
        app.admin_get(&path).await.assert_status(200)["autoApprove"],
        true
    );
    let (pid, link) = partner(&app, "d@example.com", &program, json!({})).await;
    let c = sale(&app, &link, "d1", "100.00", "USD").await;
    assert_eq!(
        payout_jobs::auto_approve(&app.state).await.unwrap(),
        0,
        "not mature yet"
    );
    assert_eq!(commission(&app, &pid, &c).await["status"], "accrued");
    app.clock.advance(Duration::from_secs(7 * 86_400));
    assert_eq!(payout_jobs::auto_approve(&app.state).await.unwrap(), 1);
    let approved = commission(&app, &pid, &c).await;
    assert_eq!(approved["status"], "approved");
    assert!(approved["approvedAt"].is_string());
    assert_eq!(approved["approvalForced"], false);
    // Approved by the job, it is payable.
    let made = run(&app, json!({})).await;
    assert_eq!(made.len(), 1);
    assert_eq!(made[0]["commissionIds"], json!([c]));
    assert_eq!(made[0]["amount"], "10.00");
}

/// The test clock decides "today" for `scheduled_run`, so the day is moved to a Tuesday (no run)
/// and then to a Monday (the weekly run).
async fn the_scheduled_run_pays_on_its_day(b: Backend) {
    let app = spawn_app_with(b, &[crate::payouts::DAILY_TICK]).await;
    let s = app.admin_get("/config/payouts").await;
    assert_eq!(s.assert_status(200)["schedule"], "manual");
    assert_eq!(s.body["minimumAmounts"], json!({}));
    assert!(s.body["nextRunAt"].is_null(), "{}", s.text);
    let (_, la) = partner(&app, "a@example.com", "cmp_default", json!({})).await;
    let (_, lb) = partner(&app, "b@example.com", "cmp_default", json!({})).await;
    approved(&app, &la, "a1", "300.00", "USD").await;
    approved(&app, &la, "a2", "100.00", "EUR").await;
    approved(&app, &lb, "b1", "120.00", "USD").await;
    // Manual: the job never pays.
    assert!(
        payout_jobs::scheduled_run(&app.state)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(app.admin_get("/payouts").await.body["payouts"], json!([]));
    let body = json!({"schedule": "weekly"});
    let s = app
        .call(
            Method::PUT,
            "/config/payouts",
            Some(&app.admin_key),
            Some(body),
        )
        .await;
    let next = at(&s.assert_status(200)["nextRunAt"]);
    assert_eq!(
        (next.weekday(), next.hour(), next.minute()),
        (Weekday::Mon, 9, 0)
    );
    assert_eq!(
        app.admin_get("/config/payouts").await.body["schedule"],
        "weekly"
    );
    // The Tuesday after: not a payout day.
    app.clock
        .set(Timestamp::from_millis(next.timestamp_millis() + 86_400_000));
    assert!(
        payout_jobs::scheduled_run(&app.state)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(app.admin_get("/payouts").await.body["payouts"], json!([]));
    // The next Monday: the same payouts as POST /payouts/run would make.
    app.clock.advance(Duration::from_secs(6 * 86_400));
    let preview = app
        .admin_post("/payouts/run", json!({"dryRun": true}))
        .await;
    let preview = preview.assert_status(200)["payouts"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(preview.len(), 3);
    let made = payout_jobs::scheduled_run(&app.state)
        .await
        .unwrap()
        .expect("Monday is a payout day");
    assert_eq!(made.payouts.len(), 3);
    let listed = app.admin_get("/payouts").await;
    let listed = listed.assert_status(200)["payouts"]
        .as_array()
        .unwrap()
        .clone();
    let shape = |ps: &[Value]| -> HashSet<String> {
        ps.iter()
            .map(|p| {
                format!(
                    "{} {} {} {} {}",
                    p["partnerId"], p["amount"], p["currency"], p["method"], p["commissionIds"]
                )
            })
            .collect()
    };
    assert_eq!(shape(&listed), shape(&preview));
    let made_ids: HashSet<String> = made.payouts.iter().map(|(p, _)| p.id.clone()).collect();
    assert_eq!(made_ids, ids(&listed).into_iter().collect::<HashSet<_>>());
    assert!(listed.iter().all(|p| p["status"] == "pending"));
    // Nothing is left for a run by hand.
    assert_eq!(run(&app, json!({})).await, Vec::<Value>::new());
    // Once per payout day: a later tick the same Monday (an hourly cron, say) runs nothing,
    // even with something new to pay.
    approved(&app, &la, "a-late", "5.00", "USD").await;
    assert!(
        payout_jobs::scheduled_run(&app.state)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app.admin_get("/payouts").await.body["payouts"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}

async fn a_payout_shows_its_period_and_commissions(b: Backend) {
    let app = spawn_app(b).await;
    let (pid, link) = partner(&app, "f@example.com", "cmp_default", json!({})).await;
    let c1 = approved(&app, &link, "f1", "100.00", "USD").await;
    app.clock.advance(Duration::from_secs(3_600));
    let c2 = approved(&app, &link, "f2", "50.00", "USD").await;
    app.clock.advance(Duration::from_secs(60));
    let ran_at = app.clock.now();
    let made = run(&app, json!({})).await;
    let id = made[0]["id"].as_str().unwrap().to_string();
    let p = app.admin_get(&format!("/payouts/{id}")).await;
    let p = p.assert_status(200).clone();
    assert_eq!(p, made[0], "the run answers the payout as GET shows it");
    assert_eq!(p["commissionIds"], json!([c1, c2]), "oldest first");
    assert_eq!(p["amount"], "15.00");
    assert_eq!(
        p["periodStart"],
        commission(&app, &pid, &c1).await["accruedAt"]
    );
    assert_eq!(
        p["periodEnd"],
        commission(&app, &pid, &c2).await["accruedAt"]
    );
    assert!(at(&p["periodStart"]) < at(&p["periodEnd"]));
    assert_eq!(
        at(&p["periodEnd"]) - at(&p["periodStart"]),
        chrono::Duration::hours(1)
    );
    assert_eq!(p["createdAt"], ran_at.to_rfc3339());
    assert!(at(&p["periodEnd"]) <= at(&p["createdAt"]));
    for field in ["paidAt", "failureReason", "stripeTransferId", "reference"] {
        assert!(p[field].is_null(), "{field}: {p}");
    }
    app.admin_get("/payouts/01NOSUCHPAYOUT")
        .await
        .assert_error(404, "not_found");
}

async fn payouts_page_and_filter(b: Backend) {
    let app = spawn_app(b).await;
    let mut partners = Vec::new();
    for (i, value) in ["100.00", "200.00", "300.00"].into_iter().enumerate() {
        let (pid, link) = partner(
            &app,
            &format!("pg{i}@example.com"),
            "cmp_default",
            json!({}),
        )
        .await;
        approved(&app, &link, &format!("pg{i}"), value, "USD").await;
        partners.push(pid);
    }
    let made = ids(&run(&app, json!({})).await);
    assert_eq!(made.len(), 3);
    let first = app.admin_get("/payouts?limit=2").await;
    let first = first.assert_status(200).clone();
    let cursor = first["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let second = app
        .admin_get(&format!("/payouts?limit=2&cursor={cursor}"))
        .await;
    let second = second.assert_status(200).clone();
    assert!(second["nextCursor"].is_null(), "{second}");
    let mut all = first["payouts"].as_array().unwrap().clone();
    assert_eq!(all.len(), 2);
    all.extend(second["payouts"].as_array().unwrap().clone());
    assert_eq!(all.len(), 3);
    let seen: HashSet<String> = ids(&all).into_iter().collect();
    assert_eq!(seen.len(), 3, "a payout on two pages");
    assert_eq!(seen, made.iter().cloned().collect::<HashSet<_>>());
    // Newest first, ties broken by id.
    let keys: Vec<(String, String)> = all
        .iter()
        .map(|p| (p["createdAt"].to_string(), p["id"].to_string()))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] > w[1]), "{keys:?}");
    // Filters: one paid, two pending; by partner.
    let paid = made[0].clone();
    app.admin_post(&format!("/payouts/{paid}/mark-paid"), json!({}))
        .await
        .assert_status(200);
    let list = |q: String| {
        let app = &app;
        async move {
            let a = app.admin_get(&format!("/payouts?{q}")).await;
            ids(a.assert_status(200)["payouts"].as_array().unwrap())
        }
    };
    assert_eq!(list("status=paid".into()).await, vec![paid.clone()]);
    let pending = list("status=pending".into()).await;
    assert_eq!(pending.len(), 2);
    assert!(!pending.contains(&paid));
    let a = app.admin_get("/payouts?status=pending&limit=1").await;
    let cursor = a.assert_status(200)["nextCursor"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ids(a.body["payouts"].as_array().unwrap()),
        vec![pending[0].clone()]
    );
    let rest = list(format!("status=pending&limit=1&cursor={cursor}")).await;
    assert_eq!(rest, vec![pending[1].clone()]);
    for pid in &partners {
        let mine = app.admin_get(&format!("/payouts?partnerId={pid}")).await;
        let mine = mine.assert_status(200)["payouts"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0]["partnerId"], pid.as_str());
    }
    let owner = app.admin_get(&format!("/payouts/{paid}")).await.body["partnerId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        list(format!("partnerId={owner}&status=pending")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        list(format!("partnerId={owner}&status=paid")).await,
        vec![paid.clone()]
    );
    app.admin_get("/payouts?limit=0")
        .await
        .assert_error(400, "invalid_query");
    app.admin_get("/payouts?limit=201")
        .await
        .assert_error(400, "invalid_query");
    app.admin_get("/payouts?cursor=forged")
        .await
        .assert_error(400, "invalid_cursor");
}

both_backends!(
    auto_approve_is_on_by_default,
    the_scheduled_run_pays_on_its_day,
    a_payout_shows_its_period_and_commissions,
    payouts_page_and_filter,
);
