//! The simulator refuses what Stripe refuses, in Stripe's shape, and loses answers as networks
//! do: the faults the payouts rail is tested with, seen through our client.

use openpartner::stripe::client::NewTransfer;
use openpartner::stripe_sim::{Fault, StripeSim};
use serde_json::{Value, json};

use crate::helpers::STRIPE_KEY;
use crate::stripe_sim::{onboarded, refused, sim};

async fn raw_post(sim: &StripeSim, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}{path}", sim.url))
        .bearer_auth(STRIPE_KEY)
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn bodies_other_than_stripes_are_refused_in_stripes_shape() {
    let (sim, client) = sim().await;
    let acct = onboarded(&sim, &client, "x@example.com").await;
    sim.set_balance("usd", 1_000_000);
    let json_body = json!({"amount": 100, "currency": "usd", "destination": acct}).to_string();
    let (status, body) = raw_post(&sim, "/v1/transfers", "application/json", &json_body).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("application/x-www-form-urlencoded"),
        "{body}"
    );
    let form = "application/x-www-form-urlencoded";
    let (status, body) = raw_post(
        &sim,
        "/v1/transfers",
        form,
        &format!("amount=100&currency=usd&destination={acct}&tip=1"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        json!({"type": "invalid_request_error", "code": "parameter_unknown", "param": "tip",
        "message": "Received unknown parameter: tip", "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown"})
    );
    let (_, body) = raw_post(
        &sim,
        "/v1/transfers",
        form,
        &format!("currency=usd&destination={acct}"),
    )
    .await;
    assert_eq!(
        (
            body["error"]["code"].as_str(),
            body["error"]["param"].as_str()
        ),
        (Some("parameter_missing"), Some("amount"))
    );
    let (_, body) = raw_post(
        &sim,
        "/v1/accounts",
        form,
        "type=express&capabilities[transfers][wanted]=true",
    )
    .await;
    assert_eq!(body["error"]["param"], "capabilities[transfers][wanted]");
    let (_, body) = raw_post(
        &sim,
        "/v1/transfers",
        form,
        &format!("amount=ten&currency=usd&destination={acct}"),
    )
    .await;
    assert_eq!(body["error"]["code"], "parameter_invalid_integer");
    assert!(sim.transfers().is_empty());
    // No key at all: 401 in Stripe's shape.
    let res = reqwest::Client::new()
        .get(format!("{}/v1/accounts/{acct}", sim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("You did not provide an API key")
    );
}

#[tokio::test]
async fn faults_lose_answers_as_networks_do() {
    let (sim, client) = sim().await;
    let acct = onboarded(&sim, &client, "f@example.com").await;
    sim.set_balance("eur", 50_000);
    let eur = |amount, payout: &'static str, key: &'static str| NewTransfer {
        amount,
        currency: "EUR",
        destination: "",
        payout_id: payout,
        idempotency_key: key,
    };

    // The transfer is made, the connection dropped before any answer: a transport error.
    sim.inject(Fault {
        count: 1,
        path: Some("/v1/transfers".into()),
        drop_after_processing: true,
        ..Default::default()
    });
    let lost = client
        .create_transfer(&NewTransfer {
            destination: &acct,
            ..eur(1_000, "po_9", "payout_po_9")
        })
        .await;
    assert!(matches!(&lost, Err(e) if e.is_transient()), "{lost:?}");
    assert_eq!(sim.transfers().len(), 1);
    // The retry with the same key gets the transfer that exists; nothing is paid twice.
    let t = client
        .create_transfer(&NewTransfer {
            destination: &acct,
            ..eur(1_000, "po_9", "payout_po_9")
        })
        .await
        .unwrap();
    assert_eq!(t.id, sim.transfers()[0].id);
    assert_eq!((sim.transfers().len(), sim.balance("eur")), (1, 49_000));

    // Dropped before the call: nothing made.
    sim.inject(Fault {
        count: 1,
        path: Some("/v1/transfers".into()),
        drop: true,
        ..Default::default()
    });
    let lost = client
        .create_transfer(&NewTransfer {
            destination: &acct,
            ..eur(500, "po_10", "payout_po_10")
        })
        .await;
    assert!(matches!(&lost, Err(e) if e.is_transient()), "{lost:?}");
    assert_eq!(sim.transfers().len(), 1);

    // An injected 5xx is transient, an injected 4xx a refusal; neither runs the call.
    sim.inject(Fault {
        count: 1,
        path: Some("/v1/transfers".into()),
        status: Some(503),
        ..Default::default()
    });
    let r = client
        .create_transfer(&NewTransfer {
            destination: &acct,
            ..eur(500, "po_10", "payout_po_10")
        })
        .await;
    assert!(matches!(&r, Err(e) if e.is_transient()), "{r:?}");
    sim.inject(Fault {
        count: 1,
        path: Some("/v1/transfers".into()),
        status: Some(402),
        body: Some(r#"{"error":{"type":"invalid_request_error","code":"account_closed","message":"closed"}}"#.into()),
        ..Default::default()
    });
    refused(
        client
            .create_transfer(&NewTransfer {
                destination: &acct,
                ..eur(500, "po_10", "payout_po_10")
            })
            .await,
        402,
        "invalid_request_error",
        "account_closed",
    );
    assert_eq!(sim.transfers().len(), 1);
    client
        .create_transfer(&NewTransfer {
            destination: &acct,
            ..eur(500, "po_10", "payout_po_10")
        })
        .await
        .unwrap();
    assert_eq!(sim.balance("eur"), 48_500);
}
