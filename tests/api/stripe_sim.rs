//! The Stripe simulator's wire, driven through our own client (`openpartner::stripe`) so both
//! sides are checked against Stripe's documented shapes: form fields with bracketed keys,
//! idempotency-key replay and `idempotency_error`, keys per secret key, a JSON body refused, a
//! wrong key 401, the balance running out, and the faults payouts rely on (a transfer created
//! and its answer lost: `stripe_sim_faults`). No database is involved, so these run once, not
//! per backend.

use openpartner::stripe::client::NewTransfer;
use openpartner::stripe::{StripeClient, StripeError};
use openpartner::stripe_sim::{SimOptions, StripeSim};

use crate::helpers::STRIPE_KEY;

pub(crate) async fn sim() -> (StripeSim, StripeClient) {
    let sim = StripeSim::start(
        "127.0.0.1:0".parse().unwrap(),
        SimOptions {
            secret_key: STRIPE_KEY.into(),
            webhook: None,
        },
    )
    .await
    .unwrap();
    let client = StripeClient::new(&sim.url, STRIPE_KEY);
    (sim, client)
}

#[track_caller]
pub(crate) fn refused(
    result: Result<impl std::fmt::Debug, StripeError>,
    status: u16,
    kind: &str,
    code: &str,
) -> String {
    // The payout worker reads an `idempotency_error` as "an earlier attempt may have
    // succeeded", never as a refusal; every other refusal is one.
    if let Err(e) = &result {
        assert_eq!(e.outcome_unknown(), kind == "idempotency_error", "{e}");
    }
    match result {
        Err(StripeError::Refused {
            status: s,
            kind: k,
            code: c,
            message,
        }) => {
            assert_eq!(
                (s, k.as_str(), c.as_str()),
                (status, kind, code),
                "{message}"
            );
            message
        }
        other => panic!("expected a {status} {kind}/{code} refusal, got {other:?}"),
    }
}

pub(crate) fn transfer<'a>(
    amount: i64,
    destination: &'a str,
    payout: &'a str,
    key: &'a str,
) -> NewTransfer<'a> {
    NewTransfer {
        amount,
        currency: "USD",
        destination,
        payout_id: payout,
        idempotency_key: key,
    }
}

/// An onboarded account: created, then its link visited.
pub(crate) async fn onboarded(sim: &StripeSim, client: &StripeClient, email: &str) -> String {
    let account = client
        .create_account(email, "p1", &format!("acct_{email}"))
        .await
        .unwrap();
    let link = client
        .create_account_link(
            &account.id,
            "https://brand.example/again",
            "https://brand.example/done",
        )
        .await
        .unwrap();
    let res = no_redirects().get(&link.url).send().await.unwrap();
    assert_eq!(res.headers()["location"], "https://brand.example/done");
    assert!(sim.account(&account.id).unwrap().payouts_enabled);
    account.id
}

pub(crate) fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn accounts_and_links_on_stripes_wire() {
    let (sim, client) = sim().await;
    let account = client
        .create_account("Ann@Example.com", "p_1", "connect_p_1")
        .await
        .unwrap();
    assert!(account.id.starts_with("acct_"), "{}", account.id);
    assert!(!account.details_submitted && !account.payouts_enabled);
    let sent = sim.requests_to("POST", "/v1/accounts");
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(
        r.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert!(
        !r.headers.contains_key("authorization"),
        "the secret key is never recorded"
    );
    assert!(r.authenticated);
    assert_eq!(r.idempotency_key.as_deref(), Some("connect_p_1"));
    let form: Vec<(&str, &str)> = r
        .form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        form,
        [
            ("type", "express"),
            ("email", "Ann@Example.com"),
            ("capabilities[transfers][requested]", "true"),
            ("metadata[partner_id]", "p_1")
        ]
    );
    // A replay answers the first account and makes none; other parameters are refused.
    let again = client
        .create_account("Ann@Example.com", "p_1", "connect_p_1")
        .await
        .unwrap();
    assert_eq!(again.id, account.id);
    assert_eq!(sim.accounts().len(), 1);
    let m = refused(
        client
            .create_account("other@example.com", "p_1", "connect_p_1")
            .await,
        400,
        "idempotency_error",
        "",
    );
    assert!(m.contains("same parameters"), "{m}");
    assert_eq!(sim.accounts().len(), 1);
    assert_eq!(
        sim.account(&account.id).unwrap().capabilities["transfers"],
        "inactive"
    );

    let read = client.get_account(&account.id).await.unwrap();
    assert_eq!(
        (read.id.as_str(), read.payouts_enabled),
        (account.id.as_str(), false)
    );
    let m = refused(
        client.get_account("acct_nobody").await,
        404,
        "invalid_request_error",
        "resource_missing",
    );
    assert!(m.contains("acct_nobody"), "{m}");

    let link = client
        .create_account_link(
            &account.id,
            "https://brand.example/again",
            "https://brand.example/done",
        )
        .await
        .unwrap();
    assert!(
        link.url.starts_with(&format!("{}/_sim/onboard/", sim.url)),
        "{}",
        link.url
    );
    let now = chrono::Utc::now().timestamp();
    assert!(
        (now + 250..=now + 310).contains(&link.expires_at),
        "{}",
        link.expires_at
    );
    let sent = &sim.requests_to("POST", "/v1/account_links")[0];
    for (k, v) in [
        ("account", account.id.as_str()),
        ("refresh_url", "https://brand.example/again"),
        ("return_url", "https://brand.example/done"),
        ("type", "account_onboarding"),
    ] {
        assert_eq!(sent.field(k), Some(v), "{k}");
    }
    refused(
        client
            .create_account_link("acct_nobody", "https://a.example", "https://b.example")
            .await,
        400,
        "invalid_request_error",
        "resource_missing",
    );

    // The link completes onboarding once; a used or expired link goes to refresh_url.
    let visit = no_redirects().get(&link.url).send().await.unwrap();
    assert_eq!(visit.status(), 302);
    assert_eq!(visit.headers()["location"], "https://brand.example/done");
    let read = client.get_account(&account.id).await.unwrap();
    assert!(read.details_submitted && read.payouts_enabled);
    let visit = no_redirects().get(&link.url).send().await.unwrap();
    assert_eq!(visit.headers()["location"], "https://brand.example/again");
    let fresh = client
        .create_account_link(
            &account.id,
            "https://brand.example/again",
            "https://brand.example/done",
        )
        .await
        .unwrap();
    sim.expire_links();
    let visit = no_redirects().get(&fresh.url).send().await.unwrap();
    assert_eq!(visit.headers()["location"], "https://brand.example/again");

    // A wrong key is a 401 that never echoes the key.
    let wrong = StripeClient::new(&sim.url, "sk_test_wrong_key_123456");
    let m = refused(
        wrong.get_account(&account.id).await,
        401,
        "invalid_request_error",
        "",
    );
    assert!(
        m.contains("Invalid API Key") && !m.contains("sk_test_wrong_key_123456"),
        "{m}"
    );
    assert!(!sim.requests().last().unwrap().authenticated);
}

