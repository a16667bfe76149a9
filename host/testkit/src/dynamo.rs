//! DynamoDB-API servers on loopback: moto (in memory; TTL, transactions, conditions) and
//! dynalite (on disk, so it can be stopped and started again: an outage).

use crate::process::{free_port, log_file, port_open, tool, wait_until, Proc};
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct Moto {
    pub proc: Proc,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let moto = tool("LIVEVIEWER_MOTO_BIN", "moto_server");
        let port = free_port();
        let child = Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(log_file("moto"))
            .spawn()
            .expect("starting moto_server");
        let m = Moto { proc: Proc::new(child, "moto"), endpoint: format!("http://127.0.0.1:{port}") };
        wait_until("moto to listen", Duration::from_secs(30), || port_open(port));
        m
    }
}

pub struct Dynalite {
    pub proc: Option<Proc>,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Dynalite {
    pub fn start() -> Dynalite {
        let mut d = Dynalite { proc: None, port: free_port(), dir: tempfile::tempdir().unwrap() };
        d.restart();
        d
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        let module = tool("LIVEVIEWER_DYNALITE_DIR", "dynalite");
        // dynalite's own CLI listens on every interface; this listens on loopback only.
        let script = format!(
            "require({:?})({{path: {:?}, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0}}).listen({}, '127.0.0.1')",
            module.display().to_string(),
            self.dir.path().display().to_string(),
            self.port
        );
        let child = Command::new("node")
            .args(["-e", &script])
            .stdout(Stdio::null())
            .stderr(log_file("dynalite"))
            .spawn()
            .expect("starting dynalite");
        self.proc = Some(Proc::new(child, "dynalite"));
        let port = self.port;
        wait_until("dynalite to listen", Duration::from_secs(20), || port_open(port));
    }
}
