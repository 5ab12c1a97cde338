use super::*;

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

both_backends!(
    audit_log_records_changes_without_secrets,
    audit_log_is_admin_only_and_pages,
    console_shows_the_audit_log,
    audit_log_records_a_reinvite,
    audit_log_records_a_partner_signout,
);
