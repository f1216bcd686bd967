//! Names and checkouts held once and shared by every run, job and log entry that shows them,
//! and the cleaning every text from the network goes through before it is kept.

use super::context::Checkout;
use std::sync::Arc;

/// Checkouts read back from a saved monitor, each distinct list kept once, as runs and the log
/// entries of their events share them while events are applied.
#[derive(Default)]
pub(crate) struct Checkouts(foldhash::HashSet<Arc<[Checkout]>>);

impl Checkouts {
    pub fn share(&mut self, checkouts: &Arc<[Checkout]>) -> Arc<[Checkout]> {
        if let Some(known) = self.0.get(&**checkouts) {
            return Arc::clone(known);
        }
        self.0.insert(Arc::clone(checkouts));
        Arc::clone(checkouts)
    }
}

/// Whether two names read the same. Names come from [`Names`], so equal ones are mostly the
/// same allocation: comparing the pointers first spares reading the text.
pub(super) fn same(a: Option<&Arc<str>>, b: Option<&Arc<str>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
        (a, b) => a.is_none() && b.is_none(),
    }
}

/// Shares the `Arc<str>` of names seen before, so a thousand runs of "Java Build" hold one
/// copy. Bounded: once full it stops remembering, and later names are simply not shared.
///
/// Hashed with foldhash rather than SipHash: five names are looked up for every event, and the
/// bound caps what keys chosen to collide could cost at a few thousand comparisons.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    set: foldhash::HashSet<Arc<str>>,
    max_chars: usize,
}

impl Names {
    const CAPACITY: usize = 4096;

    pub fn new(max_chars: usize) -> Names {
        Names {
            set: foldhash::HashSet::default(),
            max_chars,
        }
    }

    /// The raw text is looked up before it is cleaned: every name kept is already clean and
    /// within `max_chars`, and cleaning such text returns it unchanged, so a hit on the raw
    /// text is the name cleaning would have found. Only new or unsafe text pays for cleaning.
    pub fn get(&mut self, raw: &str) -> Arc<str> {
        if let Some(known) = self.set.get(raw) {
            return known.clone();
        }
        let clean = crate::text::clean(raw, self.max_chars);
        if let Some(known) = self.set.get(clean.as_ref()) {
            return known.clone();
        }
        let name: Arc<str> = Arc::from(clean.as_ref());
        if self.set.len() < Self::CAPACITY {
            self.set.insert(name.clone());
        }
        name
    }

    /// Replaces `name` with the copy this set shares, if it has one or can take it.
    pub fn share(&mut self, name: &mut Option<Arc<str>>) {
        if let Some(name) = name {
            *name = self.get(name);
        }
    }
}
