//! The duplicate and replay guard.
//!
//! Gitee's signature covers the timestamp, not the body, and nothing is documented about
//! retries. So every delivery that carries `X-Gitee-Timestamp` gets a fingerprint: a hash of
//! (timestamp, token, body), and in signature mode a hash of the (timestamp, token) pair, the
//! token taken as verified, so that all its spellings are one pair.
//! - The same fingerprint again is a redelivery: answered as a duplicate of the first id, never
//!   stored or shown twice.
//! - In signature mode, the same pair with another body is a captured token replayed with a
//!   forged body: refused.
//!
//! Without a timestamp there is nothing to tell a redelivery from a new event with the same
//! body, so such deliveries get no fingerprint and are always new. Fingerprints are kept for two
//! tolerance windows from when they were seen (a timestamp may be a whole window in the future
//! and still be valid for another window), and never more than [`Guard::MAX_ENTRIES`], so memory
//! stays bounded however fast deliveries come.

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest as _, Sha256};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// What identifies one delivery, and in signature mode its (timestamp, token) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    pub delivery: Digest,
    pub pair: Option<Digest>,
}

impl Fingerprint {
    /// The fingerprint of a request, or `None` when it has no timestamp. `signed` says the token
    /// was a verified signature, so its pair must not come again with another body.
    ///
    /// `token` is the token as the verifier read it ([`crate::gitee::Verified::token`]), never as
    /// sent: a signature can be spelled many ways (`%2F` or `%2f` for `/`, any character as
    /// `%XX`), and each spelling must be the same pair. Without verification the token is taken
    /// as sent, since nothing reads it: it only tells a redelivery, which repeats its bytes,
    /// from another request.
    pub fn of(
        timestamp: Option<&str>,
        token: Option<&str>,
        body: &[u8],
        signed: bool,
    ) -> Option<Fingerprint> {
        let timestamp = timestamp.map(str::trim).filter(|t| !t.is_empty())?;
        let token = token.map(str::trim).unwrap_or_default();
        // Lengths first, so no (timestamp, token) split can collide with another.
        let mut pair = Sha256::new();
        pair.update((timestamp.len() as u64).to_le_bytes());
        pair.update(timestamp.as_bytes());
        pair.update((token.len() as u64).to_le_bytes());
        pair.update(token.as_bytes());
        let mut delivery = pair.clone();
        delivery.update(body);
        Some(Fingerprint {
            delivery: delivery.finalize().into(),
            pair: signed.then(|| pair.finalize().into()),
        })
    }
}

/// Lowercase hex, as the journal stores digests.
pub fn hex(digest: &Digest) -> String {
    // By table rather than `write!`: this runs for every journaled delivery.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// The digest that [`hex`] wrote, if `text` is one.
pub fn from_hex(text: &str) -> Option<Digest> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// What the guard says about a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    New,
    /// Seen before, stored with this id.
    Duplicate(u64),
    /// A signature seen before with another body.
    Replayed,
}

/// What the guard keeps of a digest: its first 64 bits. Stumbling on two deliveries that
/// share them takes some 2^32 deliveries within one window, and making one on purpose some 2^64
/// hashes, so the short key tells deliveries apart as well as the whole digest would, in a
/// third of the memory and with fewer cache misses on every request.
type Key = u64;

fn key(digest: &Digest) -> Key {
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    Key::from_le_bytes(first)
}

/// A [`Fingerprint`] as the guard keeps it.
#[derive(Debug, Clone, Copy)]
struct Keys {
    delivery: Key,
    pair: Option<Key>,
}

impl From<&Fingerprint> for Keys {
    fn from(fingerprint: &Fingerprint) -> Keys {
        Keys {
            delivery: key(&fingerprint.delivery),
            pair: fingerprint.pair.as_ref().map(key),
        }
    }
}

/// Keys are hashed with foldhash rather than SipHash: several times faster, and its random seed
/// still keeps anyone who chooses bodies from steering keys into one bucket.
type Map<V> = HashMap<Key, V, foldhash::fast::RandomState>;

/// The fingerprints seen within the window.
#[derive(Debug)]
pub struct Guard {
    keep: TimeDelta,
    deliveries: Map<(u64, DateTime<Utc>)>,
    /// Each pair's delivery key.
    pairs: Map<(Key, DateTime<Utc>)>,
    /// In the order seen, for pruning; an entry whose map value has another time was forgotten
    /// or seen again, and pruning it leaves the map alone.
    order: VecDeque<(DateTime<Utc>, Keys)>,
}

impl Guard {
    /// Far more than Gitee sends within any sane window (50 deliveries a second for the default
    /// ten minutes kept); a bound on memory (about 4 MB, some 80 bytes an entry) all the same,
    /// when verification is off and anyone may post.
    pub const MAX_ENTRIES: usize = 50_000;

