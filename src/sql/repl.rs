//! The interactive `lakeaug query DIR` prompt: a rustyline editor with history in
//! `~/.lakeaug_history`; statements may span lines and run when a line ends with `;`.

use std::path::Path;

use datafusion::prelude::SessionContext;
use rustyline::error::ReadlineError;

use super::context::session_for;
use super::display::render_table;
use super::error::{one_line, SqlError};
use super::run::run_sql;

type Result<T, E = SqlError> = std::result::Result<T, E>;

const HELP: &str = "\
Enter SQL ending with ';' (statements may span lines).
  \\d            list tables        \\d TABLE   show a table's columns
  \\reload       read the output's current committed snapshot (after a run finished);
                views and settings made in this session are dropped
  \\q or Ctrl-D  quit               \\?         this help
Tables: augmented, rejects, runs, run_schemes, source (with --source)";

fn history_path() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".lakeaug_history"))
}

/// What a meta command asks the prompt to do next.
enum Next {
    Continue,
    Reload,
    Quit,
}

/// Runs the prompt on `ctx` (the session for output `dir` and `sources`) until `\q` or
/// end of input. SQL errors are printed, not fatal.
pub async fn repl(
    mut ctx: SessionContext,
    dir: &Path,
    sources: &[String],
    max_rows: usize,
) -> Result<()> {
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = history_path();
    if let Some(h) = &history {
        // A missing history file is normal on first use.
        let _ = editor.load_history(h);
    }
    println!("lakeaug query: \\? for help, \\q to quit");
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "lakeaug> "
        } else {
            "      -> "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                // Ctrl-C drops the statement being typed, like psql.
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            match meta_command(&ctx, trimmed).await {
                Ok(Next::Quit) => break,
                Ok(Next::Continue) => {}
                Ok(Next::Reload) => match session_for(dir, sources).await {
                    Ok(fresh) => {
                        ctx = fresh;
                        println!("reloaded: the committed snapshot as of now");
                    }
                    Err(e) => eprintln!("error: {} (the previous session is kept)", one_line(&e)),
                },
                Err(e) => eprintln!("error: {}", one_line(&e)),
            }
            continue;
        }
        if trimmed.is_empty() && buffer.is_empty() {
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        let sql = std::mem::take(&mut buffer);
        let _ = editor.add_history_entry(sql.trim());
        match run_sql(&ctx, &sql).await {
            Ok(results) => {
                for r in results.iter().filter(|r| !r.schema.fields().is_empty()) {
                    match render_table(&r.schema, &r.batches, max_rows) {
                        Ok(s) => print!("{s}"),
                        Err(e) => eprintln!("error: {e}"),
                    }
                }
            }
            Err(e) => eprintln!("error: {}", one_line(&e)),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}

/// Handles `\q`, `\?`, `\d`, `\d TABLE`, `\reload`.
async fn meta_command(ctx: &SessionContext, cmd: &str) -> Result<Next> {
    let mut parts = cmd.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("\\q"), _) => return Ok(Next::Quit),
        (Some("\\reload"), None) => return Ok(Next::Reload),
        (Some("\\?"), _) | (Some("\\h"), _) => println!("{HELP}"),
        (Some("\\d"), None) => {
            let sql = "SELECT table_name FROM information_schema.tables \
                       WHERE table_schema = 'public' ORDER BY table_name";
            print_sql(ctx, sql).await?;
        }
        (Some("\\d"), Some(table)) => {
            // Quote as a SQL literal so any table name is safe.
            let name = table.replace('\'', "''");
            let sql = format!(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = '{name}' ORDER BY ordinal_position"
            );
            print_sql(ctx, &sql).await?;
        }
        _ => println!("unknown command {cmd}; \\? for help"),
    }
    Ok(Next::Continue)
}

async fn print_sql(ctx: &SessionContext, sql: &str) -> Result<()> {
    for r in run_sql(ctx, sql).await? {
        print!("{}", render_table(&r.schema, &r.batches, usize::MAX)?);
    }
    Ok(())
}
