//! The viewer token: the bearer token `/events` asks for, distinct from Gitee's secret. Given
//! on the command line, in a file or in `PIPETOP_VIEWER_TOKEN`; for `pipetop serve` without
//! one, generated once and kept (mode 0600) in the state directory, so it stays the same
//! across restarts. It is compared in constant time and never shown in Debug output or logs.

use sha2::{Digest, Sha256};
use std::fmt;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq as _;

/// The environment variable read when neither flag is given.
pub const TOKEN_ENV: &str = "PIPETOP_VIEWER_TOKEN";

/// The file a generated token is kept in, in the state directory.
pub const TOKEN_FILE: &str = "viewer-token";

/// A viewer token; its Debug output is redacted.
#[derive(Clone)]
pub struct ViewerToken(String);

impl fmt::Debug for ViewerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ViewerToken(<redacted>)")
    }
}

/// Why no token could be had; each message is one sentence, without the token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{TOKEN_ENV} is set but empty")]
    EmptyEnv,
    #[error("{TOKEN_ENV} is not valid UTF-8")]
    EnvNotUnicode,
    #[error("the viewer token file {0} is empty")]
    EmptyFile(String),
    #[error("the viewer token must be printable ASCII without spaces")]
    Unprintable,
    #[error("cannot read the viewer token file {path}: {}", crate::io_reason(.source))]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot store the viewer token in {path}: {}", crate::io_reason(.source))]
    Store {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl ViewerToken {
    /// A token as given; it must fit in an `Authorization` header as it is.
    pub fn new(text: &str) -> Result<ViewerToken, TokenError> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::Unprintable);
        }
        Ok(ViewerToken(text.to_owned()))
    }

    /// 32 bytes from the operating system's random source, URL-safe base64.
    pub fn generate() -> io::Result<ViewerToken> {
        use base64::Engine as _;
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|err| io::Error::other(err.to_string()))?;
        Ok(ViewerToken(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        ))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this token. Both sides are hashed first, so neither the
    /// comparison nor its length says how much of a guess was right.
    pub fn matches(&self, presented: &str) -> bool {
        let ours = Sha256::digest(self.0.as_bytes());
        let theirs = Sha256::digest(presented.as_bytes());
        ours.ct_eq(&theirs).into()
    }

    /// Whether an `Authorization` header value carries this token as `Bearer <token>`.
    pub fn authorizes(&self, header: Option<&[u8]>) -> bool {
        let Some(value) = header.and_then(|h| std::str::from_utf8(h).ok()) else {
            return false;
        };
        match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                self.matches(token.trim())
            }
            _ => false,
        }
    }
}

/// Where a token came from, to say on start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Read back from the state directory, where an earlier start stored it.
    Stored(PathBuf),
    /// Generated now and stored there.
    Generated(PathBuf),
}

/// The token from `--…-token`, `--…-token-file` or `PIPETOP_VIEWER_TOKEN`, in that order.
pub fn given(flag: Option<&str>, file: Option<&Path>) -> Result<Option<ViewerToken>, TokenError> {
    if let Some(text) = flag {
        return ViewerToken::new(text).map(Some);
    }
    if let Some(path) = file {
        return read_file(path).map(Some);
    }
    match std::env::var(TOKEN_ENV) {
        Ok(text) if text.is_empty() => Err(TokenError::EmptyEnv),
        Ok(text) => ViewerToken::new(&text).map(Some),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(TokenError::EnvNotUnicode),
    }
}

fn read_file(path: &Path) -> Result<ViewerToken, TokenError> {
    let shown = || crate::text::clean_long(&path.display().to_string()).into_owned();
    let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
        path: shown(),
        source,
    })?;
    let text = text.trim_end_matches(['\n', '\r']);
    if text.is_empty() {
        return Err(TokenError::EmptyFile(shown()));
    }
    ViewerToken::new(text)
}

/// The token kept in `dir`, or a new one stored there (created readable by the user only).
pub fn stored_or_generated(dir: &Path) -> Result<(ViewerToken, Origin), TokenError> {
    let path = dir.join(TOKEN_FILE);
    match read_file(&path) {
        Ok(token) => return Ok((token, Origin::Stored(path))),
        Err(TokenError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let store = |source| TokenError::Store {
        path: crate::text::clean_long(&path.display().to_string()).into_owned(),
        source,
    };
    let token = ViewerToken::generate().map_err(store)?;
    std::fs::create_dir_all(dir).map_err(store)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(store)?;
    file.write_all(format!("{}\n", token.expose()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(store)?;
    Ok((token, Origin::Generated(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_as_a_bearer_is_let_in() {
        let token = ViewerToken::new("s3cret-Token").unwrap();
        assert!(token.authorizes(Some(b"Bearer s3cret-Token")));
        assert!(token.authorizes(Some(b"bearer s3cret-Token")));
        for wrong in [
            &b"Bearer s3cret-Toke"[..],
            b"Bearer s3cret-Token2",
            b"Basic s3cret-Token",
            b"s3cret-Token",
            b"Bearer ",
            b"\xff\xfe",
        ] {
            assert!(!token.authorizes(Some(wrong)), "{wrong:?}");
        }
        assert!(!token.authorizes(None));
        assert_eq!(format!("{token:?}"), "ViewerToken(<redacted>)");
        assert!(ViewerToken::new("with space").is_err());
        assert!(ViewerToken::new("").is_err());
    }

    #[test]
    fn a_generated_token_is_stored_privately_and_read_back_next_time() {
        let dir = tempfile::tempdir().unwrap();
        let (first, origin) = stored_or_generated(dir.path()).unwrap();
        let path = dir.path().join(TOKEN_FILE);
        assert_eq!(origin, Origin::Generated(path.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, origin) = stored_or_generated(dir.path()).unwrap();
        assert_eq!(origin, Origin::Stored(path));
        assert_eq!(first.expose(), again.expose());
        assert!(first.expose().len() >= 40);
    }
}
