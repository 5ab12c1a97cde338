use super::*;

async fn revoked_partner_link_is_refused_with_the_reason(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("sus@example.com", true).await;
    let id = p["id"].as_str().unwrap();
    let token = app.latest_token("sus@example.com", 1).await;
    app.admin_post(
        &format!("/partners/{id}/revoke"),
        json!({"reason": "Fraud", "notify": false}),
    )
    .await
    .assert_status(200);
    let (a, session) = app.verify(&token).await;
    assert_eq!(a.assert_error(403, "partner_revoked")["detail"], "Fraud");
    assert!(session.is_none());
}

async fn a_partner_cannot_read_another(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.create_partner("a@example.com", false).await;
    let bp = app.create_partner("b@example.com", false).await;
    let (a_id, b_id) = (a["id"].as_str().unwrap(), bp["id"].as_str().unwrap());
    let key_a = app
        .admin_post(&format!("/partners/{a_id}/api-keys"), json!({}))
        .await
        .body["plaintext"]
        .as_str()
        .unwrap()
        .to_string();
    app.get(&format!("/partners/{a_id}"), &key_a)
        .await
        .assert_status(200);
    app.get(&format!("/partners/{b_id}"), &key_a)
        .await
        .assert_error(404, "not_found");
    app.get(&format!("/partners/{b_id}/commission-snapshot"), &key_a)
        .await
        .assert_error(404, "not_found");
    app.get(&format!("/partners/{b_id}/api-keys"), &key_a)
        .await
        .assert_error(404, "not_found");
    app.post(&format!("/partners/{b_id}/api-keys"), &key_a, json!({}))
        .await
        .assert_error(404, "not_found");
    // Partner credentials cannot list, create or administer.
    app.get("/partners", &key_a)
        .await
        .assert_error(403, "forbidden");
    app.post(
        "/partners",
        &key_a,
        json!({"email": "c@example.com", "name": "c"}),
    )
    .await
    .assert_error(403, "forbidden");
    app.post(&format!("/partners/{a_id}/revoke"), &key_a, json!({}))
        .await
        .assert_error(403, "forbidden");
    app.get("/api-keys", &key_a)
        .await
        .assert_error(403, "forbidden");
    app.get("/programs", &key_a)
        .await
        .assert_error(403, "forbidden");

    // Its own keys: list and delete, but never another partner's key through its path.
    let a2 = app
        .post(
            &format!("/partners/{a_id}/api-keys"),
            &key_a,
            json!({"label": "second"}),
        )
        .await;
    let second_id = a2.assert_status(201)["id"].as_str().unwrap().to_string();
    let listed = app.get(&format!("/partners/{a_id}/api-keys"), &key_a).await;
    let keys = listed.assert_status(200)["apiKeys"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter()
            .all(|k| k["kind"] == "partner" && k["partnerId"] == a_id)
    );
    let key_b_id = app
        .admin_post(&format!("/partners/{b_id}/api-keys"), json!({}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let a = app
        .call(
            Method::DELETE,
            &format!("/partners/{a_id}/api-keys/{key_b_id}"),
            Some(&key_a),
            None,
        )
        .await;
    a.assert_error(404, "not_found");
    let a = app
        .call(
            Method::DELETE,
            &format!("/partners/{a_id}/api-keys/{second_id}"),
            Some(&key_a),
            None,
        )
        .await;
    a.assert_status(200);
}

async fn commission_snapshot_can_be_amended_and_removed(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("terms@example.com", false).await;
    let id = p["id"].as_str().unwrap();
    let path = format!("/partners/{id}/commission-snapshot");
    assert_eq!(
        app.admin_get(&path).await.assert_status(200),
        &json!({"snapshot": null})
    );
    let a = app
        .call(
            Method::PUT,
            &path,
            Some(&app.admin_key),
            Some(json!({"commissionType": "fixed", "commissionValue": "2.5"})),
        )
        .await;
    let s = &a.assert_status(200)["snapshot"];
    assert_eq!(s["commissionType"], "fixed");
    assert_eq!(s["commissionValue"], "2.50");
    assert_eq!(s["source"], "amendment");
    // Legacy fields without `recurring` are one `every` rule: recurring.
    assert_eq!(s["recurring"], true);
    assert_eq!(s["commissionRules"][0]["trigger"], "every");
    assert_eq!(
        app.admin_get(&path).await.body["snapshot"]["commissionValue"],
        "2.50"
    );
    let a = app
        .call(Method::DELETE, &path, Some(&app.admin_key), None)
        .await;
    assert_eq!(a.assert_status(200)["snapshot"], Value::Null);
    assert_eq!(app.admin_get(&path).await.body, json!({"snapshot": null}));
    app.admin_get("/partners/01NOPE/commission-snapshot")
        .await
        .assert_error(404, "not_found");
    let a = app
        .call(
            Method::PUT,
            &path,
            Some(&app.admin_key),
            Some(json!({"commissionType": "percent", "commissionValue": "150"})),
        )
        .await;
    a.assert_error(400, "invalid_body");
}

both_backends!(
    revoked_partner_link_is_refused_with_the_reason,
    a_partner_cannot_read_another,
    commission_snapshot_can_be_amended_and_removed,
);
