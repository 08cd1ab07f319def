//! TLS for a test cluster: a CA, server and client certificates made with the `openssl`
//! command, and the server switched to `ssl = on` with a pg_hba.conf of the test's choosing.

use crate::Cluster;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Certificates and keys in one directory.
pub struct Pki {
    pub dir: PathBuf,
}

/// `openssl req` options for a new unencrypted P-256 key (fast to make).
const NEW_KEY: [&str; 6] = [
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (the openssl command is needed by the TLS tests)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    /// A fresh CA `ca` (files `ca.crt`, `ca.key`) in `dir`.
    pub fn new(dir: &Path) -> Pki {
        fs::create_dir_all(dir).expect("create the PKI directory");
        let pki = Pki { dir: dir.into() };
        pki.ca("ca");
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A self-signed CA `<name>.crt`/`<name>.key`.
    pub fn ca(&self, name: &str) {
        let subject = format!("/CN=jobmon test {name}");
        let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
        let mut args = vec!["req", "-x509"];
        args.extend(NEW_KEY);
        args.extend([
            "-days", "2", "-subj", &subject, "-keyout", &key, "-out", &crt,
        ]);
        openssl(&self.dir, &args);
    }

    /// `<name>.crt`/`<name>.key` with common name `cn` and subjectAltName `san` (or none),
    /// signed by `ca`; the key is mode 0600.
    pub fn leaf(&self, name: &str, cn: &str, san: Option<&str>) {
        let subject = format!("/CN={cn}");
        let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
        let mut args = vec!["req"];
        args.extend(NEW_KEY);
        args.extend(["-subj", &subject, "-keyout", &key, "-out", &csr]);
        openssl(&self.dir, &args);
        let ext = format!("{name}.ext");
        let mut text = String::from("basicConstraints=CA:FALSE\n");
        if let Some(san) = san {
            text.push_str(&format!("subjectAltName={san}\n"));
        }
        fs::write(self.dir.join(&ext), text).expect("write the extensions file");
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &format!("{name}.crt"),
            ],
        );
        set_mode(&self.path(&format!("{name}.key")), 0o600);
    }
}

impl Pki {
    /// A CRL of `ca` in `out`, after revoking the certificates `revoke` (`<name>.crt`).
    pub fn crl(&self, revoke: &[&str], out: &str) {
        let cnf = self.path("ca.cnf");
        if !cnf.exists() {
            fs::write(
                &cnf,
                "[ca]\ndefault_ca = jobmon_ca\n[jobmon_ca]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
                 default_md = sha256\ndefault_crl_days = 2\n",
            )
            .expect("write ca.cnf");
            fs::write(self.path("index.txt"), "").expect("write index.txt");
            fs::write(self.path("crlnumber"), "1000\n").expect("write crlnumber");
        }
        let ca = ["-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.crt"];
        for name in revoke {
            let crt = format!("{name}.crt");
            let mut args = vec!["ca"];
            args.extend(ca);
            args.extend(["-revoke", &crt]);
            openssl(&self.dir, &args);
        }
        let mut args = vec!["ca"];
        args.extend(ca);
        args.extend(["-gencrl", "-out", out]);
        openssl(&self.dir, &args);
    }
}

pub fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Copies the server certificate `server.crt`/`.key` and the CA of `pki` into the data
/// directory (owned by the server's OS user, key 0600), turns `ssl` on with `ssl_ca_file`
/// for client certificates, replaces pg_hba.conf by `hba`, and restarts the server.
pub fn enable_ssl(cluster: &Cluster, pki: &Pki, hba: &str) {
    for (from, to) in [
        ("server.crt", "server.crt"),
        ("server.key", "server.key"),
        ("ca.crt", "root.crt"),
    ] {
        let dest = cluster.data_dir.join(to);
        fs::copy(pki.path(from), &dest).expect("copy a certificate into the data directory");
        set_mode(&dest, 0o600);
        chown_to_server(cluster, &dest);
    }
    let conf = cluster.data_dir.join("postgresql.conf");
    let mut text = fs::read_to_string(&conf).expect("read postgresql.conf");
    text.push_str(
        "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'root.crt'\n",
    );
    fs::write(&conf, text).expect("write postgresql.conf");
    let hba_path = cluster.data_dir.join("pg_hba.conf");
    fs::write(&hba_path, hba).expect("write pg_hba.conf");
    chown_to_server(cluster, &hba_path);
    cluster.restart().expect("restart the server with ssl = on");
}

fn chown_to_server(cluster: &Cluster, path: &Path) {
    if cluster.superuser == "postgres" {
        let out = Command::new("chown")
            .arg("postgres:")
            .arg(path)
            .output()
            .expect("chown");
        assert!(out.status.success(), "chown {}", path.display());
    }
}

/// A second cluster of the test installation, without TLS (for `sslmode=prefer`).
pub fn plain_cluster() -> Cluster {
    crate::test_installation()
        .and_then(Cluster::start)
        .unwrap_or_else(|e| panic!("second test cluster: {e}"))
}