    /// A guard for timestamps that may be `window` away from now, either way.
    pub fn new(window: Duration) -> Guard {
        let keep = TimeDelta::from_std(window.saturating_mul(2)).unwrap_or(TimeDelta::MAX);
        Guard {
            keep,
            deliveries: Map::default(),
            pairs: Map::default(),
            order: VecDeque::new(),
        }
    }

    /// Where reading the journal back on start may stop ([`Journal::open`]'s `since`), for a
    /// guard of `window` and requests whose body may take `body_timeout` to arrive.
    ///
    /// A pair can be replayed while its timestamp is within `window` of now, and was accepted
    /// only with its timestamp within `window` of its arrival stamp (the receiver verifies at
    /// that very instant), so every pair still usable arrived within two windows of now: those
    /// must come back. Reading stops at the first line, from the end, stamped before the time
    /// returned. Lines are in the order requests were stored, each stamped when it arrived, so a
    /// line may be stamped earlier than lines ahead of it by as long as a request takes to be
    /// stored (its body's timeout, then a parse of milliseconds), or by a step back of the
    /// clock: reading goes back a body timeout and another two windows further, so such a line
    /// never stops it early.
    ///
    /// [`Journal::open`]: super::journal::Journal::open
    pub fn recall_since(
        now: DateTime<Utc>,
        window: Duration,
        body_timeout: Duration,
    ) -> DateTime<Utc> {
        let back = window.saturating_mul(4).saturating_add(body_timeout);
        TimeDelta::from_std(back)
            .ok()
            .and_then(|back| now.checked_sub_signed(back))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Whether a fingerprint seen at `now` is new, a duplicate or a replay.
    pub fn check(&mut self, fingerprint: &Fingerprint, now: DateTime<Utc>) -> Verdict {
        self.prune(now);
        let keys = Keys::from(fingerprint);
        if let Some(&(id, _)) = self.deliveries.get(&keys.delivery) {
            return Verdict::Duplicate(id);
        }
        match keys.pair.and_then(|pair| self.pairs.get(&pair)) {
            Some((body_of, _)) if *body_of != keys.delivery => Verdict::Replayed,
            _ => Verdict::New,
        }
    }

    /// What [`Guard::check`] would say at `now`, without changing anything: a look that lets a
    /// request be refused before work is spent on it, while `check` stays the one that decides.
    pub fn peek(&self, fingerprint: &Fingerprint, now: DateTime<Utc>) -> Verdict {
        let kept = |seen: &DateTime<Utc>| now.signed_duration_since(*seen) <= self.keep;
        let keys = Keys::from(fingerprint);
        if let Some((id, seen)) = self.deliveries.get(&keys.delivery)
            && kept(seen)
        {
            return Verdict::Duplicate(*id);
        }
        match keys.pair.and_then(|pair| self.pairs.get(&pair)) {
            Some((body_of, seen)) if *body_of != keys.delivery && kept(seen) => Verdict::Replayed,
            _ => Verdict::New,
        }
    }

    /// Remembers a delivery stored with `id`, seen at `seen`.
    pub fn record(&mut self, fingerprint: Fingerprint, id: u64, seen: DateTime<Utc>) {
        let keys = Keys::from(&fingerprint);
        self.deliveries.insert(keys.delivery, (id, seen));
        if let Some(pair) = keys.pair {
            self.pairs.insert(pair, (keys.delivery, seen));
        }
        self.order.push_back((seen, keys));
        while self.order.len() > Self::MAX_ENTRIES {
            if let Some((seen, oldest)) = self.order.pop_front() {
                self.remove(oldest, seen);
            }
        }
    }

    /// Forgets a delivery that was recorded but could not be stored after all.
    pub fn forget(&mut self, fingerprint: &Fingerprint, seen: DateTime<Utc>) {
        self.remove(Keys::from(fingerprint), seen);
    }

    /// How many deliveries are remembered.
    pub fn len(&self) -> usize {
        self.deliveries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.deliveries.is_empty()
    }

    fn prune(&mut self, now: DateTime<Utc>) {
        while let Some(&(seen, keys)) = self.order.front() {
            if now.signed_duration_since(seen) <= self.keep {
                break;
            }
            self.order.pop_front();
            self.remove(keys, seen);
        }
    }

    fn remove(&mut self, keys: Keys, seen: DateTime<Utc>) {
        if let Entry::Occupied(entry) = self.deliveries.entry(keys.delivery)
            && entry.get().1 == seen
        {
            entry.remove();
        }
        if let Some(pair) = keys.pair
            && let Entry::Occupied(entry) = self.pairs.entry(pair)
            && entry.get().1 == seen
        {
            entry.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn the_same_request_is_a_duplicate_and_another_body_is_a_replay() {
        let mut guard = Guard::new(Duration::from_secs(300));
        let first = Fingerprint::of(Some("1"), Some("tok"), b"a", true).unwrap();
        let again = Fingerprint::of(Some("1"), Some("tok"), b"a", true).unwrap();
        let forged = Fingerprint::of(Some("1"), Some("tok"), b"b", true).unwrap();
        assert_eq!(guard.check(&first, at(0)), Verdict::New);
        guard.record(first, 7, at(0));
        assert_eq!(guard.check(&again, at(1)), Verdict::Duplicate(7));
        assert_eq!(guard.check(&forged, at(1)), Verdict::Replayed);
    }

    #[test]
    fn a_peek_says_what_a_check_would_and_changes_nothing() {
        let mut guard = Guard::new(Duration::from_secs(300));
        let first = Fingerprint::of(Some("1"), Some("tok"), b"a", true).unwrap();
        let forged = Fingerprint::of(Some("1"), Some("tok"), b"b", true).unwrap();
        assert_eq!(guard.peek(&first, at(0)), Verdict::New);
        guard.record(first, 7, at(0));
        for (fingerprint, now) in [(&first, at(1)), (&forged, at(1)), (&forged, at(601))] {
            assert_eq!(guard.peek(fingerprint, now), guard.check(fingerprint, now));
        }
        let mut kept = Guard::new(Duration::from_secs(300));
        kept.record(first, 7, at(0));
        // Past the time kept a peek no longer sees the pair, and prunes nothing.
        assert_eq!(kept.peek(&forged, at(601)), Verdict::New);
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn unsigned_pairs_may_carry_other_bodies_and_no_timestamp_means_no_fingerprint() {
        let mut guard = Guard::new(Duration::from_secs(300));
        let first = Fingerprint::of(Some("1"), Some("pw"), b"a", false).unwrap();
        guard.record(first, 1, at(0));
        let other = Fingerprint::of(Some("1"), Some("pw"), b"b", false).unwrap();
        assert_eq!(guard.check(&other, at(0)), Verdict::New);
        assert_eq!(Fingerprint::of(None, Some("pw"), b"a", false), None);
        assert_eq!(Fingerprint::of(Some(" "), None, b"a", false), None);
    }

    #[test]
    fn the_split_between_timestamp_and_token_matters() {
        let a = Fingerprint::of(Some("12"), Some("3x"), b"", true).unwrap();
        let b = Fingerprint::of(Some("123"), Some("x"), b"", true).unwrap();
        assert_ne!(a.pair, b.pair);
    }

    #[test]
    fn fingerprints_are_kept_for_two_windows_only() {
        let mut guard = Guard::new(Duration::from_secs(300));
        let first = Fingerprint::of(Some("1"), Some("tok"), b"a", true).unwrap();
        guard.record(first, 1, at(0));
        assert_eq!(guard.check(&first, at(600)), Verdict::Duplicate(1));
        assert_eq!(guard.check(&first, at(601)), Verdict::New);
        assert!(guard.is_empty());
    }

    #[test]
    fn a_forgotten_fingerprint_is_new_again_and_pruning_spares_a_later_record() {
        let mut guard = Guard::new(Duration::from_secs(300));
        let first = Fingerprint::of(Some("1"), Some("tok"), b"a", true).unwrap();
        guard.record(first, 1, at(0));
        guard.forget(&first, at(0));
        assert_eq!(guard.check(&first, at(0)), Verdict::New);
        guard.record(first, 2, at(500));
        // The first record's turn to be pruned comes, but the later one stays.
        assert_eq!(guard.check(&first, at(700)), Verdict::Duplicate(2));
    }

    #[test]
    fn the_journal_is_read_back_two_windows_and_a_body_timeout_past_what_the_guard_keeps() {
        let since = Guard::recall_since(at(0), Duration::from_secs(300), Duration::from_secs(30));
        assert_eq!(since, at(-1230));
        let forever = Guard::recall_since(at(0), Duration::MAX, Duration::from_secs(30));
        assert_eq!(forever, DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn memory_is_bounded() {
        let mut guard = Guard::new(Duration::from_secs(3600));
        for n in 0..Guard::MAX_ENTRIES + 10 {
            let fp = Fingerprint::of(Some(&n.to_string()), None, b"", false).unwrap();
            guard.record(fp, n as u64, at(0));
        }
        assert_eq!(guard.len(), Guard::MAX_ENTRIES);
    }

    #[test]
    fn hex_round_trips() {
        let digest = Fingerprint::of(Some("1"), None, b"x", false)
            .unwrap()
            .delivery;
        assert_eq!(from_hex(&hex(&digest)), Some(digest));
        assert_eq!(from_hex("zz"), None);
    }

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        let digest: Digest = std::array::from_fn(|i| (i * 8 + 7) as u8);
        let expected: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&digest), expected);
    }
}
