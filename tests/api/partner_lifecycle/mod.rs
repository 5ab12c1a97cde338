//! The partner lifecycle through magic links: invite → verify → session → read itself; token
//! reuse and expiry; revoke ending sessions and keys at once; reinstate; partner keys; BOLA;
//! commission snapshot amendments.

mod access;
mod sessions;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};
