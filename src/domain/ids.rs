//! Typed ids. Every id is text (a ULID, or a ULID behind a prefix such as `cmp_`), and each
//! kind has its own type so a partner id can never be passed where a key id is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $prefix:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String)]
        pub struct $name(String);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                $name(format!("{}{}", $prefix, ulid::Ulid::new()))
            }

            /// Wraps an id read from storage or a path; unknown ids simply match nothing.
            pub fn from_string(s: impl Into<String>) -> Self {
                $name(s.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_id!(
    /// An API key's id (ULID).
    ApiKeyId, ""
);
text_id!(
    /// A partner's id (ULID).
    PartnerId, ""
);
text_id!(
    /// A program (campaign) id: `cmp_<ulid>`, or `cmp_default`.
    ProgramId, "cmp_"
);
text_id!(
    /// A partner session's id (ULID).
    SessionId, ""
);
text_id!(
    /// A tracking link's id (ULID).
    LinkId, ""
);
text_id!(
    /// A click's id (ULID): the `op_click` a redirect hands the brand's site.
    ClickId, ""
);
text_id!(
    /// A commission's id (ULID).
    CommissionId, ""
);
text_id!(
    /// A conversion event's id (ULID): a row of `events`, which a commission points to.
    EventId, ""
);
text_id!(
    /// An outgoing mail's id (ULID).
    MailId, ""
);
