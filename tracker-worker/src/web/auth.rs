//! Who may read the dashboard: HTTP Basic against a users file of `user:hash` lines
//! (argon2 PHC strings or bcrypt `$2b$` hashes; no plaintext), or a header a trusted reverse
//! proxy sets, honoured only on connections from the proxies' addresses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

/// The checked configuration of [`tracker_core::model::WebAuth`], with the users loaded.
#[derive(Debug)]
pub enum Auth {
    None,
    Users(Users),
    ProxyHeader {
        header: String,
        proxies: Vec<IpAddr>,
    },
}

/// The users file, and the credentials recently found right: a browser sends them with
/// every request (the page, its stylesheet, its script), and a deliberately slow hash per
/// request would make each page cost three. Remembered for [`VERIFIED_FOR`] as an HMAC
/// under a key made at start, so memory holds nothing a fast guess could be checked against.
pub struct Users {
    hashes: HashMap<String, Hash>,
    key: [u8; 32],
    verified: std::sync::Mutex<HashMap<Vec<u8>, (String, std::time::Instant)>>,
}

/// How long a successful check is remembered; a changed users file needs a restart anyway.
pub const VERIFIED_FOR: std::time::Duration = std::time::Duration::from_secs(300);
/// At most this many remembered credentials (the oldest go first).
const VERIFIED_MAX: usize = 1000;

/// The user names only: neither hashes nor the key belong in a log.
impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("Users")
            .field("users", &self.hashes.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Users {
    pub fn new(hashes: HashMap<String, Hash>) -> Result<Users, String> {
        let mut key = [0u8; 32];
        openssl::rand::rand_bytes(&mut key).map_err(|e| format!("no random key: {e}"))?;
        Ok(Users {
            hashes,
            key,
            verified: std::sync::Mutex::new(HashMap::new()),
        })
    }

    fn mac(&self, value: &str) -> Option<Vec<u8>> {
        let key = openssl::pkey::PKey::hmac(&self.key).ok()?;
        let mut signer =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).ok()?;
        signer.update(value.as_bytes()).ok()?;
        signer.sign_to_vec().ok()
    }

    /// The user an `Authorization` value names, if its password is right.
    fn check(&self, value: &str) -> Result<String, Refusal> {
        let (user, password) = basic_credentials(value).ok_or(Refusal::NoCredentials)?;
        let mac = self.mac(value);
        let now = std::time::Instant::now();
        let verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((known, at)) = mac.as_ref().and_then(|m| verified.get(m)) {
            if now.duration_since(*at) < VERIFIED_FOR {
                return Ok(known.clone());
            }
        }
        // Not under the lock: the hash is the slow part.
        drop(verified);
        match self.hashes.get(&user) {
            Some(hash) if verify(hash, &password) => {
                let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
                verified.retain(|_, (_, at)| now.duration_since(*at) < VERIFIED_FOR);
                if verified.len() >= VERIFIED_MAX {
                    verified.clear();
                }
                if let Some(m) = mac {
                    verified.insert(m, (user.clone(), now));
                }
                Ok(user)
            }
            _ => Err(Refusal::WrongCredentials),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Hash {
    Argon2(String),
    Bcrypt(String),
}

/// Why a request was not let in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No or malformed credentials: 401 with a challenge.
    NoCredentials,
    /// Unknown user or wrong password: 401 with a challenge.
    WrongCredentials,
    /// The proxy header, or a connection that is not from a trusted proxy: 403.
    Forbidden,
}

/// Reads a users file: one `user:hash` per line; blank lines and `#` comments skipped.
/// Errors name the file and line, never a hash.
pub fn load_users(path: &Path) -> Result<HashMap<String, Hash>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the users file: {e}", path.display()))?;
    parse_users(&text).map_err(|(line, what)| format!("{}:{line}: {what}", path.display()))
}

pub fn parse_users(text: &str) -> Result<HashMap<String, Hash>, (usize, String)> {
    let mut users = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let n = i + 1;
        let Some((user, hash)) = line.split_once(':') else {
            return Err((n, "expected `user:hash`".into()));
        };
        if user.is_empty() {
            return Err((n, "the user name is empty".into()));
        }
        let hash = if hash.starts_with("$argon2") {
            argon2::PasswordHash::new(hash)
                .map_err(|e| (n, format!("not a valid argon2 hash: {e}")))?;
            Hash::Argon2(hash.to_owned())
        } else if ["$2a$", "$2b$", "$2x$", "$2y$"]
            .iter()
            .any(|p| hash.starts_with(p))
        {
            Hash::Bcrypt(hash.to_owned())
        } else {
            return Err((
                n,
                "expected an argon2 ($argon2id$...) or bcrypt ($2b$...) hash; make one with `jobmon-tracker web --hash-password`".into(),
            ));
        };
        if users.insert(user.to_owned(), hash).is_some() {
            return Err((n, format!("user `{user}` appears twice")));
        }
    }
    if users.is_empty() {
        return Err((0, "the users file names no user".into()));
    }
    Ok(users)
}

