//! What the OpenPartner Network says about this instance's vendor listing.

/// The listing's status (`network_connection.status`), as `GET /vendors/me` names it. The
/// Network owns this vocabulary: a status it adds later is kept as it came ([`Other`]) and
/// shown as it is, never refused.
///
/// [`Other`]: VendorStatus::Other
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VendorStatus {
    /// Awaiting the emailed verification (self-host connect).
    Pending,
    Active,
    /// Partner pushes wait until the Network lifts it.
    Suspended,
    Cancelled,
    Other(String),
}

impl VendorStatus {
    pub fn as_str(&self) -> &str {
        match self {
            VendorStatus::Pending => "pending",
            VendorStatus::Active => "active",
            VendorStatus::Suspended => "suspended",
            VendorStatus::Cancelled => "cancelled",
            VendorStatus::Other(s) => s,
        }
    }

    /// Total: a status this code does not know is [`VendorStatus::Other`].
    pub fn parse(s: &str) -> VendorStatus {
        match s {
            "pending" => VendorStatus::Pending,
            "active" => VendorStatus::Active,
            "suspended" => VendorStatus::Suspended,
            "cancelled" => VendorStatus::Cancelled,
            other => VendorStatus::Other(other.to_string()),
        }
    }
}

/// A partner push's state in the Network outbox (`network_outbox.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting for its (next) attempt; at most one per partner.
    Pending,
    Done,
    /// Gave up after the last backoff; an admin may retry it.
    Dead,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Done => "done",
            OutboxStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<OutboxStatus> {
        match s {
            "pending" => Some(OutboxStatus::Pending),
            "done" => Some(OutboxStatus::Done),
            "dead" => Some(OutboxStatus::Dead),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_it_does_not_know() {
        for s in ["pending", "active", "suspended", "cancelled", "paused"] {
            assert_eq!(VendorStatus::parse(s).as_str(), s);
        }
        assert_eq!(VendorStatus::parse("suspended"), VendorStatus::Suspended);
        for o in [
            OutboxStatus::Pending,
            OutboxStatus::Done,
            OutboxStatus::Dead,
        ] {
            assert_eq!(OutboxStatus::parse(o.as_str()), Some(o));
        }
    }
}
