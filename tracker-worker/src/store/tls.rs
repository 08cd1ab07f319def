//! TLS with libpq's meaning of `sslmode`, `sslrootcert`, `sslcert`, `sslkey` and `sslcrl`,
//! in one place: tokio-postgres knows only `disable`/`prefer`/`require` and no file keys, so
//! these keys are taken out of the connection string, completed from `PGSSL*` and libpq's
//! `~/.postgresql/` defaults, and turned into an OpenSSL connector here.
//!
//! OpenSSL (postgres-openssl), not rustls: the binary already links OpenSSL statically for
//! libssh2 (`vendored-openssl`), so this adds no second TLS stack and no new C build for
//! cargo-zigbuild; and OpenSSL's `X509_check_host`/`X509_check_ip` are the checks libpq's
//! own OpenSSL build relies on (SAN dNSName with wildcards, CN only without dNSName SANs,
//! iPAddress SANs for an IP address).

use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode};
use openssl::x509::store::X509Lookup;
use openssl::x509::verify::X509VerifyFlags;
use postgres_openssl::MakeTlsConnector;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// A setting and where it came from (`database.sslmode`, `PGSSLMODE`, the connection
/// string), for error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub value: String,
    pub from: String,
}

/// The TLS keys as given (conninfo/TOML over environment), before libpq's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsKeys {
    pub sslmode: Option<Setting>,
    pub sslrootcert: Option<Setting>,
    pub sslcert: Option<Setting>,
    pub sslkey: Option<Setting>,
    pub sslcrl: Option<Setting>,
}

/// The keys this module handles instead of tokio-postgres, with their environment variables.
pub const TLS_KEYS: [(&str, &str); 5] = [
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("sslcert", "PGSSLCERT"),
    ("sslkey", "PGSSLKEY"),
    ("sslcrl", "PGSSLCRL"),
];

impl TlsKeys {
    pub fn slot(&mut self, key: &str) -> Option<&mut Option<Setting>> {
        Some(match key {
            "sslmode" => &mut self.sslmode,
            "sslrootcert" => &mut self.sslrootcert,
            "sslcert" => &mut self.sslcert,
            "sslkey" => &mut self.sslkey,
            "sslcrl" => &mut self.sslcrl,
            _ => return None,
        })
    }
}

/// What a connection does about TLS.
pub struct Tls {
    pub mode: SslMode,
    pub connector: MakeTlsConnector,
}

