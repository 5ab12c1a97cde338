//! What the Network answers the marketplace calls, as we pass it on. Each view names the
//! fields we know (their types are what the document promises) and keeps every other field
//! the Network sends (`additionalProperties`), so a Network that adds fields is passed on
//! whole, and a field sent as `null` stays `null`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::network::client::kept;

/// `{requests: [...]}`.
#[derive(Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestsView {
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Vec<NetworkRequest>>)]
    requests: Option<Value>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// A creator's application to one of the brand's offerings.
#[derive(Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRequest {
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    id: Option<Value>,
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    vendor_id: Option<Value>,
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    offering_id: Option<Value>,
    /// The program the offering publishes.
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    vendor_program_id: Option<Value>,
    /// `pending`, `approved` or `rejected`.
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    status: Option<Value>,
    /// The creator's note.
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    message: Option<Value>,
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    decision_note: Option<Value>,
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<RequestCreator>)]
    creator: Option<Value>,
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    created_at: Option<Value>,
    /// Once approved: the partner federated into this instance.
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    partner_id: Option<Value>,
    /// Once approved: the partner's link key.
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    link_key: Option<Value>,
    /// Once approved: the partner's share URL.
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    share_url: Option<Value>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// The applicant (documentation of a request's `creator`).
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RequestCreator {
    /// The Network's creator id.
    id: Option<String>,
    email: Option<String>,
    name: Option<String>,
    /// `@handle`.
    handle: Option<String>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// `{creators: [...]}`, and whatever else the Network adds (such as the query it read).
#[derive(Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiscoverView {
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Vec<DiscoveredCreator>>)]
    creators: Option<Value>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// A creator found on the Network (documentation of `creators`).
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DiscoveredCreator {
    /// The id to invite (`creatorId`).
    id: Option<String>,
    name: Option<String>,
    handle: Option<String>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// The invitation the Network recorded (or refreshed, for a creator already invited).
#[derive(Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationView {
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<bool>)]
    ok: Option<Value>,
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    id: Option<Value>,
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    offering_id: Option<Value>,
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    creator_id: Option<Value>,
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    message: Option<Value>,
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    status: Option<Value>,
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    created_at: Option<Value>,
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    expires_at: Option<Value>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// `{offerings: [...]}`.
#[derive(Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OfferingsView {
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Vec<NetworkOffering>>)]
    offerings: Option<Value>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// A program as published on the Network (documentation of `offerings`).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct NetworkOffering {
    id: Option<String>,
    vendor_id: Option<String>,
    title: Option<String>,
    description: Option<String>,
    product_url: Option<String>,
    /// The program's id here.
    vendor_program_id: Option<String>,
    /// The commission terms as published.
    #[schema(value_type = Option<Object>)]
    terms: Option<Value>,
    published: Option<bool>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}
