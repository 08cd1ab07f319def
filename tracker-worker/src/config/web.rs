//! The `[web]` table: the dashboard's address, TLS files and authentication, checked so
//! that nothing is served beyond loopback without TLS and authentication unless the file
//! says `insecure = true`.

use super::file::{key, RawConfig};
use super::types::{de_opt_duration, de_opt_time_zone, ser_opt_duration, ser_opt_time_zone};
use super::{defaults, Problem};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use tracker_core::model::{Web, WebAuth, WebTls};

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeb {
    pub(super) listen: Option<String>,
    pub(super) tls_cert: Option<PathBuf>,
    pub(super) tls_key: Option<PathBuf>,
    pub(super) users_file: Option<PathBuf>,
    pub(super) auth_header: Option<String>,
    pub(super) trusted_proxies: Option<Vec<String>>,
    pub(super) insecure: Option<bool>,
    #[serde(
        default,
        deserialize_with = "de_opt_time_zone",
        serialize_with = "ser_opt_time_zone"
    )]
    pub(super) time_zone: Option<chrono_tz::Tz>,
    pub(super) page_size: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de_opt_duration",
        serialize_with = "ser_opt_duration"
    )]
    pub(super) refresh: Option<Duration>,
}

/// `web.field`.
fn web_key(field: &str) -> String {
    format!("{}.{field}", key!(RawConfig::web))
}

pub(super) fn convert(raw: Option<RawWeb>, problems: &mut Vec<Problem>) -> Option<Web> {
    let w = raw?;
    let before = problems.len();
    let listen_text = w.listen.as_deref().unwrap_or(defaults::WEB_LISTEN);
    let listen = match listen_text.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => {
            problems.push(Problem::new(
                web_key(key!(RawWeb::listen)),
                format!("`{listen_text}` is not an address; expected IP:PORT, e.g. \"127.0.0.1:8470\" or \"[::1]:8470\" (a host name is not accepted: say which address is exposed)"),
            ));
            defaults::WEB_LISTEN.parse().ok()?
        }
    };
    let tls = match (w.tls_cert, w.tls_key) {
        (Some(cert), Some(key)) => Some(WebTls { cert, key }),
        (None, None) => None,
        (cert, _) => {
            let missing = if cert.is_some() {
                key!(RawWeb::tls_key)
            } else {
                key!(RawWeb::tls_cert)
            };
            problems.push(Problem::new(
                web_key(missing),
                "required key is missing: TLS needs both `tls_cert` (the certificate chain, PEM) and `tls_key` (its private key, PEM)",
            ));
            None
        }
    };
    let auth = auth(w.users_file, w.auth_header, w.trusted_proxies, problems);
    let insecure = w.insecure.unwrap_or(false);
    if !listen.ip().is_loopback() && !insecure && (tls.is_none() || auth == WebAuth::None) {
        let lacking = match (tls.is_none(), auth == WebAuth::None) {
            (true, true) => "TLS and authentication are",
            (true, false) => "TLS is",
            _ => "authentication is",
        };
        problems.push(Problem::new(
            web_key(key!(RawWeb::listen)),
            format!("{listen} is reachable from other hosts but {lacking} not configured; set `tls_cert` and `tls_key`, and `users_file` or `auth_header` with `trusted_proxies`, or `insecure = true` to serve it anyway"),
        ));
    }
    let page_size = w.page_size.unwrap_or(defaults::WEB_PAGE_SIZE);
    if !(1..=1000).contains(&page_size) {
        problems.push(Problem::new(
            web_key(key!(RawWeb::page_size)),
            "expected a number from 1 to 1000",
        ));
    }
    (problems.len() == before).then_some(Web {
        listen,
        tls,
        auth,
        insecure,
        time_zone: w.time_zone,
        page_size,
        refresh: w.refresh.unwrap_or(defaults::WEB_REFRESH),
    })
}

fn auth(
    users_file: Option<PathBuf>,
    header: Option<String>,
    proxies: Option<Vec<String>>,
    problems: &mut Vec<Problem>,
) -> WebAuth {
    match (users_file, header) {
        (Some(_), Some(_)) => {
            problems.push(Problem::new(
                web_key(key!(RawWeb::auth_header)),
                "not allowed together with `users_file`; choose one way to authenticate",
            ));
            WebAuth::None
        }
        (Some(file), None) => {
            if proxies.is_some() {
                problems.push(Problem::new(
                    web_key(key!(RawWeb::trusted_proxies)),
                    "applies only with `auth_header`",
                ));
            }
            WebAuth::UsersFile(file)
        }
        (None, Some(header)) => {
            let token = !header.is_empty()
                && header
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
            if !token {
                problems.push(Problem::new(
                    web_key(key!(RawWeb::auth_header)),
                    format!("`{header}` is not a header name; expected letters, digits, `-` and `_`, e.g. \"X-Forwarded-User\""),
                ));
            }
            let mut addrs = Vec::new();
            for (i, p) in proxies.unwrap_or_default().iter().enumerate() {
                match p.parse::<IpAddr>() {
                    Ok(a) => addrs.push(a),
                    Err(_) => problems.push(Problem::new(
                        format!("{}[{i}]", web_key(key!(RawWeb::trusted_proxies))),
                        format!("`{p}` is not an IP address"),
                    )),
                }
            }
            if addrs.is_empty() {
                problems.push(Problem::new(
                    web_key(key!(RawWeb::trusted_proxies)),
                    "required with `auth_header`: list the IP addresses of the reverse proxies that may send it (anyone else could name any user)",
                ));
            }
            WebAuth::ProxyHeader {
                header,
                proxies: addrs,
            }
        }
        (None, None) => {
            if proxies.is_some() {
                problems.push(Problem::new(
                    web_key(key!(RawWeb::trusted_proxies)),
                    "applies only with `auth_header`",
                ));
            }
            WebAuth::None
        }
    }
}