/// The connector for `keys` (files checked and loaded now, so a bad file is reported before
/// any connection attempt); `home` is where `~/.postgresql/` is.
pub fn build(keys: &TlsKeys, home: Option<&Path>) -> Result<Tls, String> {
    let dot = |name: &str| home.map(|h| h.join(".postgresql").join(name));
    let system = keys
        .sslrootcert
        .as_ref()
        .is_some_and(|r| r.value == "system");
    let mode = match &keys.sslmode {
        Some(s) => SslMode::parse(&s.value).ok_or_else(|| {
            format!(
                "{}: invalid sslmode `{}` (disable, allow, prefer, require, verify-ca or verify-full)",
                s.from, s.value
            )
        })?,
        // libpq: sslrootcert=system makes verify-full the default.
        None if system => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    if system && mode != SslMode::VerifyFull && mode != SslMode::Disable {
        let from = keys.sslmode.as_ref().map(|s| s.from.as_str()).unwrap_or("");
        return Err(format!(
            "{from}: weak sslmode `{}` may not be used with sslrootcert=system (use `verify-full`)",
            keys.sslmode
                .as_ref()
                .map(|s| s.value.as_str())
                .unwrap_or("")
        ));
    }
    let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(|e| e.to_string())?;
    // libpq verifies the server whenever it has a root certificate, in every mode.
    let mut verify = false;
    if system {
        load_system_roots(&mut b)?;
        verify = true;
    } else {
        let root = match &keys.sslrootcert {
            Some(r) => Some((PathBuf::from(&r.value), r.from.clone())),
            None => dot("root.crt").map(|p| (p, "the default".to_string())),
        };
        match root {
            Some((path, from)) if path.is_file() => {
                b.set_ca_file(&path).map_err(|e| {
                    format!(
                        "{from}: cannot read root certificate file \"{}\": {e}",
                        path.display()
                    )
                })?;
                verify = true;
            }
            Some((path, from)) if mode.verifies() => {
                return Err(format!(
                    "root certificate file \"{}\" ({from}) does not exist; provide the file, \
                     use the system's trusted roots with sslrootcert=system, or change sslmode \
                     ({}) to disable server certificate verification",
                    path.display(),
                    setting_origin(&keys.sslmode)
                ))
            }
            None if mode.verifies() => {
                return Err(format!(
                    "sslmode {} needs a root certificate: set sslrootcert (no HOME for ~/.postgresql/root.crt)",
                    setting_origin(&keys.sslmode)
                ))
            }
            _ => {}
        }
    }
    if verify {
        if let Some(crl) = &keys.sslcrl {
            let path = Path::new(&crl.value);
            if !path.is_file() {
                return Err(format!(
                    "{}: certificate revocation list file \"{}\" does not exist",
                    crl.from, crl.value
                ));
            }
            let store = b.cert_store_mut();
            let lookup = store
                .add_lookup(X509Lookup::file())
                .map_err(|e| e.to_string())?;
            lookup
                .load_crl_file(path, SslFiletype::PEM)
                .map_err(|e| format!("{}: cannot read \"{}\": {e}", crl.from, crl.value))?;
            store
                .set_flags(X509VerifyFlags::CRL_CHECK | X509VerifyFlags::CRL_CHECK_ALL)
                .map_err(|e| e.to_string())?;
        }
    }
    b.set_verify(if verify {
        SslVerifyMode::PEER
    } else {
        SslVerifyMode::NONE
    });
    client_certificate(&mut b, keys, &dot)?;
    let mut connector = MakeTlsConnector::new(b.build());
    let full = mode == SslMode::VerifyFull;
    // Host names are checked in verify-full only, as in libpq (require/verify-ca check the
    // chain when there is a root certificate, not the name).
    connector.set_callback(move |c, _| {
        c.set_verify_hostname(full);
        Ok(())
    });
    Ok(Tls { mode, connector })
}

fn setting_origin(s: &Option<Setting>) -> String {
    match s {
        Some(s) => format!("`{}` from {}", s.value, s.from),
        None => "the default".into(),
    }
}

/// `sslcert`/`sslkey`: a missing default certificate means none (as in libpq); a named one
/// that is missing is an error here (libpq would silently connect without it).
fn client_certificate(
    b: &mut openssl::ssl::SslConnectorBuilder,
    keys: &TlsKeys,
    dot: &dyn Fn(&str) -> Option<PathBuf>,
) -> Result<(), String> {
    let cert = match &keys.sslcert {
        Some(c) => Some((PathBuf::from(&c.value), c.from.clone(), true)),
        None => dot("postgresql.crt").map(|p| (p, "the default".to_string(), false)),
    };
    let Some((cert, cert_from, named)) = cert else {
        return Ok(());
    };
    if !cert.is_file() {
        if named {
            return Err(format!(
                "{cert_from}: certificate file \"{}\" does not exist",
                cert.display()
            ));
        }
        return Ok(());
    }
    b.set_certificate_chain_file(&cert).map_err(|e| {
        format!(
            "{cert_from}: cannot read certificate file \"{}\": {e}",
            cert.display()
        )
    })?;
    let (key, key_from) = match &keys.sslkey {
        Some(k) => (PathBuf::from(&k.value), k.from.clone()),
        None => match dot("postgresql.key") {
            Some(p) => (p, "the default".to_string()),
            None => return Err("certificate present, but no private key file (sslkey)".into()),
        },
    };
    let meta = std::fs::metadata(&key).map_err(|e| {
        format!(
            "certificate present, but not private key file \"{}\" ({key_from}): {e}",
            key.display()
        )
    })?;
    if !meta.is_file() {
        return Err(format!(
            "private key file \"{}\" ({key_from}) is not a regular file",
            key.display()
        ));
    }
    check_key_permissions(&key, meta.uid(), meta.mode())?;
    b.set_private_key_file(&key, SslFiletype::PEM)
        .map_err(|e| {
            format!(
                "{key_from}: cannot load private key file \"{}\": {e}",
                key.display()
            )
        })?;
    b.check_private_key().map_err(|e| {
        format!(
            "private key file \"{}\" does not match certificate \"{}\": {e}",
            key.display(),
            cert.display()
        )
    })
}

/// libpq's rule (PostgreSQL 14 and later): 0640 or less for a key owned by root (readable
/// through a group), 0600 or less for any other owner (if we can read it, it is ours).
pub fn check_key_permissions(key: &Path, owner: u32, mode: u32) -> Result<(), String> {
    let too_open = if owner == 0 {
        mode & 0o037 != 0
    } else {
        mode & 0o077 != 0
    };
    if too_open {
        return Err(format!(
            "private key file \"{}\" has group or world access; file must have permissions \
             u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) \
             or less if owned by root",
            key.display()
        ));
    }
    Ok(())
}

/// `sslrootcert=system`: the OS store. A statically linked OpenSSL's compiled-in default
/// directory is not the distribution's, so the usual bundle locations are tried as well
/// (`SSL_CERT_FILE`/`SSL_CERT_DIR` are honoured by OpenSSL itself).
fn load_system_roots(b: &mut openssl::ssl::SslConnectorBuilder) -> Result<(), String> {
    b.set_default_verify_paths().map_err(|e| e.to_string())?;
    const BUNDLES: [&str; 5] = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "/etc/ssl/ca-bundle.pem",
        "/etc/ssl/cert.pem",
    ];
    if std::env::var_os("SSL_CERT_FILE").is_none() {
        if let Some(bundle) = BUNDLES.iter().find(|p| Path::new(p).is_file()) {
            b.set_ca_file(bundle)
                .map_err(|e| format!("cannot read the system's root certificates {bundle}: {e}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &str) -> Option<Setting> {
        Some(Setting {
            value: v.into(),
            from: "database.x".into(),
        })
    }

    #[test]
    fn key_permissions_follow_libpq() {
        let k = Path::new("/k");
        assert!(check_key_permissions(k, 1000, 0o100600).is_ok());
        assert!(check_key_permissions(k, 1000, 0o100400).is_ok());
        let e = check_key_permissions(k, 1000, 0o100640).unwrap_err();
        assert!(e.contains("\"/k\" has group or world access"), "{e}");
        assert!(check_key_permissions(k, 0, 0o100640).is_ok());
        assert!(check_key_permissions(k, 0, 0o100644).is_err());
        assert!(check_key_permissions(k, 0, 0o100660).is_err());
    }

    #[test]
    fn the_modes_and_their_defaults() {
        let home = tempfile::tempdir().unwrap();
        let t = build(&TlsKeys::default(), Some(home.path())).unwrap();
        assert_eq!(t.mode, SslMode::Prefer);
        let keys = TlsKeys {
            sslmode: set("verify-full"),
            ..TlsKeys::default()
        };
        let e = build(&keys, Some(home.path())).err().unwrap();
        assert!(
            e.contains(".postgresql/root.crt\" (the default) does not exist"),
            "{e}"
        );
        assert!(e.contains("`verify-full` from database.x"), "{e}");
        let keys = TlsKeys {
            sslmode: set("require"),
            sslrootcert: set("system"),
            ..TlsKeys::default()
        };
        let e = build(&keys, Some(home.path())).err().unwrap();
        assert!(e.contains("weak sslmode `require`"), "{e}");
        let keys = TlsKeys {
            sslrootcert: set("system"),
            ..TlsKeys::default()
        };
        assert_eq!(build(&keys, None).unwrap().mode, SslMode::VerifyFull);
        let keys = TlsKeys {
            sslmode: set("verify"),
            ..TlsKeys::default()
        };
        let e = build(&keys, None).err().unwrap();
        assert!(e.starts_with("database.x: invalid sslmode `verify`"), "{e}");
        let keys = TlsKeys {
            sslcert: set("/nonexistent/c.crt"),
            ..TlsKeys::default()
        };
        let e = build(&keys, None).err().unwrap();
        assert!(e.contains("\"/nonexistent/c.crt\" does not exist"), "{e}");
    }
}
