//! moto's S3 server on loopback for the tests that run lakeaug against S3 (`s3`,
//! `s3_ranges`): the server, the test's environment (endpoint, test credentials, a home
//! of its own) and `tests/s3/s3_helper.py` to set up buckets and read results back.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// moto's S3 server on a free loopback port, stopped on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start(python: &Path) -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = python.with_file_name("moto_server");
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

pub struct Env {
    pub python: PathBuf,
    pub moto: Moto,
    pub home: tempfile::TempDir,
}

impl Env {
    pub fn helper(&self, args: &[&str]) -> String {
        let out = Command::new(&self.python)
            .arg(root().join("tests/s3/s3_helper.py"))
            .arg(&self.moto.endpoint)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "s3_helper {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `c` with only the environment the tests set: the moto endpoint and test
    /// credentials, no credentials or profiles of the machine.
    pub fn isolated<'c>(&self, c: &'c mut Command) -> &'c mut Command {
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .envs(self.vars())
    }

    pub fn lakeaug(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let mut c = common::small_run::small_run();
        self.isolated(c.args(args));
        for (k, v) in extra_env {
            c.env(k, v);
        }
        c.output().unwrap()
    }
}

impl Env {
    /// moto started from the S3 tests' Python environment, or `None` (said loudly) when
    /// the machine has no `python3` at all.
    pub fn start() -> Option<Env> {
        let Some(python) =
            common::venv::python_with("tests/s3/requirements.txt", ".lakeaug-s3-ready")
        else {
            eprintln!(
                "\n\n!!! SKIPPING the S3 tests: no python3 on this machine (CI has one) !!!\n\n"
            );
            return None;
        };
        Some(Env {
            moto: Moto::start(&python),
            python,
            home: tempfile::tempdir().unwrap(),
        })
    }

    /// Run the ignored test `name` of this test binary as a child process with the
    /// server's settings in its environment (`LAKEAUG_TEST_MOTO` set), for checks that call
    /// the library, which reads the store's settings from the environment (setting them
    /// here would leak into the other tests running in this binary); `what` names it if
    /// it fails.
    pub fn run_child(&self, name: &str, what: &str) {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--include-ignored", "--nocapture"])
            .envs(self.vars())
            .env("HOME", self.home.path())
            .env("LAKEAUG_TEST_MOTO", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{what} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The environment `isolated` gives a command, for processes started otherwise.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.moto.endpoint.clone()),
        ]
    }
}

pub fn code(o: &Output) -> Option<i32> {
    o.status.code()
}
