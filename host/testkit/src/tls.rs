//! Throwaway certificates for TLS tests, made with the `openssl` command: a CA and a
//! certificate it signs for chosen host names. Nothing here is trusted beyond one test.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A certificate authority: its certificate (PEM), which a client names as its CA file.
pub struct Ca {
    pub cert: PathBuf,
    key: PathBuf,
    dir: PathBuf,
}

/// A certificate signed by a [`Ca`]: the key and the chain in one PEM file, which Kafka reads
/// as a PEM key store.
pub struct Leaf {
    pub pem: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("running openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl Ca {
    /// A new CA in `dir`, named `name` (files `<name>.pem`, `<name>.key`).
    pub fn new(dir: &Path, name: &str) -> Ca {
        std::fs::create_dir_all(dir).unwrap();
        let (cert, key) = (format!("{name}.pem"), format!("{name}.key"));
        openssl(
            dir,
            &[
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", &key, "-out", &cert,
                "-days", "2", "-subj", &format!("/CN=liveviewer test CA {name}"), "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Ca { cert: dir.join(cert), key: dir.join(key), dir: dir.to_path_buf() }
    }

    /// A server certificate for `dns_names` (the subject alternative names a client checks).
    pub fn issue(&self, name: &str, dns_names: &[&str]) -> Leaf {
        let (key, csr, crt, ext) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"), format!("{name}.ext"));
        let san: Vec<String> = dns_names.iter().map(|d| format!("DNS:{d}")).collect();
        std::fs::write(
            self.dir.join(&ext),
            format!("subjectAltName={}\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n", san.join(",")),
        )
        .unwrap();
        openssl(
            &self.dir,
            &["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", &key, "-out", &csr, "-subj", &format!("/CN={}", dns_names[0])],
        );
        openssl(
            &self.dir,
            &[
                "x509", "-req", "-in", &csr, "-CA", self.cert.to_str().unwrap(), "-CAkey", self.key.to_str().unwrap(), "-CAcreateserial",
                "-out", &crt, "-days", "2", "-extfile", &ext,
            ],
        );
        // Key first, then the chain up to the CA: the layout of a PEM key store.
        let pem = self.dir.join(format!("{name}.pem"));
        let text = [key.as_str(), crt.as_str()]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.join(f)).unwrap())
            .chain([std::fs::read_to_string(&self.cert).unwrap()])
            .collect::<String>();
        std::fs::write(&pem, text).unwrap();
        Leaf { pem }
    }
}
