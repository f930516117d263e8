//! `lakeaug query` through the binary: output formats, stdin, exit codes and messages.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::sql_fixture::*;
use arrow::array::AsArray;
use arrow::compute::cast;
use arrow::datatypes::DataType;

fn lakeaug(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lakeaug"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lakeaug");
    {
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            pipe.write_all(s.as_bytes()).expect("write stdin");
        }
    }
    child.wait_with_output().expect("wait")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn formats_stdin_and_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (out, source) = write_fixture(tmp.path());
    let out_s = out.to_str().expect("utf8 path");
    let sql = "SELECT source_row, image, caption FROM source ORDER BY source_row";

    // Text table: images as summaries (PNG 20x10 for row 0), never raw bytes.
    let o = lakeaug(
        &["query", out_s, "--source", &source, sql, "--max-rows", "2"],
        None,
    );
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(stdout.contains("<png 20x10, "), "{stdout}");
    assert!(stdout.contains("<png 21x12, "), "{stdout}");
    assert!(
        !stdout.contains("<png 22x14, "),
        "--max-rows 2 shows two rows: {stdout}"
    );
    assert!(stdout.contains("6 rows (2 shown"), "{stdout}");
    assert!(!stdout.contains("PNG\r\n"), "no raw bytes");

    // `--format FORMAT --out r.FORMAT`: the file written, after a successful exit.
    let query_to_file = |format: &str| {
        let path = tmp.path().join(format!("r.{format}"));
        let o = lakeaug(
            &[
                "query",
                out_s,
                "--source",
                &source,
                sql,
                "--format",
                format,
                "--out",
                path.to_str().expect("p"),
            ],
            None,
        );
        assert!(o.status.success(), "{}", text(&o).1);
        path
    };

    // CSV: header + one line per row, image summarized.
    let csv = query_to_file("csv");
    let body = std::fs::read_to_string(&csv).expect("csv");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "source_row,image,caption");
    assert_eq!(lines.len(), 1 + CAPTIONS.len());
    assert!(
        lines[1].starts_with("0,\"<png 20x10, ") || lines[1].starts_with("0,<png 20x10, "),
        "{}",
        lines[1]
    );

    // One JSON array on stdout.
    let o = lakeaug(
        &["query", out_s, "--source", &source, sql, "--format", "json"],
        None,
    );
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout).expect("a JSON array");
    assert_eq!(rows.len(), CAPTIONS.len());
    assert_eq!(rows[2]["caption"], CAPTIONS[2]);
    assert_eq!(rows[2]["source_row"], 2);

    // Parquet keeps the exact image bytes.
    let pq = query_to_file("parquet");
    let got = read_batches(&pq);
    let want = read_batches(std::path::Path::new(&source));
    let img = |b: &[arrow::array::RecordBatch]| -> Vec<Vec<u8>> {
        b.iter()
            .flat_map(|b| {
                let c = cast(
                    b.column_by_name("image").expect("image"),
                    &DataType::LargeBinary,
                )
                .expect("cast");
                c.as_binary::<i64>()
                    .iter()
                    .map(|v| v.expect("bytes").to_vec())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    assert_eq!(img(&got), img(&want));
    let o = lakeaug(&["query", out_s, sql, "--format", "parquet"], None);
    assert!(!o.status.success());
    assert!(text(&o).1.contains("--out"));

    // SQL on stdin, several statements: the text output shows every result.
    let o = lakeaug(
        &["query", out_s],
        Some("CREATE VIEW v AS SELECT scheme FROM augmented; SELECT count(DISTINCT scheme) AS n FROM v;"),
    );
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stdout.contains("│ 3 │")
            || stdout.contains("┆ 3 │")
            || stdout
                .lines()
                .any(|l| l.trim_matches(|c: char| !c.is_ascii_digit()) == "3"),
        "{stdout}"
    );

    // Errors: exit code != 0 and a message naming the problem.
    let o = lakeaug(&["query", out_s, "SELECT * FROM nope"], None);
    assert!(!o.status.success());
    assert!(text(&o).1.contains("available tables"), "{}", text(&o).1);
    let o = lakeaug(&["query", out_s, "SELEKT"], None);
    assert!(!o.status.success());
    assert!(text(&o).1.contains("SQL syntax error"), "{}", text(&o).1);
    let input_dir = tmp.path().join("input");
    let o = lakeaug(&["query", input_dir.to_str().expect("p"), "SELECT 1"], None);
    assert!(!o.status.success());
    assert!(text(&o).1.contains("not lakeaug output"), "{}", text(&o).1);
}

/// Runs `lakeaug ARGS` from the crate root and checks that it succeeded.
fn lakeaug_ok(args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_lakeaug"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("spawn lakeaug");
    assert!(o.status.success(), "lakeaug {args:?}: {}", text(&o).1);
}

/// Waits up to a minute for `child`, killing it after that.
fn wait_or_kill(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the prompt did not exit within a minute");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The interactive prompt, in a pseudo-terminal (util-linux `script`): it keeps the
/// snapshot it started with while a run adds a file, and `\reload` reads the new one.
#[test]
fn interactive_prompt_reloads_the_latest_snapshot() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let out_s = out.to_str().expect("utf8 path");
    let more = tmp.path().join("more.parquet");
    let more_s = more.to_str().expect("utf8 path");
    let photos = "sample_data/photos.parquet";
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(photos),
        &more,
    )
    .expect("copy input");
    let run = |inputs: &[&str]| {
        let mut args = vec!["run", "--output", out_s, "--schemes", "aligned", "--quiet"];
        for i in inputs {
            args.extend(["--input", i]);
        }
        lakeaug_ok(&args);
    };
    run(&[photos]);

    // TERM=dumb: the line editor reads plain lines (no terminal queries to answer).
    // Quoted for the shell `script` runs the command with.
    let prompt = format!("'{}' query '{out_s}'", env!("CARGO_BIN_EXE_lakeaug"));
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &prompt, "/dev/null"])
        .env("TERM", "dumb")
        .env("HOME", tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn script (util-linux)");
    let mut stdout = child.stdout.take().expect("stdout");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let collected = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = std::io::Read::read(&mut stdout, &mut chunk) {
                seen.lock()
                    .expect("lock")
                    .push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        })
    };
    let mut stdin = child.stdin.take().expect("stdin");
    // Once this first query has answered, the session (and its snapshot) exists; a run
    // then adds a second input file's 15 rows.
    stdin
        .write_all(b"SELECT count(*) AS before_run FROM augmented;\n")
        .expect("write");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !seen.lock().expect("lock").contains("│ before_run │") {
        assert!(
            std::time::Instant::now() < deadline,
            "no answer from the prompt: {}",
            seen.lock().expect("lock")
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    run(&[photos, more_s]);
    stdin
        .write_all(
            b"SELECT count(*) AS frozen FROM augmented;\n\\reload\n\
              SELECT count(*) AS reloaded FROM augmented;\n\\q\n",
        )
        .expect("write");
    let status = wait_or_kill(&mut child);
    drop(stdin);
    collected.join().expect("reader");
    let text = seen.lock().expect("lock").clone();
    assert!(status.success(), "{text}");
    // Each answer is the table printed after its column header.
    let answer = |column: &str| -> String {
        let header = format!("│ {column} │");
        let at = text
            .find(&header)
            .unwrap_or_else(|| panic!("no {column} table in: {text}"));
        text[at + header.len()..]
            .lines()
            .nth(2)
            .unwrap_or("")
            .to_string()
    };
    assert!(answer("before_run").contains(" 15 │"), "{text}");
    assert!(answer("frozen").contains(" 15 │"), "{text}");
    assert!(
        text.contains("reloaded: the committed snapshot as of now"),
        "{text}"
    );
    assert!(answer("reloaded").contains(" 30 │"), "{text}");
}
