//! Partners: create (validation, grants, snapshots, uniqueness under concurrency), list with
//! keyset pagination (stable under concurrent inserts), get, patch, and scope checks.

mod create;
mod list;

use std::collections::HashSet;

use openpartner::db;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};
