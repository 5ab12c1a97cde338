//! The mail outbox's vocabulary.

/// A message's state in the mail outbox (`mail_outbox.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailStatus {
    /// Waiting for its (next) attempt.
    Pending,
    Sent,
    /// Gave up after the last backoff; an admin may retry it.
    Dead,
}

impl MailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Pending => "pending",
            MailStatus::Sent => "sent",
            MailStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<MailStatus> {
        match s {
            "pending" => Some(MailStatus::Pending),
            "sent" => Some(MailStatus::Sent),
            "dead" => Some(MailStatus::Dead),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in [MailStatus::Pending, MailStatus::Sent, MailStatus::Dead] {
            assert_eq!(MailStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(MailStatus::parse("done"), None);
    }
}
