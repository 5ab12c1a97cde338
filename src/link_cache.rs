//! The link cache's entries: link key → redirect target, held by the state so a redirect
//! costs no database round trip (`service::links` fills and clears it).

use std::sync::Arc;

use crate::cache::TtlCache;
use crate::db::links::LinkTarget;

/// Link key → redirect target (`None` caches an unknown key).
pub type LinkCache = TtlCache<String, Option<Arc<Resolved>>>;

/// A link ready to redirect: the destination split so the click id can be added cheaply.
#[derive(Debug)]
pub struct Resolved {
    pub target: LinkTarget,
    /// Destination up to (not including) any `#fragment`.
    base: String,
    /// `?` or `&`.
    sep: char,
    fragment: String,
}

impl Resolved {
    pub fn new(target: LinkTarget) -> Resolved {
        let (base, fragment) = match target.destination_url.split_once('#') {
            Some((b, f)) => (b.to_string(), format!("#{f}")),
            None => (target.destination_url.clone(), String::new()),
        };
        let sep = if base.contains('?') { '&' } else { '?' };
        Resolved {
            target,
            base,
            sep,
            fragment,
        }
    }

    /// The destination carrying `op_click=<click_id>`.
    pub fn location(&self, click_id: &str) -> String {
        let mut s =
            String::with_capacity(self.base.len() + self.fragment.len() + click_id.len() + 10);
        s.push_str(&self.base);
        s.push(self.sep);
        s.push_str("op_click=");
        s.push_str(click_id);
        s.push_str(&self.fragment);
        s
    }
}

/// An entry's approximate size in bytes, which bounds the link cache's memory.
#[allow(clippy::ptr_arg)] // the cache calls it with its key type
pub fn cache_weight(key: &String, value: &Option<Arc<Resolved>>) -> u64 {
    const OVERHEAD: usize = 128;
    let value = value.as_ref().map_or(0, |r| {
        std::mem::size_of::<Resolved>()
            + r.base.len()
            + r.fragment.len()
            + r.target.destination_url.len()
            + r.target.link_id.as_str().len()
            + 64
    });
    (OVERHEAD + key.len() + value) as u64
}
