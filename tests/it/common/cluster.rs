//! A real Ballista cluster for the tests: a scheduler and executors started from our own
//! binary as child processes on loopback ports, killed (SIGKILL) when dropped.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// A free loopback port whose next port is free too (an executor's gRPC service listens
/// on its Flight port + 1).
pub fn free_port_pair() -> u16 {
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

pub fn wait_for_port(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start listening on {port}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A scheduler and its executors.
pub struct Cluster {
    /// The scheduler's `HOST:PORT`.
    pub url: String,
    _scheduler: Proc,
    pub executors: Vec<Proc>,
}

impl Cluster {
    /// Start a scheduler and `executors` executors of one vcore each. `fast` sets a
    /// 1 s heartbeat and a 4 s executor timeout, for the tests that kill executors.
    pub fn start(dir: &Path, executors: usize, fast: bool) -> Cluster {
        Cluster::start_with_env(dir, executors, fast, &[])
    }

    /// [`Cluster::start`] with `env` added to the executors' environment (an object
    /// store's endpoint and credentials).
    pub fn start_with_env(
        dir: &Path,
        executors: usize,
        fast: bool,
        env: &[(&'static str, String)],
    ) -> Cluster {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port_pair();
        let log = dir.join("scheduler.log");
        let scheduler = Command::new(env!("CARGO_BIN_EXE_lakeaug"))
            .args([
                "cluster",
                "scheduler",
                "--bind",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--executor-timeout-secs", if fast { "4" } else { "180" }])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start the scheduler");
        let scheduler = Proc(scheduler);
        wait_for_port(port, "the scheduler", &log);
        let url = format!("127.0.0.1:{port}");
        let executors = (0..executors)
            .map(|i| {
                let p = free_port_pair();
                let log = dir.join(format!("executor{i}.log"));
                let child = Command::new(env!("CARGO_BIN_EXE_lakeaug"))
                    .args(["cluster", "executor", "--scheduler", &url])
                    .args(["--bind", &format!("127.0.0.1:{p}"), "--vcores", "1"])
                    .arg("--work-dir")
                    .arg(dir.join(format!("work{i}")))
                    .args(["--heartbeat-secs", if fast { "1" } else { "60" }])
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .stdout(Stdio::null())
                    .stderr(std::fs::File::create(&log).unwrap())
                    .spawn()
                    .expect("start an executor");
                let child = Proc(child);
                wait_for_port(p, "an executor", &log);
                child
            })
            .collect();
        // Executors register right after they listen; give them a moment.
        std::thread::sleep(Duration::from_millis(500));
        Cluster {
            url,
            _scheduler: scheduler,
            executors,
        }
    }
}
