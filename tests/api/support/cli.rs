//! The `civitas` binary in tests: a `civitas serve` process, and commands
//! run on a test server's database.

use super::app::TestApp;

pub use super::db::TEST_MASTER_KEY;

/// A `civitas serve` process of the real binary, stopped (SIGTERM) on drop.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub port: u16,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ServerProcess {
    /// Starts the binary in `dir` and waits until `/readyz` answers 200.
    pub async fn start(dir: &std::path::Path, envs: &[(&str, String)]) -> Self {
        Self::launch(dir, envs, false).await
    }

    /// Like `start`, keeping what the server prints for `stop_and_read`.
    pub async fn start_capturing(dir: &std::path::Path, envs: &[(&str, String)]) -> Self {
        Self::launch(dir, envs, true).await
    }

    async fn launch(dir: &std::path::Path, envs: &[(&str, String)], capture: bool) -> Self {
        let port = free_port();
        let stdout = if capture {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        };
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_civitas"))
            .current_dir(dir)
            .env("CIVITAS_LISTEN", format!("127.0.0.1:{port}"))
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .arg("serve")
            .stdout(stdout)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = Self { child, port };
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(r) = client
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
                && r.status() == 200
            {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("civitas serve did not become ready on port {port}");
    }

    /// Sends SIGTERM and waits; returns whether the process exited cleanly.
    pub fn stop(self) -> bool {
        self.stop_and_read().0
    }

    /// Like `stop`, with what the server printed (`start_capturing`).
    pub fn stop_and_read(mut self) -> (bool, String) {
        use std::io::Read;
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let ok = self.child.wait().is_ok_and(|s| s.success());
        let mut out = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        std::mem::forget(self);
        (ok, out)
    }
}

/// The `USER` the `civitas` binary runs as, so CLI audit actors are known.
pub const CLI_USER: &str = "registry-test";
pub const CLI_ACTOR: &str = "cli:registry-test";

/// Runs the `civitas` binary on the test database, outside any config file.
pub fn civitas(app: &TestApp, args: &[&str]) -> std::process::Output {
    civitas_with_env(app, args, &[])
}

/// Like [`civitas`], with more environment variables.
pub fn civitas_with_env(
    app: &TestApp,
    args: &[&str],
    envs: &[(&str, &str)],
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .env("CIVITAS_DATABASE_URL", &app.db_url)
        .env("CIVITAS_MASTER_KEY", TEST_MASTER_KEY)
        .env("CIVITAS_CONFIG", "/nonexistent/civitas.toml")
        .env("USER", CLI_USER)
        .envs(envs.iter().copied())
        .output()
        .unwrap()
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
