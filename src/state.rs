//! The state every handler and job shares. Cheap to clone (everything behind `Arc`).

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::db::Db;
use crate::principal::Authenticator;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub clock: SharedClock,
    pub auth: Arc<Authenticator>,
}
