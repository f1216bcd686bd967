//! Which pane has the keys, and moving within a list: what every pane's keys share.

/// The pane the keys act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Pipelines,
    Jobs,
    Detail,
    Log,
}

impl Focus {
    const ORDER: [Focus; 4] = [Focus::Pipelines, Focus::Jobs, Focus::Detail, Focus::Log];

    /// The next pane (Tab), or the one before (Shift-Tab).
    pub fn step(self, forward: bool) -> Focus {
        let i = Focus::ORDER.iter().position(|f| *f == self).unwrap_or(0);
        let n = Focus::ORDER.len();
        Focus::ORDER[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

/// `index` moved by `delta` within `0..count`.
pub fn moved(index: usize, delta: isize, count: usize) -> usize {
    if count == 0 {
        return 0;
    }
    index.saturating_add_signed(delta).min(count - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_saturates_at_both_ends() {
        assert_eq!(moved(0, -1, 5), 0);
        assert_eq!(moved(4, 1, 5), 4);
        assert_eq!(moved(2, isize::MIN, 5), 0);
        assert_eq!(moved(2, isize::MAX, 5), 4);
        assert_eq!(moved(3, 1, 0), 0);
    }

    #[test]
    fn focus_cycles_both_ways() {
        assert_eq!(Focus::Pipelines.step(true), Focus::Jobs);
        assert_eq!(Focus::Log.step(true), Focus::Pipelines);
        assert_eq!(Focus::Pipelines.step(false), Focus::Log);
    }
}
