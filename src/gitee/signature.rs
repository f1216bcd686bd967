//! The `X-Gitee-Token` / `X-Gitee-Timestamp` check.
//!
//! In signature mode the token is `base64(HMAC-SHA256(secret, timestamp + "\n" + secret))`,
//! standard Base64 with padding, sometimes URL-encoded (Gitee's help page copies a URL-encode
//! step from DingTalk's docs). In password mode the token is the secret itself. Both are
//! compared in constant time, and the timestamp must lie within the tolerance of now, either way.
//! The signature does not cover the body: the replay guard in `ingest` makes up for that, and
//! so it is given the token as verified ([`Verified::token`]), in the one form every accepted
//! spelling of it shares.
//! No error message ever contains the secret or the expected token.

use super::redact::Redactor;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// How a delivery proved where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// The token was the HMAC signature of the timestamp.
    Signature,
    /// The token was the secret itself.
    Password,
    /// No secret is configured: verification is off.
    None,
}

impl Auth {
    pub fn as_str(self) -> &'static str {
        match self {
            Auth::Signature => "signature",
            Auth::Password => "password",
            Auth::None => "none",
        }
    }
}

/// Credentials that passed the check.
#[derive(Clone, PartialEq, Eq)]
pub struct Verified {
    pub auth: Auth,
    token: String,
}

impl Verified {
    /// The token in the form the check read it, the same however it was written: in signature
    /// mode the signature as [`sign`] writes it, whatever `%XX` escapes it came with (so a
    /// captured token spelled anew is still the same pair to the replay guard); in password
    /// mode the secret, the only spelling accepted.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // In password mode the token is the secret.
        f.debug_struct("Verified")
            .field("auth", &self.auth)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Why a delivery's credentials were refused; each message is one sentence for the sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing X-Gitee-Token header; this receiver has a secret configured")]
    MissingToken,
    /// What Gitee sends when its webhook has no key: the header, with nothing in it.
    #[error(
        "X-Gitee-Token is empty: the Gitee webhook has no key set; set the same key there as pipetop's secret"
    )]
    EmptyToken,
    #[error("missing X-Gitee-Timestamp header")]
    MissingTimestamp,
    #[error("X-Gitee-Timestamp is not a whole number of milliseconds since the Unix epoch")]
    BadTimestamp,
    #[error("X-Gitee-Token matches neither the signature nor the password for this secret")]
    BadToken,
    #[error("timestamp is {age} old; tolerance is {tolerance}")]
    TooOld { age: String, tolerance: String },
    #[error("timestamp is {ahead} in the future; tolerance is {tolerance}")]
    InFuture { ahead: String, tolerance: String },
}

/// The signature Gitee sends for `timestamp` (milliseconds, as the header text) and `secret`.
pub fn sign(secret: &str, timestamp: &str) -> String {
    STANDARD.encode(mac(secret, timestamp).finalize().into_bytes())
}

fn mac(secret: &str, timestamp: &str) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.as_bytes());
    mac.update(b"\n");
    mac.update(secret.as_bytes());
    mac
}

