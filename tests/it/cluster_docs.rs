//! The commands of docs/cluster.md (linked from the README's "Running on a cluster"), run
//! as written: the scheduler and two executors of "Start a scheduler and two executors on
//! one machine", the run of "Run" and the first query of "Distributed SQL", with only their
//! ports and folders moved to free ones and `lakeaug` the binary under test; and the
//! README's "Running on a cluster" block the same way. So a newcomer following either gets
//! a working cluster, and this fails if they change unchecked.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common;
use crate::common::cluster::{free_port_pair, wait_for_port, Proc};

/// The commands of the first ```sh block after `heading` in `page` (docs/cluster.md unless
/// said), one per command (continuation lines joined).
fn documented_commands(heading: &str) -> Vec<String> {
    commands_in("docs/cluster.md", heading)
}

fn commands_in(page: &str, heading: &str) -> Vec<String> {
    let doc = std::fs::read_to_string(common::repo_path(page)).unwrap();
    let section = doc
        .split(heading)
        .nth(1)
        .unwrap_or_else(|| panic!("{page} has a section {heading:?}"));
    let block = section
        .split("```sh\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{heading:?} has a ```sh block"))
        .split("```")
        .next()
        .unwrap();
    block
        .replace("\\\n", " ")
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// `cmd` with every `(from, to)` replaced, insisting that each `from` is there.
fn moved(mut cmd: String, replacements: &[(&str, String)]) -> String {
    for (from, to) in replacements {
        assert!(
            cmd.contains(from),
            "docs/cluster.md no longer has {from}: {cmd}"
        );
        cmd = cmd.replace(from, to);
    }
    cmd
}

/// The words of a documented command, `lakeaug` replaced by the binary under test.
fn command(cmd: &str) -> Command {
    let mut words = cmd.trim_end_matches('&').split_whitespace();
    assert_eq!(words.next(), Some("lakeaug"), "{cmd}");
    let mut c = Command::new(env!("CARGO_BIN_EXE_lakeaug"));
    c.args(words);
    c
}

/// The documented ports and folders of the scheduler and two executors, moved to free ones.
struct Moved {
    scheduler: String,
    ex1: String,
    ex2: String,
}

impl Moved {
    fn new() -> Moved {
        Moved {
            scheduler: free_port_pair().to_string(),
            ex1: free_port_pair().to_string(),
            ex2: free_port_pair().to_string(),
        }
    }

    fn scheduler(&self) -> (&'static str, String) {
        ("127.0.0.1:50050", format!("127.0.0.1:{}", self.scheduler))
    }
}

/// Start the documented scheduler and two executors (`start`, in that order), with their
/// ports and work folders moved; killed when dropped.
fn start_documented(start: &[String], m: &Moved, d: &Path) -> Vec<Proc> {
    assert_eq!(start.len(), 3, "a scheduler and two executors: {start:?}");
    let ports = [
        m.scheduler(),
        ("127.0.0.1:50051", format!("127.0.0.1:{}", m.ex1)),
        ("127.0.0.1:50061", format!("127.0.0.1:{}", m.ex2)),
        ("/tmp/lakeaug-ex1", d.join("ex1").display().to_string()),
        ("/tmp/lakeaug-ex2", d.join("ex2").display().to_string()),
    ];
    let mut roles = Vec::new();
    for (i, (cmd, port)) in start.iter().zip([&m.scheduler, &m.ex1, &m.ex2]).enumerate() {
        let wanted: Vec<_> = ports
            .iter()
            .filter(|(from, _)| cmd.contains(from))
            .cloned()
            .collect();
        let cmd = moved(cmd.clone(), &wanted);
        let log = d.join(format!("role{i}.log"));
        let child = command(&cmd)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        roles.push(Proc(child));
        wait_for_port(port.parse().unwrap(), &cmd, &log);
    }
    // Executors register right after they listen; give them a moment.
    std::thread::sleep(std::time::Duration::from_millis(500));
    roles
}

/// Run a documented command; its output, once it has succeeded.
fn succeeded(cmd: &str) -> Output {
    let o = command(cmd).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The documented query's answer names the three default schemes.
fn assert_lists_the_default_schemes(query: &str, o: &Output) {
    let stdout = String::from_utf8_lossy(&o.stdout);
    for scheme in ["aligned", "cross_modal", "pseudo_label"] {
        assert!(stdout.contains(scheme), "{query}: {stdout}");
    }
}

#[test]
fn the_documented_cluster_commands_work_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = Moved::new();
    let _roles = start_documented(
        &documented_commands("## Start a scheduler and two executors on one machine"),
        &m,
        d,
    );
    let out = d.join("shared/out");
    let sample = common::repo_path("sample_data/photos.parquet");
    let run = documented_commands("## Run");
    assert_eq!(run.len(), 1, "{run:?}");
    let run = moved(
        run[0].clone(),
        &[
            ("sample_data/photos.parquet", sample.display().to_string()),
            ("/shared/out", out.display().to_string()),
            m.scheduler(),
        ],
    );
    let o = succeeded(&run);
    // The end-of-run summary (on stderr: stdout stays for data).
    let summary = String::from_utf8_lossy(&o.stderr);
    assert!(summary.contains("rows read from 1 file(s)"), "{summary}");

    let query = documented_commands("## Distributed SQL");
    let query = moved(
        query[0].clone(),
        &[
            ("/shared/out", out.display().to_string()),
            m.scheduler(),
            (
                "queries/",
                format!("{}/", common::repo_path("queries").display()),
            ),
        ],
    );
    let o = succeeded(&query);
    assert_lists_the_default_schemes(&query, &o);
    assert!(Path::new(&out).join("_lakeaug").is_dir());
}

/// The README's "Running on a cluster" block, all five commands, as written.
#[test]
fn the_readme_cluster_commands_work_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = Moved::new();
    let commands = commands_in("README.md", "### Running on a cluster");
    assert_eq!(commands.len(), 5, "{commands:?}");
    let _roles = start_documented(&commands[..3], &m, d);
    let out = d.join("shared-out").display().to_string();
    let sample = common::repo_path("sample_data/photos.parquet")
        .display()
        .to_string();
    let queries = format!("{}/", common::repo_path("queries").display());
    let run = moved(
        commands[3].clone(),
        &[
            ("sample_data/photos.parquet", sample),
            ("/tmp/shared-out", out.clone()),
            m.scheduler(),
        ],
    );
    succeeded(&run);
    let query = moved(
        commands[4].clone(),
        &[
            ("/tmp/shared-out", out),
            m.scheduler(),
            ("queries/", queries),
        ],
    );
    let o = succeeded(&query);
    assert_lists_the_default_schemes(&query, &o);
}
