//! URLs as they may be shown where secrets may not: audit rows.

/// `url` without what commonly carries a credential: the userinfo (`user:pass@`) and the
/// query's values (`?token=…`) become `***`. A URL that does not parse is replaced whole.
pub fn for_audit(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return "***".into();
    };
    if !u.username().is_empty() || u.password().is_some() {
        let _ = u.set_username("***");
        let _ = u.set_password(None);
    }
    if u.query().is_some() {
        let keys: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
        u.query_pairs_mut()
            .clear()
            .extend_pairs(keys.iter().map(|k| (k.as_str(), "***")));
    }
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::for_audit;

    #[test]
    fn credentials_and_query_values_are_hidden() {
        assert_eq!(
            for_audit("https://bob:s3cret@hooks.example.com/in?token=abc&x=1"),
            "https://***@hooks.example.com/in?token=***&x=***"
        );
        assert_eq!(
            for_audit("https://hooks.example.com/in"),
            "https://hooks.example.com/in"
        );
        assert_eq!(for_audit("not a url"), "***");
    }
}
