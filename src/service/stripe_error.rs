//! Why a Stripe event could not be processed this time. The worker stores the error's text on
//! the event (`lastError`) and retries it with backoff until it gives up.

use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The payload lacks a field this version reads, or holds one it cannot use.
    #[error("{0}")]
    Payload(String),
    /// Storage failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Recording the sale, as `POST /events` records one, failed (its error code).
    #[error("recording the sale failed: {0}")]
    Sale(String),
    /// Reversing the commission failed (its error code).
    #[error("reversal failed: {0}")]
    Reversal(String),
    /// The commission changed under the reversal, or is gone.
    #[error("commission {0}")]
    Commission(String),
}

impl EventError {
    pub fn sale(e: ApiError) -> EventError {
        EventError::Sale(e.code().to_string())
    }

    pub fn reversal(e: ApiError) -> EventError {
        EventError::Reversal(e.code().to_string())
    }
}

/// A payload field missing or unusable, as a literal message.
impl From<&'static str> for EventError {
    fn from(message: &'static str) -> EventError {
        EventError::Payload(message.to_string())
    }
}