/// An argon2id hash of `password` in PHC form, with a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut bytes = [0u8; 16];
    openssl::rand::rand_bytes(&mut bytes).map_err(|e| format!("no random salt: {e}"))?;
    let salt = SaltString::encode_b64(&bytes).map_err(|e| format!("no salt: {e}"))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

fn verify(hash: &Hash, password: &str) -> bool {
    match hash {
        Hash::Argon2(phc) => {
            use argon2::password_hash::PasswordVerifier;
            argon2::PasswordHash::new(phc).is_ok_and(|h| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
        }
        Hash::Bcrypt(h) => bcrypt::verify(password, h).unwrap_or(false),
    }
}

/// The user and password of an `Authorization: Basic ...` value.
pub fn basic_credentials(value: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

impl Auth {
    /// The user a request is from, or why it is refused. `header` looks up a request
    /// header by name; `peer` is the connection's address. Password checks are slow by
    /// design: call this off the async threads.
    pub fn check(
        &self,
        header: impl Fn(&str) -> Option<String>,
        peer: IpAddr,
    ) -> Result<Option<String>, Refusal> {
        match self {
            Auth::None => Ok(None),
            Auth::Users(users) => {
                let value = header("authorization").ok_or(Refusal::NoCredentials)?;
                users.check(&value).map(Some)
            }
            Auth::ProxyHeader {
                header: name,
                proxies,
            } => {
                if !proxies.contains(&peer) {
                    return Err(Refusal::Forbidden);
                }
                match header(name) {
                    Some(user) if !user.trim().is_empty() => Ok(Some(user.trim().to_owned())),
                    _ => Err(Refusal::Forbidden),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn basic(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    fn loopback() -> IpAddr {
        IpAddr::from([127, 0, 0, 1])
    }

    #[test]
    fn argon2_and_bcrypt_users_are_checked() {
        let argon = hash_password("s3cret").unwrap();
        let bc = bcrypt::hash("other", 4).unwrap();
        let users = parse_users(&format!("# users\nana:{argon}\n\nbob:{bc}\n")).unwrap();
        let auth = Auth::Users(Users::new(users).unwrap());
        let with = |v: Option<String>| {
            move |name: &str| (name == "authorization").then(|| v.clone()).flatten()
        };
        assert_eq!(
            auth.check(with(Some(basic("ana", "s3cret"))), loopback()),
            Ok(Some("ana".into()))
        );
        assert_eq!(
            auth.check(with(Some(basic("bob", "other"))), loopback()),
            Ok(Some("bob".into()))
        );
        assert_eq!(
            auth.check(with(Some(basic("ana", "wrong"))), loopback()),
            Err(Refusal::WrongCredentials)
        );
        assert_eq!(
            auth.check(with(Some(basic("eve", "s3cret"))), loopback()),
            Err(Refusal::WrongCredentials)
        );
        assert_eq!(
            auth.check(with(None), loopback()),
            Err(Refusal::NoCredentials)
        );
        assert_eq!(
            auth.check(with(Some("Bearer x".into())), loopback()),
            Err(Refusal::NoCredentials)
        );
    }

    #[test]
    fn users_file_errors_name_the_line() {
        assert_eq!(parse_users("ana:plaintext\n").unwrap_err().0, 1);
        assert!(parse_users("\nana\n").unwrap_err().1.contains("user:hash"));
        let h = hash_password("x").unwrap();
        let twice = parse_users(&format!("ana:{h}\nana:{h}\n")).unwrap_err();
        assert_eq!(twice.0, 2);
        assert!(parse_users("# nobody\n").is_err());
    }

    #[test]
    fn proxy_header_only_from_trusted_proxies() {
        let auth = Auth::ProxyHeader {
            header: "X-Remote-User".into(),
            proxies: vec![loopback()],
        };
        let header = |name: &str| (name == "X-Remote-User").then(|| "carol".to_owned());
        assert_eq!(auth.check(header, loopback()), Ok(Some("carol".into())));
        assert_eq!(
            auth.check(header, IpAddr::from([10, 0, 0, 9])),
            Err(Refusal::Forbidden)
        );
        assert_eq!(
            auth.check(|_: &str| None, loopback()),
            Err(Refusal::Forbidden)
        );
    }
}