/// Checks deliveries against one secret.
#[derive(Clone)]
pub struct Verifier {
    secret: String,
    tolerance: Duration,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("secret", &"<redacted>")
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl Verifier {
    pub fn new(secret: impl Into<String>, tolerance: Duration) -> Verifier {
        Verifier {
            secret: secret.into(),
            tolerance,
        }
    }

    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// What hides this secret, and the fields named like credentials, in a body.
    pub fn redactor(&self) -> Redactor {
        Redactor::new(Some(&self.secret))
    }

    /// Verifies the two headers' values against the secret and the clock.
    pub fn verify(
        &self,
        token: Option<&str>,
        timestamp: Option<&str>,
        now: SystemTime,
    ) -> Result<Verified, VerifyError> {
        let token = token.ok_or(VerifyError::MissingToken)?.trim();
        if token.is_empty() {
            return Err(VerifyError::EmptyToken);
        }
        let timestamp = timestamp.map(str::trim).filter(|t| !t.is_empty());
        let timestamp = timestamp.ok_or(VerifyError::MissingTimestamp)?;
        let millis: u64 = timestamp.parse().map_err(|_| VerifyError::BadTimestamp)?;

        let verified = self.check_token(token, timestamp)?;

        let sent = UNIX_EPOCH + Duration::from_millis(millis);
        match now.duration_since(sent) {
            Ok(age) if age > self.tolerance => Err(VerifyError::TooOld {
                age: compact_duration(age),
                tolerance: compact_duration(self.tolerance),
            }),
            Ok(_) => Ok(verified),
            Err(ahead) if ahead.duration() > self.tolerance => Err(VerifyError::InFuture {
                ahead: compact_duration(ahead.duration()),
                tolerance: compact_duration(self.tolerance),
            }),
            Err(_) => Ok(verified),
        }
    }

    fn check_token(&self, token: &str, timestamp: &str) -> Result<Verified, VerifyError> {
        let password = token.as_bytes().ct_eq(self.secret.as_bytes());
        let decoded = url_decoded(token);
        let signature = STANDARD
            .decode(decoded.as_bytes())
            .ok()
            .filter(|bytes| bytes.len() == 32)
            .filter(|bytes| mac(&self.secret, timestamp).verify_slice(bytes).is_ok());
        if let Some(signature) = signature {
            // Written anew from the verified bytes rather than kept as decoded, so no leniency
            // of the decoders can give one signature two spellings.
            Ok(Verified {
                auth: Auth::Signature,
                token: STANDARD.encode(signature),
            })
        } else if bool::from(password) {
            Ok(Verified {
                auth: Auth::Password,
                token: token.to_owned(),
            })
        } else {
            Err(VerifyError::BadToken)
        }
    }
}

/// Undoes the URL-encoding some senders apply (`%2B`, `%2F`, `%3D`); other text is unchanged.
fn url_decoded(token: &str) -> Cow<'_, str> {
    if token.contains('%') {
        percent_encoding::percent_decode_str(token).decode_utf8_lossy()
    } else {
        Cow::Borrowed(token)
    }
}

