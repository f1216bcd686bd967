//! Any header values against the verifier: it must never panic, and never repeat the secret.
//! The input is `token \n timestamp \n clock`, so the fuzzer can grow each part on its own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pipetop::gitee::Verifier;
use std::time::{Duration, UNIX_EPOCH};

const SECRET: &str = "pipetop-fuzz-secret";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let token = parts.next().filter(|t| !t.is_empty());
    let timestamp = parts.next();
    let now_ms: u64 = parts
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(1_672_135_206_524);
    let now = UNIX_EPOCH
        .checked_add(Duration::from_millis(now_ms))
        .unwrap_or(UNIX_EPOCH);
    let verifier = Verifier::new(SECRET, Duration::from_secs(300));
    if let Err(err) = verifier.verify(token, timestamp, now) {
        let reason = err.to_string();
        assert!(!reason.contains(SECRET), "{reason}");
    }
});
