//! Parse-don't-validate types shared by every layer: ids, timestamps, scopes, secrets.

pub mod ids;
pub mod scopes;
pub mod time;
pub mod tokens;
