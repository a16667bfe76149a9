//! Lists of viewers from the live view: filtered by status, content and a piece of the viewer
//! id, ordered by the last event or by arrival, a page at a time. One pass over the view and a
//! partial sort: the cost of a page does not grow with the page number's distance from the top
//! beyond that pass.

use super::{Live, Viewer};
use std::cmp::Ordering;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Newest last event first.
    #[default]
    Recent,
    /// First seen first: a viewer keeps its place while it stays.
    Arrival,
}

#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Inactive viewers too.
    pub all: bool,
    /// Any of these statuses (none: every status).
    pub statuses: Vec<String>,
    /// This content key (media id, else label).
    pub content: Option<String>,
    /// A piece of the viewer id, in any case.
    pub search: Option<String>,
    pub order: Order,
    pub offset: usize,
    pub limit: usize,
}

pub struct Page {
    /// Viewers matching the query, before the page was cut.
    pub total: usize,
    pub viewers: Vec<Arc<Viewer>>,
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

impl Query {
    fn matches(&self, v: &Viewer, cutoff: i64) -> bool {
        (self.all || v.last_seen >= cutoff)
            && (self.statuses.is_empty() || v.status.as_ref().is_some_and(|s| self.statuses.iter().any(|w| w == s)))
            && self.content.as_deref().is_none_or(|c| v.media_key.as_deref() == Some(c))
            && self.search.as_deref().is_none_or(|s| contains_ignore_case(&v.viewer_id, s))
    }

    fn compare(&self, a: &Viewer, b: &Viewer) -> Ordering {
        match self.order {
            Order::Recent => b.last_seen.cmp(&a.last_seen),
            Order::Arrival => a.first_seen.cmp(&b.first_seen),
        }
        .then_with(|| a.viewer_id.cmp(&b.viewer_id))
    }
}

impl Live {
    pub fn query(&self, q: &Query) -> Page {
        let cutoff = self.now_ms() - self.active_window_ms;
        let mut matched: Vec<Arc<Viewer>> =
            self.viewers.read().expect("live view").values().filter(|v| q.matches(v, cutoff)).cloned().collect();
        let total = matched.len();
        let end = q.offset.saturating_add(q.limit).min(total);
        if end < total && end > 0 {
            matched.select_nth_unstable_by(end - 1, |a, b| q.compare(a, b));
            matched.truncate(end);
        }
        matched.sort_unstable_by(|a, b| q.compare(a, b));
        let viewers = matched.into_iter().skip(q.offset).take(q.limit).collect();
        Page { total, viewers }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Clock, ProfileState};

    fn state(v: &str, first: i64, last: i64) -> ProfileState {
        let mut s = ProfileState::new(v);
        s.first_seen = Some(first);
        s.last_seen = Some(last);
        s.revision = 1;
        s
    }

    #[test]
    fn pages_in_either_order_with_a_search() {
        let live = Live::new(1000, Clock::Stream, 100);
        let states: Vec<_> = (0..10).map(|i| state(&format!("Viewer-{i}"), 100 - i, 1000 + i)).collect();
        live.apply_states(&states);
        let ids = |p: Page| p.viewers.iter().map(|v| v.viewer_id.clone()).collect::<Vec<_>>();
        let q = Query { limit: 3, offset: 1, ..Query::default() };
        assert_eq!(ids(live.query(&q)), ["Viewer-8", "Viewer-7", "Viewer-6"]);
        let q = Query { limit: 2, order: Order::Arrival, ..Query::default() };
        let page = live.query(&q);
        assert_eq!(page.total, 10);
        assert_eq!(ids(page), ["Viewer-9", "Viewer-8"]);
        let q = Query { limit: 5, search: Some("viewer-3".into()), ..Query::default() };
        assert_eq!(ids(live.query(&q)), ["Viewer-3"]);
        let q = Query { limit: 5, offset: 20, ..Query::default() };
        assert!(live.query(&q).viewers.is_empty());
    }
}
