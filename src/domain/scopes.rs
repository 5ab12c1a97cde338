//! API key scopes: the closed list a scoped key may carry, as a compact bit set.

use std::fmt;

/// One scope. The wire names are a public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    PartnersRead,
    PartnersWrite,
    LinksRead,
    LinksWrite,
    CommissionsRead,
    ClicksWrite,
    EventsWrite,
}

impl Scope {
    pub const ALL: [Scope; 7] = [
        Scope::PartnersRead,
        Scope::PartnersWrite,
        Scope::LinksRead,
        Scope::LinksWrite,
        Scope::CommissionsRead,
        Scope::ClicksWrite,
        Scope::EventsWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::PartnersRead => "partners:read",
            Scope::PartnersWrite => "partners:write",
            Scope::LinksRead => "links:read",
            Scope::LinksWrite => "links:write",
            Scope::CommissionsRead => "commissions:read",
            Scope::ClicksWrite => "clicks:write",
            Scope::EventsWrite => "events:write",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ScopeSet(u16);

impl ScopeSet {
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn insert(&mut self, scope: Scope) {
        self.0 |= scope.bit();
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Scope::as_str).collect()
    }

    /// Space-separated, as stored.
    pub fn to_storage(self) -> String {
        self.names().join(" ")
    }

    /// Parses the stored form; unknown names (from a newer version) are ignored.
    pub fn from_storage(s: &str) -> ScopeSet {
        s.split_whitespace().filter_map(Scope::parse).collect()
    }

    /// Parses names given by a client: every name must be known. Returns the unknown ones.
    pub fn parse_all<'a>(
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<ScopeSet, Vec<String>> {
        let mut set = ScopeSet::default();
        let mut unknown = Vec::new();
        for name in names {
            match Scope::parse(name) {
                Some(s) => set.insert(s),
                None => unknown.push(name.to_string()),
            }
        }
        if unknown.is_empty() {
            Ok(set)
        } else {
            Err(unknown)
        }
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = ScopeSet::default();
        for s in iter {
            set.insert(s);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_round_trip() {
        let set: ScopeSet = [Scope::LinksWrite, Scope::PartnersRead]
            .into_iter()
            .collect();
        assert_eq!(set.to_storage(), "partners:read links:write");
        assert_eq!(ScopeSet::from_storage(&set.to_storage()), set);
    }

    #[test]
    fn parse_all_reports_unknown() {
        assert_eq!(
            ScopeSet::parse_all(["partners:read", "root"]).unwrap_err(),
            vec!["root".to_string()]
        );
    }
}