impl From<&Web> for RawWeb {
    fn from(w: &Web) -> Self {
        let (users_file, auth_header, trusted_proxies) = match &w.auth {
            WebAuth::None => (None, None, None),
            WebAuth::UsersFile(f) => (Some(f.clone()), None, None),
            WebAuth::ProxyHeader { header, proxies } => (
                None,
                Some(header.clone()),
                Some(proxies.iter().map(|p| p.to_string()).collect()),
            ),
        };
        RawWeb {
            listen: Some(w.listen.to_string()),
            tls_cert: w.tls.as_ref().map(|t| t.cert.clone()),
            tls_key: w.tls.as_ref().map(|t| t.key.clone()),
            users_file,
            auth_header,
            trusted_proxies,
            insecure: Some(w.insecure),
            time_zone: w.time_zone,
            page_size: Some(w.page_size),
            refresh: Some(w.refresh),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::file::parse;
    use super::*;

    fn problems(web: &str) -> Vec<Problem> {
        parse(&format!("[web]\n{web}\n")).expect_err(web)
    }

    #[test]
    fn defaults_are_loopback_without_tls_or_authentication() {
        let c = parse("[web]\n").unwrap();
        let w = c.web.unwrap();
        assert_eq!(
            w.listen,
            defaults::WEB_LISTEN.parse::<SocketAddr>().unwrap()
        );
        assert!(w.tls.is_none() && w.auth == WebAuth::None && !w.insecure);
        assert_eq!(w.page_size, defaults::WEB_PAGE_SIZE);
        assert!(parse("").unwrap().web.is_none());
    }

    #[test]
    fn an_exposed_address_needs_tls_and_authentication() {
        let p = problems("listen = \"0.0.0.0:8470\"");
        assert_eq!(p[0].key, "web.listen");
        assert!(p[0].message.contains("TLS and authentication"), "{p:?}");
        let p = problems("listen = \"[::]:8470\"\nusers_file = \"/u\"");
        assert!(p[0].message.contains("but TLS is not"), "{p:?}");
        let p = problems("listen = \"10.1.2.3:443\"\ntls_cert = \"/c\"\ntls_key = \"/k\"");
        assert!(p[0].message.contains("but authentication is not"), "{p:?}");
        let ok =
            "listen = \"10.1.2.3:443\"\ntls_cert = \"/c\"\ntls_key = \"/k\"\nusers_file = \"/u\"";
        assert!(parse(&format!("[web]\n{ok}\n")).is_ok());
        let insecure = parse("[web]\nlisten = \"0.0.0.0:80\"\ninsecure = true\n").unwrap();
        assert!(insecure.web.unwrap().insecure);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (web, key) in [
            ("listen = \"localhost:80\"", "web.listen"),
            ("tls_cert = \"/c\"", "web.tls_key"),
            ("tls_key = \"/k\"", "web.tls_cert"),
            ("page_size = 0", "web.page_size"),
            (
                "auth_header = \"X User\"\ntrusted_proxies = [\"127.0.0.1\"]",
                "web.auth_header",
            ),
            ("auth_header = \"X-User\"", "web.trusted_proxies"),
            (
                "auth_header = \"X-User\"\ntrusted_proxies = [\"proxy\"]",
                "web.trusted_proxies[0]",
            ),
            (
                "users_file = \"/u\"\nauth_header = \"X-User\"",
                "web.auth_header",
            ),
            ("trusted_proxies = [\"127.0.0.1\"]", "web.trusted_proxies"),
            ("colour = \"blue\"", "web.colour"),
        ] {
            let p = problems(web);
            assert!(p.iter().any(|p| p.key == key), "{web}: {p:?}");
        }
    }

    #[test]
    fn the_table_reads_back_as_written() {
        let text = "[web]\nlisten = \"[::1]:9000\"\nauth_header = \"X-User\"\ntrusted_proxies = [\"::1\"]\ntime_zone = \"Europe/Berlin\"\nrefresh = \"30s\"\n";
        let c = parse(text).unwrap();
        let again = parse(&crate::config::to_toml(&c, &[])).unwrap();
        assert_eq!(again.web, c.web);
    }
}
