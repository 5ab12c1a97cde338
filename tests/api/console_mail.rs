//! The console's Mail page and its API: the outbox listed without bodies, paged and filtered,
//! and a dead message retried (audited, CSRF-checked). Screenshots land in
//! `target/screenshots/`.

use std::time::{Duration, Instant};

use openpartner::db;
use openpartner::db::mail::OutgoingMail;
use openpartner::domain::ids::MailId;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::console::open_signed_in;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(
    admin_lists_mail_without_bodies,
    admin_retries_a_dead_message,
    admin_retries_mail_from_the_console,
);

/// Records a message in the outbox one second after the last; `dead` makes its only attempt
/// fail for good. Its bodies carry a secret the API must never show.
async fn seed_mail(app: &TestApp, to: &str, subject: &str, dead: bool) -> String {
    app.clock.advance(Duration::from_secs(1));
    let mail = OutgoingMail {
        id: MailId::generate(),
        to_addr: to.into(),
        subject: subject.into(),
        text_body: "SECRET-BODY /auth/magic?token=x".into(),
        html_body: "<p>SECRET-BODY</p>".into(),
        attempts: 0,
    };
    let mut tx = app.state.db.begin().await.unwrap();
    db::mail::enqueue(&mut *tx, &mail, app.state.clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    if dead {
        db::mail::mark_failed(
            app.state.db.pool(),
            &mail.id,
            "smtp: connection refused",
            None,
            ("t", "h"),
        )
        .await
        .unwrap();
    }
    mail.id.into_string()
}

/// The outbox as the API lists it, `query` appended.
async fn listed(app: &TestApp, query: &str) -> Value {
    let a = app.admin_get(&format!("/admin/mail/messages{query}")).await;
    assert!(!a.text.contains("SECRET-BODY"), "{}", a.text);
    a.assert_status(200).clone()
}

/// The message `id` once `done` holds for it (10 s at most: delivery runs in the background).
async fn mail_when(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = listed(app, "?limit=200").await;
        let found = page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned();
        if let Some(m) = found.filter(|m| done(m)) {
            return m;
        }
        assert!(Instant::now() < deadline, "mail {id} never got there");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An invitation, delivered (to the outbox directory); returns its id.
async fn sent_invite(app: &TestApp, email: &str) -> String {
    app.create_partner(email, true).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = listed(app, "?status=sent").await;
        if let Some(m) = page["messages"].as_array().unwrap().first() {
            assert_eq!(m["to"], email);
            return m["id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "the invitation was never sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn admin_lists_mail_without_bodies(b: Backend) {
    let app = spawn_app(b).await;
    let sent = sent_invite(&app, "invited@example.com").await;
    let dead = seed_mail(&app, "dead@example.com", "Dead one", true).await;
    let pending = seed_mail(&app, "wait@example.com", "Waiting one", false).await;

    // Newest first, every field but the bodies.
    let all = listed(&app, "").await;
    let messages = all["messages"].as_array().unwrap();
    let ids: Vec<&str> = messages.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [pending.as_str(), dead.as_str(), sent.as_str()]);
    assert!(all["nextCursor"].is_null());
    for m in messages {
        let mut keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "attempts",
                "createdAt",
                "id",
                "lastError",
                "nextAttemptAt",
                "sentAt",
                "status",
                "subject",
                "to"
            ]
        );
    }
    let (p, d, s) = (&messages[0], &messages[1], &messages[2]);
    assert_eq!(
        (&p["status"], &p["to"], &p["subject"]),
        (
            &json!("pending"),
            &json!("wait@example.com"),
            &json!("Waiting one")
        )
    );
    assert_eq!(p["attempts"], 0);
    assert!(p["nextAttemptAt"].is_string() && p["sentAt"].is_null() && p["lastError"].is_null());
    assert_eq!((&d["status"], &d["attempts"]), (&json!("dead"), &json!(1)));
    assert_eq!(d["lastError"], "smtp: connection refused");
    assert!(d["nextAttemptAt"].is_null() && d["sentAt"].is_null());
    assert_eq!((&s["status"], &s["attempts"]), (&json!("sent"), &json!(1)));
    assert!(s["sentAt"].is_string() && s["nextAttemptAt"].is_null());

    // Filters.
    for (status, id) in [("dead", &dead), ("pending", &pending), ("sent", &sent)] {
        let page = listed(&app, &format!("?status={status}")).await;
        let got: Vec<&Value> = page["messages"].as_array().unwrap().iter().collect();
        assert_eq!(got.len(), 1, "{status}: {page}");
        assert_eq!(got[0]["id"], id.as_str());
    }

    // Keyset pages.
    let first = listed(&app, "?limit=2").await;
    assert_eq!(first["messages"].as_array().unwrap().len(), 2);
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = listed(&app, &format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(second["messages"][0]["id"], sent.as_str());
    assert!(second["nextCursor"].is_null());

    // Bad input is a 400, never a 500.
    for (query, code) in [
        ("?status=bounced", "invalid_query"),
        ("?limit=0", "invalid_query"),
        ("?limit=201", "invalid_query"),
        ("?limit=ten", "invalid_query"),
        ("?cursor=not-a-cursor", "invalid_cursor"),
        ("?colour=red", "invalid_query"),
    ] {
        app.admin_get(&format!("/admin/mail/messages{query}"))
            .await
            .assert_error(400, code);
    }

    // Admins only.
    app.call(Method::GET, "/admin/mail/messages", None, None)
        .await
        .assert_error(401, "unauthorized");
    let scoped = app
        .scoped_key(&["partners:read", "partners:write", "commissions:read"])
        .await;
    app.get("/admin/mail/messages", &scoped)
        .await
        .assert_error(403, "forbidden");
    let partner = app.create_partner("p@example.com", false).await;
    let partner_key = app.partner_key(partner["id"].as_str().unwrap()).await;
    app.get("/admin/mail/messages", &partner_key)
        .await
        .assert_error(403, "forbidden");
}

async fn admin_retries_a_dead_message(b: Backend) {
    let app = spawn_app(b).await;
    let dead = seed_mail(&app, "dead@example.com", "Your payout", true).await;
    let path = format!("/admin/mail/messages/{dead}/retry");

    // Not for scoped keys, nor a console change without the session's CSRF token.
    let scoped = app.scoped_key(&["partners:write"]).await;
    app.post(&path, &scoped, json!({}))
        .await
        .assert_error(403, "forbidden");
    let (cookie, csrf) = app.console_session().await;
    app.with_cookie(Method::POST, &path, &cookie, None, None)
        .await
        .assert_error(403, "csrf_failed");

    // Retried: pending and due now, audited, then delivered (to the outbox directory).
    let now = app.state.clock.now();
    let a = app
        .with_cookie(Method::POST, &path, &cookie, Some(&csrf), None)
        .await;
    let view = a.assert_status(200);
    assert_eq!(
        (&view["id"], &view["status"]),
        (&json!(dead), &json!("pending"))
    );
    assert_eq!(view["attempts"], 1);
    assert_eq!(view["nextAttemptAt"], json!(now));
    assert!(!a.text.contains("SECRET-BODY"));
    let row = app.audited_once("mail.retry", &dead).await;
    assert_eq!(row["targetType"], "mail");
    assert_eq!(
        row["changes"]["status"],
        json!({"before": "dead", "after": "pending"})
    );
    let sent = mail_when(&app, &dead, |m| m["status"] == "sent").await;
    assert_eq!(sent["attempts"], 2);
    assert_eq!(app.mails_to("dead@example.com").len(), 1);

    // A sent message is not retried; an unknown one is not found.
    app.admin_post(&path, json!({}))
        .await
        .assert_error(409, "not_retryable");
    app.admin_post("/admin/mail/messages/01NOSUCHMAIL/retry", json!({}))
        .await
        .assert_error(404, "not_found");

    // A pending message is made due now.
    app.clock.advance(Duration::from_secs(5));
    let pending = seed_mail(&app, "later@example.com", "Later", false).await;
    sqlx::query("UPDATE mail_outbox SET next_attempt_at = next_attempt_at + 3600000 WHERE id = $1")
        .bind(&pending)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let a = app
        .admin_post(&format!("/admin/mail/messages/{pending}/retry"), json!({}))
        .await;
    assert_eq!(
        a.assert_status(200)["nextAttemptAt"],
        json!(app.state.clock.now())
    );
    mail_when(&app, &pending, |m| m["status"] == "sent").await;
}

async fn admin_retries_mail_from_the_console(b: Backend) {
    let app = spawn_app(b).await;
    sent_invite(&app, "invited@example.com").await;
    let dead = seed_mail(&app, "dead@example.com", "Your payout is on its way", true).await;

    let browser = open_signed_in(b, &app, "mail", "/admin/mail").await;
    browser
        .text_until("#mail-body", "both messages", |t| {
            t.contains("Your payout is on its way")
                && t.contains("To dead@example.com")
                && t.contains("dead")
                && t.contains("smtp: connection refused")
                && t.contains("To invited@example.com")
                && t.contains("sent")
        })
        .await;
    let current = browser
        .visible("nav a[aria-current='page']")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(current, "Mail");
    browser.shots("mail").await;

    // The dead filter shows it alone; retry queues it again and sends it now.
    let filter = browser.visible("#mail-filter").await;
    filter.select_by_value("dead").await.unwrap();
    browser
        .text_until("#mail-body", "only the dead message", |t| {
            t.contains("dead@example.com") && !t.contains("invited@example.com")
        })
        .await;
    browser
        .click(&format!(
            "#mail-body tr[data-id='{dead}'] button[data-action='retry']"
        ))
        .await;
    browser
        .text_until("#mail-status", "the retry said", |t| {
            t.starts_with("Retrying the message to dead@example.com")
        })
        .await;
    mail_when(&app, &dead, |m| m["status"] == "sent").await;
    filter.select_by_value("").await.unwrap();
    browser
        .text_until("#mail-body", "no dead message left", |t| {
            t.contains("dead@example.com") && !t.contains("Retry")
        })
        .await;
    browser.shots("mail-retried").await;
    browser.close().await;
}
