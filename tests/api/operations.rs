//! Operating the instance: the Prometheus page (`/metrics`) and the audit log.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, free_port, spawn_app, spawn_app_with};

const TOKEN: &str = "metrics-token-0123456789";

both_backends!(
    metrics_page_is_valid_and_moves,
    metrics_off_without_settings,
    metrics_on_a_separate_listener,
    audit_log_records_changes_without_secrets,
    audit_log_is_admin_only_and_pages,
    console_shows_the_audit_log,
    audit_log_records_a_reinvite,
    audit_log_records_a_partner_signout,
);

async fn metrics(app: &TestApp) -> String {
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    res.text().await.unwrap()
}

/// `promtool check metrics` (Debian's `prometheus` package) accepts the page.
fn promtool_accepts(page: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/prometheus.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{page}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of the first series line starting with `prefix` (0 when absent).
fn value(page: &str, prefix: &str) -> f64 {
    page.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn metrics_page_is_valid_and_moves(b: Backend) {
    let app = spawn_app_with(b, &[("OPENPARTNER_METRICS_TOKEN", TOKEN)]).await;
    // The token is required, compared exactly.
    app.call(Method::GET, "/metrics", None, None)
        .await
        .assert_error(401, "unauthorized");
    app.get("/metrics", "metrics-token-012345678X")
        .await
        .assert_error(401, "unauthorized");
    app.get("/metrics", &app.admin_key)
        .await
        .assert_error(401, "unauthorized");

    let before = metrics(&app).await;
    let partner = app.create_partner("metrics@example.com", false).await;
    let pid = partner["id"].as_str().unwrap();
    app.create_link(pid, "metricslink", "cmp_default").await;
    let click = app.click("metricslink").await;
    let sale = app.sale("m-1", "10.00", &click).await;
    sale.assert_status(201);
    let cid = sale.body["commission"]["id"].as_str().unwrap().to_string();
    app.admin_post(&format!("/commissions/{cid}/approve"), json!({}))
        .await
        .assert_status(200);
    app.admin_get(&format!("/partners/{pid}"))
        .await
        .assert_status(200);
    app.admin_get("/partners/no-such-partner-id").await;
    let after = metrics(&app).await;
    promtool_accepts(&after);

    for series in [
        "openpartner_http_requests_total{",
        "openpartner_clicks_queued_total",
        "openpartner_clicks_written_total",
        "openpartner_redirects_total{",
        "openpartner_conversions_total{",
        "openpartner_commission_status_changes_total{",
        "openpartner_http_request_duration_seconds_bucket{",
        "openpartner_click_batch_size_count",
    ] {
        assert!(
            value(&after, series) > value(&before, series),
            "{series} did not move:\n{after}"
        );
    }
    for present in [
        "openpartner_http_requests_in_flight",
        "openpartner_db_pool_connections",
        "openpartner_db_pool_idle_connections",
        "openpartner_network_outbox_pending",
        "openpartner_mail_pending",
        "openpartner_webhook_deliveries_pending",
        "openpartner_build_info{",
        "# HELP openpartner_http_requests_total",
    ] {
        assert!(after.contains(present), "{present} missing:\n{after}");
    }
    // The route label is the template, never the raw path.
    assert!(after.contains(r#"route="/partners/{id}""#), "{after}");
    assert!(!after.contains(pid), "a raw id in a label:\n{after}");
    assert!(!after.contains("no-such-partner-id"), "{after}");
    assert!(after.contains(r#"status="4xx""#), "{after}");
}

async fn metrics_off_without_settings(b: Backend) {
    let app = spawn_app(b).await;
    app.get("/metrics", TOKEN)
        .await
        .assert_error(404, "not_found");
    app.call(Method::GET, "/metrics", None, None)
        .await
        .assert_error(404, "not_found");
}

async fn metrics_on_a_separate_listener(b: Backend) {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let app = spawn_app_with(b, &[("OPENPARTNER_METRICS_BIND", bind.as_str())]).await;
    // Not on the main listener (no token set) ...
    app.call(Method::GET, "/metrics", None, None)
        .await
        .assert_error(404, "not_found");
    // ... but on its own address, without auth.
    app.admin_get("/partners").await.assert_status(200);
    let page = app
        .client
        .get(format!("http://{bind}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("openpartner_http_requests_total"), "{page}");
    promtool_accepts(&page);
}

fn entries(a: &crate::helpers::Answer) -> Vec<Value> {
    a.assert_status(200)["entries"].as_array().unwrap().clone()
}

async fn audit_log_records_changes_without_secrets(b: Backend) {
    let app = spawn_app(b).await;
    // A labelled scoped key acts; its changes name it.
    let minted = app
        .admin_post(
            "/api-keys/scoped",
            json!({"scopes": ["partners:write", "partners:read"], "label": "crm-sync"}),
        )
        .await;
    let minted = minted.assert_status(201).clone();
    let scoped = minted["plaintext"].as_str().unwrap().to_string();
    let scoped_id = minted["id"].as_str().unwrap().to_string();

    let created = app
        .post(
            "/partners",
            &scoped,
            json!({"email": "audit@example.com", "name": "Before", "sendInvite": false}),
        )
        .await;
    let pid = created.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.call(
        Method::PATCH,
        &format!("/partners/{pid}"),
        Some(&scoped),
        Some(json!({"name": "After"})),
    )
    .await
    .assert_status(200);
    app.admin_post(
        &format!("/partners/{pid}/revoke"),
        json!({"reason": "fraud"}),
    )
    .await
    .assert_status(200);
    let hook = app
        .admin_post(
            "/webhooks",
            json!({"url": "https://bob:hunter2pass@hooks.example.com/in?token=tok_SECRET9", "events": ["partner.created"]}),
        )
        .await;
    let hook = hook.assert_status(201).clone();
    let prog = app
        .create_program(
            "https://shop.example.com",
            json!({"type": "percent", "value": 10}),
        )
        .await;
    app.call(
        Method::PATCH,
        &format!("/programs/{prog}"),
        Some(&app.admin_key),
        Some(json!({"name": "Renamed"})),
    )
    .await
    .assert_status(200);
    // A console action: the session acts as the key it was opened with.
    let (_cookie, _csrf) = app.console_session().await;

    let log = app.admin_get("/audit-log?limit=200").await;
    let all = entries(&log);
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in [
        "api_key.create",
        "partner.create",
        "partner.update",
        "partner.revoke",
        "webhook_endpoint.create",
        "program.create",
        "program.update",
        "session.create",
    ] {
        assert!(actions.contains(&action), "{action} missing: {actions:?}");
    }
    // A credential inside a webhook URL stays out of the log.
    assert!(!log.text.contains("hunter2pass") && !log.text.contains("tok_SECRET9"));
    let created = app.audit_rows("webhook_endpoint.create").await;
    let shown = created[0]["changes"]["url"]["after"].as_str().unwrap();
    assert!(
        shown.starts_with("https://hooks.example.com/… (sha256 "),
        "{shown}"
    );
    // Newest first.
    let ats: Vec<&str> = all.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = ats.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ats, sorted);

    let update = app
        .admin_get(&format!("/audit-log?action=partner.update&targetId={pid}"))
        .await;
    let update = entries(&update);
    assert_eq!(update.len(), 1, "{update:?}");
    let u = &update[0];
    assert_eq!(u["actor"], scoped_id.as_str());
    assert_eq!(u["actorLabel"], "crm-sync");
    assert_eq!(u["targetType"], "partner");
    assert_eq!(
        u["changes"]["name"],
        json!({"before": "Before", "after": "After"})
    );
    assert!(
        u["requestId"].as_str().is_some_and(|r| !r.is_empty()),
        "{u}"
    );
    assert!(u["ipHash"].as_str().is_some_and(|r| r.len() >= 16), "{u}");

    let by_actor = app
        .admin_get(&format!("/audit-log?actor={scoped_id}"))
        .await;
    assert!(
        entries(&by_actor)
            .iter()
            .all(|e| e["actor"] == scoped_id.as_str()),
        "{}",
        by_actor.text
    );
    assert_eq!(entries(&by_actor).len(), 2);
    let revoke = app.admin_get("/audit-log?action=partner.revoke").await;
    let revoke = entries(&revoke);
    assert_eq!(revoke[0]["changes"]["revokeReason"]["after"], "fraud");

    // No secret anywhere: key plaintexts, the webhook signing secret.
    let text = log.text.clone();
    for secret in [
        scoped.as_str(),
        app.admin_key.as_str(),
        hook["secret"].as_str().unwrap_or("whsec_unset_placeholder"),
    ] {
        assert!(!text.contains(secret), "a secret in the audit log");
    }
    let key_hashes: Vec<String> = sqlx::query_scalar("SELECT key_hash FROM api_keys")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    for h in key_hashes {
        assert!(!text.contains(&h), "a key hash in the audit log");
    }

    // Append-only: the database itself refuses to change or remove a row.
    let db = app.state.db.pool();
    assert!(
        sqlx::query("UPDATE audit_log SET actor = 'someone else'")
            .execute(db)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM audit_log")
            .execute(db)
            .await
            .is_err()
    );
}

async fn audit_log_is_admin_only_and_pages(b: Backend) {
    let app = spawn_app(b).await;
    for n in 0..3 {
        app.create_partner(&format!("page{n}@example.com"), false)
            .await;
    }
    let scoped = app.scoped_key(&["partners:read"]).await;
    app.get("/audit-log", &scoped)
        .await
        .assert_error(403, "forbidden");
    app.call(Method::GET, "/audit-log", None, None)
        .await
        .assert_error(401, "unauthorized");
    app.admin_get("/audit-log?since=yesterday")
        .await
        .assert_error(400, "invalid_query");
    app.admin_get("/audit-log?cursor=forged")
        .await
        .assert_error(400, "invalid_cursor");
    app.admin_get("/audit-log?limit=0")
        .await
        .assert_error(400, "invalid_query");
    app.admin_get("/audit-log?colour=blue")
        .await
        .assert_error(400, "invalid_query");

    let mut seen = Vec::new();
    let mut path = "/audit-log?action=partner.create&limit=2".to_string();
    loop {
        let page = app.admin_get(&path).await;
        let body = page.assert_status(200).clone();
        for e in body["entries"].as_array().unwrap() {
            seen.push(e["targetId"].as_str().unwrap().to_string());
        }
        match body["nextCursor"].as_str() {
            Some(c) => path = format!("/audit-log?action=partner.create&limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    seen.dedup();
    assert_eq!(seen.len(), 3);
    let since = app.admin_get("/audit-log?since=2999-01-01T00:00:00Z").await;
    assert!(entries(&since).is_empty());
}

async fn console_shows_the_audit_log(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("console-audit@example.com", false).await;
    let pid = p["id"].as_str().unwrap().to_string();
    let prefix = format!("audit-{b:?}").to_lowercase();
    let browser = crate::console::Browser::start(&prefix).await;
    let web = &browser.client;
    web.goto(&app.url("/admin/audit-log")).await.unwrap();
    browser.visible("#signin-form").await;
    browser.fill("#key", &app.admin_key).await;
    browser.click("#signin-button").await;
    browser
        .text_until("#audit-body", "the partner's creation", |t| {
            t.contains("partner.create") && t.contains(&pid)
        })
        .await;
    // The console's own sign-in is in the log too, and a filter narrows it.
    browser
        .text_until("#audit-body", "the sign-in", |t| {
            t.contains("session.create")
        })
        .await;
    browser.fill("#audit-action", "session.create").await;
    browser.click("#audit-apply").await;
    browser
        .text_until("#audit-body", "only sign-ins", |t| {
            t.contains("session.create") && !t.contains("partner.create")
        })
        .await;
    browser.shot("audit-log").await;
    browser.close().await;
}

/// A partner's re-invite is audited without the link or its token.
async fn audit_log_records_a_reinvite(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("reinvite@example.com", true).await;
    let pid = p["id"].as_str().unwrap();
    app.admin_post(&format!("/partners/{pid}/invite"), json!({}))
        .await
        .assert_status(200);
    let token = app.latest_token("reinvite@example.com", 2).await;
    let row = app.audited_once("partner.invite", pid).await;
    assert_eq!(
        row["changes"],
        json!({"inviteSent": {"before": null, "after": true}})
    );
    let log = app.admin_get("/audit-log?limit=200").await;
    assert!(
        !log.text.contains(&token),
        "the invite token in the audit log"
    );
    // A refused re-invite records nothing.
    app.admin_post(&format!("/partners/{pid}/revoke"), json!({}))
        .await
        .assert_status(200);
    app.admin_post(&format!("/partners/{pid}/invite"), json!({}))
        .await
        .assert_error(409, "partner_revoked");
    app.audited_once("partner.invite", pid).await;
}

/// A partner's sign-out is audited as that partner, without its session token.
async fn audit_log_records_a_partner_signout(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("signout-audit@example.com", true).await;
    let pid = p["id"].as_str().unwrap();
    let token = app.latest_token("signout-audit@example.com", 1).await;
    let (a, session) = app.verify(&token).await;
    a.assert_status(200);
    let session = session.expect("a session cookie");
    app.call(Method::POST, "/auth/signout", Some(&session), None)
        .await
        .assert_status(200);
    let rows = app.audit_rows("partner_session.end").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["actor"], format!("partner:{pid}"));
    assert!(rows[0]["changes"]["endedAt"]["after"].is_string());
    let log = app.admin_get("/audit-log?limit=200").await;
    assert!(
        !log.text.contains(&session),
        "a session token in the audit log"
    );
}
