//! Any bytes as a webhook body: the parser must never panic, and a refusal is one sentence.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Err(err) = pipetop::gitee::parse_notification(body) {
        let reason = err.to_string();
        assert!(!reason.is_empty() && !reason.contains('\n'), "{reason}");
    }
});
