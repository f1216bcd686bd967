//! Credentials in a notification's body, replaced by [`MARKER`] before anything is stored,
//! printed or shown.
//!
//! Gitee's repository hooks in password mode put the secret itself in the body (`"password"`,
//! beside `"sign"` and `"timestamp"`), and pipetop keeps every field it receives, so without
//! this the secret would reach the journal, the headless output and the screen. The receiver
//! applies two rules to the parsed notification, typed fields and fields kept as received
//! alike, at any depth, before the delivery goes anywhere:
//!
//! - Every occurrence of the configured secret in any string or object key is replaced by the
//!   marker. Containing, not only equal: a URL such as `…?token=SECRET` keeps its shape and
//!   loses the secret. The match is exact (case-sensitive, not decoded): a percent-encoded
//!   spelling of a secret that needs encoding is not found.
//! - The value of a field whose name names a credential ([`names_a_credential`]), and the
//!   `value` of a `{"key": …, "value": …}` or `{"name": …, "value": …}` pair whose key or name
//!   does (a `globalParams` entry `DB_PASSWORD`), becomes the marker, whatever its shape; null
//!   stays null. This rule needs no secret, so it holds without one.

use super::payload::{GlobalParam, Job, Notification, Source};
use memchr::memmem::Finder;
use serde_json::{Map, Value};

/// What a credential is replaced with.
pub const MARKER: &str = "[redacted]";

/// Applies the rules of this module; [`Redactor::default`] knows no secret.
#[derive(Clone, Default)]
pub struct Redactor {
    secret: Option<Secret>,
}

#[derive(Clone)]
struct Secret {
    text: String,
    finder: Finder<'static>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = self.secret.as_ref().map(|_| "<redacted>");
        f.debug_struct("Redactor").field("secret", &secret).finish()
    }
}

impl Redactor {
    /// A redactor that also hides `secret` wherever it appears. An empty secret would be found
    /// in every string, so it counts as none.
    pub fn new(secret: Option<&str>) -> Redactor {
        Redactor {
            secret: secret.filter(|s| !s.is_empty()).map(|text| Secret {
                text: text.to_owned(),
                finder: Finder::new(text).into_owned(),
            }),
        }
    }

    /// Hides every credential in `notification`.
    pub fn notification(&self, notification: &mut Notification) {
        self.job(&mut notification.job);
        for source in &mut notification.sources {
            self.source(source);
        }
        for param in &mut notification.global_params {
            self.param(param);
        }
        self.map(&mut notification.extra);
    }

    fn job(&self, job: &mut Job) {
        for text in [
            &mut job.pipeline_name,
            &mut job.stage_name,
            &mut job.job_name,
            &mut job.status_name,
            &mut job.pipeline_url,
        ] {
            self.opt(text);
        }
        if let Some(code) = &mut job.status_code {
            self.text(&mut code.0);
        }
        self.map(&mut job.extra);
    }

    fn source(&self, source: &mut Source) {
        match source {
            Source::GiteeGo {
                repo_path,
                branch,
                commit_id,
                extra,
            } => {
                self.opt(repo_path);
                self.opt(branch);
                self.opt(commit_id);
                self.map(extra);
            }
            Source::Pipeline {
                up_params, extra, ..
            } => {
                if let Some(up) = up_params {
                    self.map(&mut up.values);
                    self.opt(&mut up.text);
                }
                self.map(extra);
            }
            Source::CodeLevelArtifact {
                artifact_repo,
                artifact_version,
                extra,
            } => {
                self.opt(artifact_repo);
                self.opt(artifact_version);
                self.map(extra);
            }
            Source::Other {
                source_type,
                fields,
            } => {
                self.opt(source_type);
                self.map(fields);
            }
        }
    }

    fn param(&self, param: &mut GlobalParam) {
        let credential = param.key.as_deref().is_some_and(names_a_credential);
        self.opt(&mut param.key);
        if credential {
            if param.value.is_some() {
                param.value = Some(MARKER.to_owned());
            }
            // A value of another shape is kept in `extra` under its own name.
            if let Some(value) = param.extra.get_mut("value") {
                hide(value);
            }
        } else {
            self.opt(&mut param.value);
        }
        self.map(&mut param.extra);
    }