/// `7m12s`, `2h0m5s`, `850ms`: short and exact enough for an error message.
pub fn compact_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR_TS: &str = "1672135206524";
    const VECTOR_SECRET: &str = "123654";
    const VECTOR_SIG: &str = "AbEvusCKxqRkBtTr4fD47SGVP/mRwlt48iuUYMFRloI=";

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    fn verifier() -> Verifier {
        Verifier::new(VECTOR_SECRET, Duration::from_secs(300))
    }

    #[test]
    fn the_documented_test_vector_signs_and_verifies() {
        assert_eq!(sign(VECTOR_SECRET, VECTOR_TS), VECTOR_SIG);
        let now = at(1672135206524);
        let verified = verifier().verify(Some(VECTOR_SIG), Some(VECTOR_TS), now);
        assert_eq!(verified.map(|v| v.auth), Ok(Auth::Signature));
    }

    #[test]
    fn a_url_encoded_signature_is_accepted_as_the_same_token() {
        let now = at(1672135206524);
        for encoded in [
            "AbEvusCKxqRkBtTr4fD47SGVP%2FmRwlt48iuUYMFRloI%3D",
            "AbEvusCKxqRkBtTr4fD47SGVP%2fmRwlt48iuUYMFRloI%3d",
            "%41bEvusCKxqRkBtTr4fD47SGVP/mRwlt48iuUYMFRloI=",
            "AbEvusCKxqRkBtTr4fD47SGVP/mRwlt48iuUYMFRloI%3d",
            "%41%62%45vusCKxqRkBtTr4fD47SGVP%2FmRwlt48iuUYMFRloI%3d",
        ] {
            let verified = verifier().verify(Some(encoded), Some(VECTOR_TS), now);
            let verified = verified.unwrap_or_else(|err| panic!("{encoded}: {err}"));
            assert_eq!(verified.auth, Auth::Signature, "{encoded}");
            assert_eq!(verified.token(), VECTOR_SIG, "{encoded}");
        }
    }

    #[test]
    fn a_tampered_signature_or_another_timestamp_is_refused() {
        let now = at(1672135206524);
        let tampered = VECTOR_SIG.replacen('A', "B", 1);
        assert_eq!(
            verifier().verify(Some(&tampered), Some(VECTOR_TS), now),
            Err(VerifyError::BadToken)
        );
        assert_eq!(
            verifier().verify(Some(VECTOR_SIG), Some("1672135206525"), now),
            Err(VerifyError::BadToken)
        );
    }

    #[test]
    fn password_mode_accepts_the_plain_secret_only() {
        let now = at(1672135206524);
        let verified = verifier().verify(Some("123654"), Some(VECTOR_TS), now);
        let verified = verified.unwrap();
        assert_eq!(
            (verified.auth, verified.token()),
            (Auth::Password, "123654")
        );
        for wrong in ["12365", "%31%32%33%36%35%34"] {
            assert_eq!(
                verifier().verify(Some(wrong), Some(VECTOR_TS), now),
                Err(VerifyError::BadToken)
            );
        }
        assert!(!format!("{verified:?}").contains(VECTOR_SECRET));
    }

    #[test]
    fn the_tolerance_holds_in_both_directions() {
        let sent = 1672135206524;
        let v = verifier();
        let ok = |now| {
            v.verify(Some(VECTOR_SIG), Some(VECTOR_TS), at(now))
                .map(|v| v.auth)
        };
        assert_eq!(ok(sent + 300_000), Ok(Auth::Signature));
        assert_eq!(ok(sent - 300_000), Ok(Auth::Signature));
        assert_eq!(
            ok(sent + 300_001).unwrap_err().to_string(),
            "timestamp is 5m old; tolerance is 5m"
        );
        assert_eq!(
            ok(sent + 432_000).unwrap_err().to_string(),
            "timestamp is 7m12s old; tolerance is 5m"
        );
        assert_eq!(
            ok(sent - 300_001).unwrap_err().to_string(),
            "timestamp is 5m in the future; tolerance is 5m"
        );
    }

    #[test]
    fn missing_and_malformed_headers_say_which() {
        let now = at(1672135206524);
        let v = verifier();
        assert_eq!(
            v.verify(None, Some(VECTOR_TS), now),
            Err(VerifyError::MissingToken)
        );
        assert_eq!(
            v.verify(Some(""), Some(VECTOR_TS), now),
            Err(VerifyError::EmptyToken)
        );
        assert_eq!(v.verify(Some(" "), None, now), Err(VerifyError::EmptyToken));
        assert_eq!(
            v.verify(Some(VECTOR_SIG), None, now),
            Err(VerifyError::MissingTimestamp)
        );
        assert_eq!(
            v.verify(Some(VECTOR_SIG), Some("yesterday"), now),
            Err(VerifyError::BadTimestamp)
        );
    }

    #[test]
    fn no_message_contains_the_secret_or_the_expected_token() {
        let now = at(1672135206524 + 3_600_000);
        let v = verifier();
        for err in [
            v.verify(Some("wrong"), Some(VECTOR_TS), now).unwrap_err(),
            v.verify(Some(VECTOR_SIG), Some(VECTOR_TS), now)
                .unwrap_err(),
        ] {
            let text = err.to_string();
            assert!(
                !text.contains(VECTOR_SECRET) && !text.contains(VECTOR_SIG),
                "{text}"
            );
        }
        assert!(!format!("{v:?}").contains(VECTOR_SECRET));
    }

    #[test]
    fn durations_read_compactly() {
        assert_eq!(compact_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(compact_duration(Duration::from_secs(45)), "45s");
        assert_eq!(compact_duration(Duration::from_secs(432)), "7m12s");
        assert_eq!(compact_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(compact_duration(Duration::from_secs(7325)), "2h2m5s");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_headers_are_judged_without_panicking_or_leaking(
                token in proptest::option::of(".{0,64}"),
                timestamp in proptest::option::of(prop_oneof![".{0,24}", "[0-9]{0,20}"]),
                now_ms in any::<u64>(),
                tolerance_ms in any::<u64>(),
            ) {
                let secret = "pipetop-secret-κ";
                let v = Verifier::new(secret, Duration::from_millis(tolerance_ms));
                let now = UNIX_EPOCH.checked_add(Duration::from_millis(now_ms)).unwrap_or(UNIX_EPOCH);
                if let Err(err) = v.verify(token.as_deref(), timestamp.as_deref(), now) {
                    let text = err.to_string();
                    prop_assert!(!text.contains(secret), "{}", text);
                    prop_assert!(!text.contains('\n'));
                }
            }

            #[test]
            fn every_spelling_of_a_signature_is_one_token(
                escaped in proptest::collection::vec((any::<bool>(), any::<bool>()), 44),
            ) {
                // Each character as itself or as `%XX`, in upper or lower case hex.
                let spelled: String = VECTOR_SIG
                    .bytes()
                    .zip(&escaped)
                    .map(|(byte, &(escape, lower))| match (escape, lower) {
                        (false, _) => char::from(byte).to_string(),
                        (true, false) => format!("%{byte:02X}"),
                        (true, true) => format!("%{byte:02x}"),
                    })
                    .collect();
                let verified = verifier()
                    .verify(Some(&spelled), Some(VECTOR_TS), at(1672135206524))
                    .map_err(|err| TestCaseError::fail(format!("{spelled}: {err}")))?;
                prop_assert_eq!(verified.token(), VECTOR_SIG);
            }
        }
    }
}