#[tokio::test]
async fn transfers_draw_down_the_balance_once_per_idempotency_key() {
    let (sim, client) = sim().await;
    let pending = client
        .create_account("new@example.com", "p2", "connect_p2")
        .await
        .unwrap();
    let m = refused(
        client
            .create_transfer(&transfer(100, &pending.id, "po_0", "payout_po_0"))
            .await,
        400,
        "invalid_request_error",
        "insufficient_capabilities_for_transfer",
    );
    assert!(m.contains("transfers"), "{m}");
    let acct = onboarded(&sim, &client, "paid@example.com").await;

    refused(
        client
            .create_transfer(&transfer(2_500, &acct, "po_1", "payout_po_1"))
            .await,
        400,
        "invalid_request_error",
        "balance_insufficient",
    );
    // The refusal ran, so it is the key's answer until the key expires (Stripe's rule): a
    // retry with the same key replays it even once funds arrive.
    sim.set_balance("USD", 10_000);
    refused(
        client
            .create_transfer(&transfer(2_500, &acct, "po_1", "payout_po_1"))
            .await,
        400,
        "invalid_request_error",
        "balance_insufficient",
    );

    let t = client
        .create_transfer(&transfer(2_500, &acct, "po_2", "payout_po_2"))
        .await
        .unwrap();
    assert!(t.id.starts_with("tr_"));
    assert_eq!(
        (t.amount, t.currency.as_str(), t.destination.as_deref()),
        (2_500, "usd", Some(acct.as_str()))
    );
    assert_eq!(sim.balance("usd"), 7_500);
    let sent = sim.requests_to("POST", "/v1/transfers").pop().unwrap();
    let form: Vec<(&str, &str)> = sent
        .form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        form,
        [
            ("amount", "2500"),
            ("currency", "usd"),
            ("destination", acct.as_str()),
            ("transfer_group", "po_2"),
            ("metadata[payout_id]", "po_2")
        ]
    );
    assert_eq!(sent.idempotency_key.as_deref(), Some("payout_po_2"));
    let stored = sim.transfers().pop().unwrap();
    assert_eq!(stored.transfer_group.as_deref(), Some("po_2"));
    assert_eq!(stored.metadata["payout_id"], "po_2");

    // Replay: same answer, nothing new; other parameters under the key: idempotency_error.
    let replay = client
        .create_transfer(&transfer(2_500, &acct, "po_2", "payout_po_2"))
        .await
        .unwrap();
    assert_eq!(replay.id, t.id);
    refused(
        client
            .create_transfer(&transfer(2_600, &acct, "po_2", "payout_po_2"))
            .await,
        400,
        "idempotency_error",
        "",
    );
    assert_eq!((sim.transfers().len(), sim.balance("usd")), (1, 7_500));

    // Keys are per secret key: the same key under another secret key is another request.
    sim.add_secret_key("sk_test_second");
    let other = StripeClient::new(&sim.url, "sk_test_second");
    let t2 = other
        .create_transfer(&transfer(2_500, &acct, "po_2", "payout_po_2"))
        .await
        .unwrap();
    assert_ne!(t2.id, t.id);
    assert_eq!((sim.transfers().len(), sim.balance("usd")), (2, 5_000));

    // A validation refusal saves nothing under its key.
    refused(
        client
            .create_transfer(&transfer(0, &acct, "po_3", "payout_po_3"))
            .await,
        400,
        "invalid_request_error",
        "amount_too_small",
    );
    client
        .create_transfer(&transfer(1_000, &acct, "po_3", "payout_po_3"))
        .await
        .unwrap();
    assert_eq!(sim.balance("usd"), 4_000);
}
