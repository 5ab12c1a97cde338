use super::*;

async fn list_filters_limits_and_rejects_bad_cursors(b: Backend) {
    let app = spawn_app(b).await;
    for i in 0..5 {
        app.create_partner(&format!("p{i}@example.com"), false)
            .await;
        app.clock.advance(std::time::Duration::from_millis(5));
    }
    let a = app.admin_get("/partners?limit=2").await;
    let page = a.assert_status(200);
    let emails: Vec<&str> = page["partners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["p4@example.com", "p3@example.com"], "newest first");
    assert!(page["nextCursor"].is_string());

    let a = app.admin_get("/partners?email=P2@EXAMPLE.com").await;
    let list = a.assert_status(200);
    assert_eq!(list["partners"].as_array().unwrap().len(), 1);
    assert_eq!(list["nextCursor"], Value::Null);
    let a = app.admin_get("/partners?email=nobody@example.com").await;
    assert_eq!(a.assert_status(200)["partners"], json!([]));

    for bad in ["0", "201", "-1", "abc", "1.5"] {
        app.admin_get(&format!("/partners?limit={bad}"))
            .await
            .assert_error(400, "invalid_query");
    }
    app.admin_get("/partners?limit=200")
        .await
        .assert_status(200);
    app.admin_get("/partners?cursor=garbage")
        .await
        .assert_error(400, "invalid_cursor");
    // A cursor edited by the client is refused.
    let cursor = page["nextCursor"].as_str().unwrap().to_string();
    let mut tampered: Vec<char> = cursor.chars().collect();
    tampered[2] = if tampered[2] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    app.admin_get(&format!("/partners?cursor={tampered}"))
        .await
        .assert_error(400, "invalid_cursor");
    let a = app
        .admin_get(&format!("/partners?cursor={cursor}&limit=2"))
        .await;
    let emails: Vec<&str> = a.body["partners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["p2@example.com", "p1@example.com"]);
}

async fn paging_sees_each_partner_once_under_concurrent_inserts(b: Backend) {
    let app = spawn_app(b).await;
    // A few thousand partners, several sharing each millisecond (ties broken by id).
    let total = 2500;
    let now = openpartner::clock::Clock::now(&*app.clock).millis();
    seed_partners(&app, total, now).await;
    let mut existing: HashSet<String> = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut seen: Vec<String> = Vec::new();
    // Writers keep inserting newer partners while we page.
    let writer = {
        let client = app.client.clone();
        let url = app.url("/partners");
        let key = app.admin_key.clone();
        tokio::spawn(async move {
            for i in 0..60 {
                let _ = client
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&json!({"email": format!("late{i}@example.com"), "name": "Late", "sendInvite": false}))
                    .send()
                    .await;
            }
        })
    };
    for p in db::partners::list(app.state.db.pool(), None, &Default::default(), 10_000)
        .await
        .unwrap()
    {
        existing.insert(p.id.to_string());
    }
    loop {
        let path = match &cursor {
            Some(c) => format!("/partners?limit=97&cursor={c}"),
            None => "/partners?limit=97".to_string(),
        };
        let a = app.admin_get(&path).await;
        let page = a.assert_status(200).clone();
        for p in page["partners"].as_array().unwrap() {
            seen.push(p["id"].as_str().unwrap().to_string());
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    writer.await.unwrap();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a partner was repeated");
    for id in &existing {
        assert!(
            unique.contains(id),
            "partner {id} that existed before paging was skipped"
        );
    }
}

/// Inserts `n` partners straight through the storage layer (fast), 4 per millisecond.
async fn seed_partners(app: &crate::helpers::TestApp, n: usize, now: i64) {
    use openpartner::db::partners::NewPartner;
    use openpartner::domain::ids::{PartnerId, ProgramId};
    use openpartner::domain::partners::{GrantSource, PartnerSource};
    use openpartner::domain::time::Timestamp;
    let programs = vec![ProgramId::from_string("cmp_default")];
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut tx = app.state.db.begin().await.unwrap();
        for i in chunk {
            let id = PartnerId::generate();
            let email = format!("seed{i}@example.com");
            db::partners::insert(
                &mut *tx,
                NewPartner {
                    id: &id,
                    email: &email,
                    name: "Seed",
                    metadata: "{}",
                    program_ids: &programs,
                    profile: None,
                    source: PartnerSource::AdminInvite,
                    campaign_grant_source: GrantSource::Admin,
                    pending_review: false,
                    now: Timestamp::from_millis(now - 10_000 + (*i as i64) / 4),
                    activated_at: None,
                },
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
}

async fn patch_updates_fields(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("patch@example.com", false).await;
    let id = p["id"].as_str().unwrap();
    let prog = app
        .admin_post("/programs", json!({"name": "B", "destinationUrl": "https://b.example", "commission": {"type": "percent", "value": 5}}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let a = app
        .call(Method::PATCH, &format!("/partners/{id}"), Some(&app.admin_key),
            Some(json!({"name": "Renamed", "stripeConnectAccountId": "acct_123", "programIds": [prog], "metadata": {"a": 1}})))
        .await;
    let patched = a.assert_status(200);
    assert_eq!(patched["name"], "Renamed");
    assert_eq!(patched["stripeConnectAccountId"], "acct_123");
    assert_eq!(patched["programIds"], json!([prog]));
    assert_eq!(patched["metadata"], json!({"a": 1}));
    let a = app
        .call(
            Method::PATCH,
            &format!("/partners/{id}"),
            Some(&app.admin_key),
            Some(json!({"stripeConnectAccountId": null})),
        )
        .await;
    assert_eq!(a.assert_status(200)["stripeConnectAccountId"], Value::Null);
    assert_eq!(a.body["name"], "Renamed", "omitted fields keep their value");
    let a = app
        .call(
            Method::PATCH,
            &format!("/partners/{id}"),
            Some(&app.admin_key),
            Some(json!({"programIds": ["cmp_x"]})),
        )
        .await;
    a.assert_error(400, "unknown_campaign_ids");
    let a = app
        .call(
            Method::PATCH,
            "/partners/01NOPE",
            Some(&app.admin_key),
            Some(json!({"name": "x"})),
        )
        .await;
    a.assert_error(404, "not_found");
}

async fn scopes_are_enforced_on_partner_routes(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("scoped@example.com", false).await;
    let id = p["id"].as_str().unwrap();
    let read = app.scoped_key(&["partners:read"]).await;
    let write = app.scoped_key(&["partners:write"]).await;
    let links = app.scoped_key(&["links:read"]).await;

    let a = app.get("/partners", &links).await;
    assert_eq!(
        a.assert_error(403, "forbidden_scope")["required"],
        "partners:read"
    );
    let a = app.get(&format!("/partners/{id}"), &links).await;
    assert_eq!(
        a.assert_error(403, "forbidden_scope")["required"],
        "partners:read"
    );
    let a = app
        .post(
            "/partners",
            &read,
            json!({"email": "n@example.com", "name": "n"}),
        )
        .await;
    assert_eq!(
        a.assert_error(403, "forbidden_scope")["required"],
        "partners:write"
    );
    let a = app
        .post(&format!("/partners/{id}/revoke"), &read, json!({}))
        .await;
    assert_eq!(
        a.assert_error(403, "forbidden_scope")["required"],
        "partners:write"
    );

    app.get("/partners", &read).await.assert_status(200);
    app.get(&format!("/partners/{id}"), &read)
        .await
        .assert_status(200);
    app.get(&format!("/partners/{id}/commission-snapshot"), &read)
        .await
        .assert_status(200);
    app.post(
        "/partners",
        &write,
        json!({"email": "n@example.com", "name": "n", "sendInvite": false}),
    )
    .await
    .assert_status(201);
    // Admin-only partner routes refuse scoped keys.
    app.post(&format!("/partners/{id}/approve"), &write, json!({}))
        .await
        .assert_error(403, "forbidden");
    let a = app
        .call(
            Method::PUT,
            &format!("/partners/{id}/commission-snapshot"),
            Some(&write),
            Some(json!({"commissionType": "percent", "commissionValue": 1})),
        )
        .await;
    a.assert_error(403, "forbidden");
    app.get(&format!("/partners/{id}/api-keys"), &read)
        .await
        .assert_error(403, "forbidden");
    app.get("/partners/01UNKNOWN", &read)
        .await
        .assert_error(404, "not_found");
}

both_backends!(
    list_filters_limits_and_rejects_bad_cursors,
    paging_sees_each_partner_once_under_concurrent_inserts,
    patch_updates_fields,
    scopes_are_enforced_on_partner_routes,
);
