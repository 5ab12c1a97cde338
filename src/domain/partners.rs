//! Where a partner came from, and who granted its programs: stored as text, typed here.

/// How a partner arrived (`partners.source`; `metadata.source` when pushed to the Network).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerSource {
    AdminInvite,
    SelfSignup,
    /// Came from the OpenPartner Network (a marketplace application or a federated push).
    Network,
}

impl PartnerSource {
    pub const ALL: [PartnerSource; 3] = [
        PartnerSource::AdminInvite,
        PartnerSource::SelfSignup,
        PartnerSource::Network,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PartnerSource::AdminInvite => "admin_invite",
            PartnerSource::SelfSignup => "self_signup",
            PartnerSource::Network => "openpartner_network",
        }
    }

    pub fn parse(s: &str) -> Option<PartnerSource> {
        PartnerSource::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Who granted a partner its programs (`partners.campaign_grant_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GrantSource {
    /// The brand's admin (the default).
    #[default]
    Admin,
    /// A Network offering the partner applied to.
    Offering,
}

impl GrantSource {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantSource::Admin => "admin",
            GrantSource::Offering => "offering",
        }
    }

    pub fn parse(s: &str) -> Option<GrantSource> {
        match s {
            "admin" => Some(GrantSource::Admin),
            "offering" => Some(GrantSource::Offering),
            _ => None,
        }
    }
}

/// How a self-signup starts (the `partner_signup` setting's `policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignupApproval {
    /// The partner is active at once (the default).
    #[default]
    AutoApprove,
    /// The partner waits in `pending_review` until the brand approves it.
    RequireReview,
}

impl SignupApproval {
    pub fn as_str(self) -> &'static str {
        match self {
            SignupApproval::AutoApprove => "auto_approve",
            SignupApproval::RequireReview => "require_review",
        }
    }

    pub fn parse(s: &str) -> Option<SignupApproval> {
        match s {
            "auto_approve" => Some(SignupApproval::AutoApprove),
            "require_review" => Some(SignupApproval::RequireReview),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in PartnerSource::ALL {
            assert_eq!(PartnerSource::parse(s.as_str()), Some(s));
        }
        for g in [GrantSource::Admin, GrantSource::Offering] {
            assert_eq!(GrantSource::parse(g.as_str()), Some(g));
        }
        assert_eq!(PartnerSource::parse("backfill"), None);
        for a in [SignupApproval::AutoApprove, SignupApproval::RequireReview] {
            assert_eq!(SignupApproval::parse(a.as_str()), Some(a));
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.as_str()));
        }
    }
}
