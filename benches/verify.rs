//! What checking `X-Gitee-Token` costs, in each way a sender can present it: the HMAC
//! signature, the same signature URL-encoded, the plain password, and a wrong signature (which
//! still computes the HMAC, so a forged request costs the receiver as much as a good one). The
//! password costs less only because this secret does not decode as a 32-byte Base64 value, so
//! no HMAC is computed for it.
//!
//! `cargo bench --bench verify`; the results are recorded in BENCHMARKS.md.

use criterion::{Criterion, criterion_group, criterion_main};
use pipetop::gitee::{Verifier, sign};
use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECRET: &str = "a-32-byte-webhook-secret-0123456";
const TIMESTAMP: &str = "1672135206524";

fn verify(c: &mut Criterion) {
    let verifier = Verifier::new(SECRET, Duration::from_secs(300));
    let now = UNIX_EPOCH + Duration::from_millis(1_672_135_206_524 + 1_500);
    let signature = sign(SECRET, TIMESTAMP);
    let url_encoded = signature
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let wrong = sign("another secret", TIMESTAMP);

    let mut group = c.benchmark_group("verify");
    for (name, token) in [
        ("signature", signature.as_str()),
        ("signature, URL-encoded", url_encoded.as_str()),
        ("password", SECRET),
        ("wrong signature", wrong.as_str()),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| check(&verifier, black_box(token), black_box(now)))
        });
    }
    group.finish();
}

fn check(verifier: &Verifier, token: &str, now: SystemTime) -> bool {
    verifier.verify(Some(token), Some(TIMESTAMP), now).is_ok()
}

criterion_group!(benches, verify);
criterion_main!(benches);
