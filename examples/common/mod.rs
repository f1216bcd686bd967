//! What the measurement tools (`loadgen`, `replay`) share: a cheap repeatable generator and the
//! status codes weighted the way job changes arrive.

/// Status codes weighted the way job changes arrive: most are a job starting or finishing well.
/// Each is (code, statusName, weight).
pub const STATUSES: &[(&str, &str, u64)] = &[
    ("RUNNING", "Running", 40),
    ("SUCC", "Success", 40),
    ("FAIL", "Failed", 8),
    ("WAITING", "Waiting", 5),
    ("CANCEL", "Cancelled", 3),
    ("SKIP", "Skipped", 3),
    ("UNKOWN", "未知", 1),
];

/// xorshift64*: good enough to spread choices, repeatable, and costs nothing next to the work
/// being measured.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    /// A (code, statusName) drawn with the weights of [`STATUSES`].
    pub fn status(&mut self) -> (&'static str, &'static str) {
        let total: u64 = STATUSES.iter().map(|s| s.2).sum();
        let mut roll = self.next() % total;
        STATUSES
            .iter()
            .find(|s| {
                let hit = roll < s.2;
                roll = roll.saturating_sub(s.2);
                hit
            })
            .map_or(("SUCC", "Success"), |s| (s.0, s.1))
    }
}