    fn map(&self, map: &mut Map<String, Value>) {
        if map.is_empty() {
            return;
        }
        self.keys(map);
        let pair = ["key", "name"]
            .iter()
            .any(|k| matches!(map.get(*k), Some(Value::String(s)) if names_a_credential(s)));
        for (key, value) in map.iter_mut() {
            if names_a_credential(key) || (pair && key == "value") {
                hide(value);
            } else {
                self.value(value);
            }
        }
    }

    fn value(&self, value: &mut Value) {
        match value {
            Value::String(text) => self.text(text),
            Value::Array(items) => items.iter_mut().for_each(|item| self.value(item)),
            Value::Object(map) => self.map(map),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// Object keys holding the secret are rewritten, keeping their order.
    fn keys(&self, map: &mut Map<String, Value>) {
        let Some(secret) = &self.secret else { return };
        if !map.keys().any(|key| secret.in_text(key)) {
            return;
        }
        *map = std::mem::take(map)
            .into_iter()
            .map(|(mut key, value)| {
                self.text(&mut key);
                (key, value)
            })
            .collect();
    }

    fn opt(&self, text: &mut Option<String>) {
        if let Some(text) = text {
            self.text(text);
        }
    }

    fn text(&self, text: &mut String) {
        if let Some(secret) = &self.secret
            && secret.in_text(text)
        {
            *text = text.replace(&secret.text, MARKER);
        }
    }
}

impl Secret {
    fn in_text(&self, text: &str) -> bool {
        text.len() >= self.text.len() && self.finder.find(text.as_bytes()).is_some()
    }
}

fn hide(value: &mut Value) {
    if !value.is_null() {
        *value = Value::String(MARKER.to_owned());
    }
}

/// Whether a field called `name` holds a credential.
///
/// The name is cut into words at every character that is not an ASCII letter or digit, between
/// a letter and a digit, between a lowercase and an uppercase letter, and before the last of
/// several uppercase letters when a lowercase one follows (`accessToken` → access·Token,
/// `X-Gitee-Token` → X·Gitee·Token, `APIKey` → API·Key, `DB_PASSWORD2` → DB·PASSWORD·2).
/// Case is ignored, and a word or name may end in a plural `s`. It names a credential when
///
/// - a word is, or ends with, `password`, `passwd`, `pwd`, `secret`, `token`, `apikey`,
///   `accesskey` or `privatekey` (`x_token`, `api_secret`, `accesstoken`, `clientSecret`);
/// - or its letters and digits alone, run together, end with one of those (`passWord`,
///   `api_key`, `private-key`);
/// - or a word is exactly `sign`, `signature`, `credential` or `authorization`: whole words
///   only, so `design`, `assignee` and `signal` are not credentials, while `sign_type` is;
/// - or it contains 密码, 口令, 密钥, 令牌 or 签名 (password, passphrase, secret key, token,
///   signature).
pub fn names_a_credential(name: &str) -> bool {
    let bytes = name.as_bytes();
    // One pass over the name, testing each word where it ends.
    let mut start = None;
    for at in 0..=bytes.len() {
        let alnum = bytes.get(at).is_some_and(u8::is_ascii_alphanumeric);
        match start {
            Some(first) if !alnum || cut(bytes, at) => {
                if either_form(&bytes[first..at], |word| {
                    ends_as_credential(word)
                        || WORDS
                            .iter()
                            .any(|w| word.eq_ignore_ascii_case(w.as_bytes()))
                }) {
                    return true;
                }
                start = alnum.then_some(at);
            }
            None if alnum => start = Some(at),
            _ => {}
        }
    }
    run_together_ends_as_credential(bytes)
        || (!name.is_ascii() && CJK.iter().any(|w| name.contains(w)))
}

const ENDINGS: [&str; 8] = [
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "privatekey",
];
const WORDS: [&str; 4] = ["sign", "signature", "credential", "authorization"];
const CJK: [&str; 5] = ["密码", "口令", "密钥", "令牌", "签名"];

/// `test` of the text, or of the text without a final `s`, for each that could end as an
/// ending or a word does ([`could_end_as_one`]).
fn either_form(text: &[u8], test: impl Fn(&[u8]) -> bool) -> bool {
    let looked_for = |text: &[u8]| could_end_as_one(text) && test(text);
    looked_for(text) || matches!(text, [rest @ .., b's' | b'S'] if looked_for(rest))
}

/// Whether the text ends in the last two letters of an ending or a word. Every globalParams
/// and upParams key is looked at, so nearly every word is passed over here at once.
fn could_end_as_one(text: &[u8]) -> bool {
    let [.., a, b] = text else {
        return false;
    };
    matches!(
        [a.to_ascii_lowercase(), b.to_ascii_lowercase()],
        [b'r' | b'w', b'd']
            | [b'e', b't' | b'n' | b'y']
            | [b'g' | b'o', b'n']
            | [b'r', b'e']
            | [b'a', b'l']
    )
}

fn ends_as_credential(text: &[u8]) -> bool {
    ENDINGS.iter().any(|e| {
        text.len() >= e.len() && text[text.len() - e.len()..].eq_ignore_ascii_case(e.as_bytes())
    })
}

/// Whether the name's letters and digits alone, run together, end as a credential does.
fn run_together_ends_as_credential(name: &[u8]) -> bool {
    // Enough of the end for the longest ending and an `s`.
    let mut tail = [0u8; 12];
    let mut len = 0;
    for &b in name.iter().rev().filter(|b| b.is_ascii_alphanumeric()) {
        if len == tail.len() {
            break;
        }
        len += 1;
        tail[tail.len() - len] = b;
    }
    either_form(&tail[tail.len() - len..], ends_as_credential)
}

/// Whether a word ends between `name[at - 1]` and `name[at]`, both letters or digits.
fn cut(name: &[u8], at: usize) -> bool {
    let (before, here) = (name[at - 1], name[at]);
    before.is_ascii_digit() != here.is_ascii_digit()
        || (before.is_ascii_lowercase() && here.is_ascii_uppercase())
        || (before.is_ascii_uppercase()
            && here.is_ascii_uppercase()
            && name.get(at + 1).is_some_and(u8::is_ascii_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "s3cr3t-Hook";

    fn redacted(secret: Option<&str>, body: Value) -> Value {
        let mut notification: Notification = serde_json::from_value(body).unwrap();
        Redactor::new(secret).notification(&mut notification);
        serde_json::to_value(&notification).unwrap()
    }

    #[test]
    fn names_of_credentials_are_whole_words_or_endings() {
        for name in [
            "password",
            "PASSWORD",
            "passwd",
            "pwd",
            "DB_PASSWORD",
            "password2",
            "passWord",
            "webhookPasswords",
            "secret",
            "api_secret",
            "clientSecret",
            "client-secrets",
            "token",
            "x_token",
            "X-Gitee-Token",
            "accessToken",
            "accesstoken",
            "tokens",
            "token_type",
            "sign",
            "Sign",
            "sign_type",
            "signature",
            "x-signature",
            "apiKey",
            "api_key",
            "APIKey",
            "apikeys",
            "private_key",
            "AccessKey",
            "credentials",
            "Authorization",
            "数据库密码",
            "令牌",
            "签名",
        ] {
            assert!(names_a_credential(name), "{name}");
        }
        for name in [
            "design",
            "assignee",
            "signal",
            "signed",
            "designSigner",
            "passport",
            "passwordless",
            "secretary",
            "tokenizer",
            "key",
            "value",
            "name",
            "primary_key",
            "keyboard",
            "monkey",
            "timestamp",
            "",
            "_-.",
            "仓库",
        ] {
            assert!(!names_a_credential(name), "{name}");
        }
    }

    #[test]
    fn every_ending_and_word_is_looked_for() {
        for text in ENDINGS.iter().chain(&WORDS) {
            assert!(could_end_as_one(text.as_bytes()), "{text}");
            assert!(could_end_as_one(text.to_uppercase().as_bytes()), "{text}");
        }
    }

    #[test]
    fn no_documented_field_is_named_like_a_credential() {
        for name in [
            "job",
            "sources",
            "globalParams",
            "pipelineId",
            "pipelineName",
            "stageName",
            "jobName",
            "buildNumber",
            "statusCode",
            "statusName",
            "pipelineUrl",
            "sourceType",
            "repoPath",
            "branch",
            "commitId",
            "upParams",
            "artifactRepo",
            "artifactVersion",
            "key",
            "value",
            "GITEE_REPO",
            "GITEE_BRANCH",
            "GITEE_COMMIT",
        ] {
            assert!(!names_a_credential(name), "{name}");
        }
    }

    #[test]
    fn gitees_password_mode_body_keeps_nothing_of_the_secret() {
        let body = json!({
            "password": SECRET,
            "sign": "AbEvusCKxqRkBtTr4fD47SGVP/mRwlt48iuUYMFRloI=",
            "timestamp": 1672135206524u64,
            "hook_name": "push_hooks",
            "job": {"jobName": "build", "pipelineUrl": format!("https://x/?token={SECRET}&a=1")},
        });
        assert_eq!(
            redacted(Some(SECRET), body),
            json!({
                "job": {"jobName": "build", "pipelineUrl": "https://x/?token=[redacted]&a=1"},
                "sources": [],
                "globalParams": [],
                "password": "[redacted]",
                "sign": "[redacted]",
                "timestamp": 1672135206524u64,
                "hook_name": "push_hooks",
            })
        );
    }

    #[test]
    fn every_place_a_credential_can_be_is_reached() {
        let body = json!({
            "job": {
                "pipelineName": SECRET,
                "statusCode": format!("X{SECRET}"),
                "x": {"auth": {"accessToken": 7, "other": [SECRET, null]}, "secret": null},
            },
            "sources": [
                {"sourceType": "GITEE_GO", "repoPath": SECRET, "api_key": ["k"]},
                {"sourceType": "PIPELINE", "upParams": {"NPM_TOKEN": "t", "REPO": SECRET}},
                {"sourceType": "PIPELINE", "upParams": format!("a={SECRET}")},
                {"sourceType": "SVN", "env": [{"name": "DB_PASSWORD", "value": "p"}]},
                "a string",
            ],
            "globalParams": [
                {"key": "SONAR_TOKEN", "value": "t"},
                {"key": "DEPLOY_KEY_PASSWORD", "value": ["p"]},
                {"key": "REGION", "value": SECRET},
            ],
            SECRET: {format!("{SECRET}-key"): 1},
        });
        let out = redacted(Some(SECRET), body);
        assert!(!out.to_string().contains(SECRET), "{out}");
        assert_eq!(out["job"]["pipelineName"], MARKER);
        assert_eq!(out["job"]["statusCode"], "X[redacted]");
        assert_eq!(
            out["job"]["x"],
            json!({"auth": {"accessToken": MARKER, "other": [MARKER, null]}, "secret": null})
        );
        let sources = &out["sources"];
        assert_eq!(sources[0]["repoPath"], MARKER);
        assert_eq!(sources[0]["api_key"], MARKER);
        assert_eq!(
            sources[1]["upParams"],
            json!({"NPM_TOKEN": MARKER, "REPO": MARKER})
        );
        assert_eq!(sources[2]["upParams"], "a=[redacted]");
        assert_eq!(
            sources[3]["env"],
            json!([{"name": "DB_PASSWORD", "value": MARKER}])
        );
        assert_eq!(
            out["globalParams"],
            json!([
                {"key": "SONAR_TOKEN", "value": MARKER},
                {"key": "DEPLOY_KEY_PASSWORD", "value": MARKER},
                {"key": "REGION", "value": MARKER},
            ])
        );
        assert_eq!(out[MARKER], json!({"[redacted]-key": 1}));
    }

    #[test]
    fn global_params_sent_as_an_object_are_redacted_as_read_and_as_received() {
        let body = json!({"globalParams": {"NPM_TOKEN": "t", "A": "1"}});
        let mut notification: Notification = serde_json::from_value(body).unwrap();
        Redactor::default().notification(&mut notification);
        let values: Vec<_> = notification
            .global_params
            .iter()
            .map(|p| p.value.as_deref())
            .collect();
        assert_eq!(values, [Some(MARKER), Some("1")]);
        assert_eq!(
            notification.extra["globalParams"],
            json!({"NPM_TOKEN": MARKER, "A": "1"})
        );
    }

    #[test]
    fn without_a_secret_names_still_count_and_other_text_is_left_alone() {
        let body = json!({"token": "t", "job": {"jobName": SECRET}});
        let out = redacted(None, body.clone());
        assert_eq!(out["token"], MARKER);
        assert_eq!(out["job"]["jobName"], SECRET);
        assert_eq!(redacted(Some(""), body)["job"]["jobName"], SECRET);
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        let text = format!("{:?}", Redactor::new(Some(SECRET)));
        assert!(!text.contains(SECRET), "{text}");
    }
}
