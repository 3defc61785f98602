//! Every hostile input ends with exit 2 and a diagnostic that names the file,
//! line and column; each diagnostic is snapshot-tested. The 2 s per file
//! target is checked by `cargo xtask bench` on a release build; here a
//! generous bound only catches a hang.

use super::common::{workspace, Sandbox};
use std::path::Path;
use std::time::{Duration, Instant};

/// Ends rather than hangs (debug build, shared machine).
const HANG_LIMIT: Duration = Duration::from_secs(30);
const RSS_LIMIT_KB: i64 = 200 * 1024;

struct Measured {
    code: Option<i32>,
    signalled: bool,
    stderr: String,
    elapsed: Duration,
    max_rss_kb: i64,
}

// The child is reaped by `wait4` (which also reports its peak RSS).
#[allow(clippy::zombie_processes)]
fn preview(sb: &Sandbox, file: &Path) -> Measured {
    let stderr_path = sb.dir.path().join("stderr.txt");
    let stderr_file = std::fs::File::create(&stderr_path).expect("stderr file");
    let mut cmd = sb.command(&["preview", "--stack-file", &file.display().to_string()]);
    cmd.stdout(std::process::Stdio::null()).stderr(stderr_file);
    let start = Instant::now();
    let child = cmd.spawn().expect("spawn cairn");
    let mut status = 0;
    // SAFETY: zeroed rusage is valid plain data; wait4 fills it for our child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to locals; the pid is our own child.
    unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Measured {
        code,
        signalled: libc::WIFSIGNALED(status),
        stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
        elapsed,
        max_rss_kb: usage.ru_maxrss,
    }
}

#[track_caller]
fn assert_rejected(name: &str, m: &Measured, file_shown: &str) {
    assert!(!m.signalled, "{name}: killed by a signal\n{}", m.stderr);
    assert_eq!(m.code, Some(2), "{name}: exit code\n{}", m.stderr);
    assert!(
        !m.stderr.contains("panicked"),
        "{name}: panic\n{}",
        m.stderr
    );
    assert!(m.elapsed < HANG_LIMIT, "{name}: took {:?}", m.elapsed);
    assert!(
        m.max_rss_kb < RSS_LIMIT_KB,
        "{name}: peak RSS {} KB",
        m.max_rss_kb
    );
    let located = format!("{file_shown}:");
    assert!(
        m.stderr.contains(&located),
        "{name}: no file:line:col in\n{}",
        m.stderr
    );
    assert!(
        m.stderr.contains("help:"),
        "{name}: no help line in\n{}",
        m.stderr
    );
}

#[test]
fn every_corpus_file_is_rejected_with_a_located_diagnostic() {
    let dir = workspace().join("tests/corpus");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 40, "the corpus has {} files", names.len());
    let sb = Sandbox::new();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/corpus");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for name in &names {
            let rel = format!("tests/corpus/{name}");
            let m = preview(&sb, Path::new(&rel));
            assert_rejected(name, &m, &rel);
            insta::assert_snapshot!(name.trim_end_matches(".yaml"), m.stderr);
        }
    });
}

#[test]
fn generated_giants_are_rejected_fast() {
    let sb = Sandbox::new();
    let big = sb.dir.path().join("fifty-megabytes.yaml");
    let mut text = String::from("name: big\nresources:\n");
    let line = "  # padding padding padding padding padding padding padding padding padding\n";
    while text.len() < 50 * 1024 * 1024 {
        text.push_str(line);
    }
    std::fs::write(&big, &text).expect("write");
    let m = preview(&sb, &big);
    assert_rejected("50 MB", &m, &big.display().to_string());
    assert_eq!(
        codes(&m.stderr),
        ["cairn::stack::invalid", "cairn::config::file-too-large"],
        "{}",
        m.stderr
    );

    let deep = sb.dir.path().join("deep.yaml");
    let nested = format!(
        "name: deep\nresources:\n  x:\n    type: core:Data\n    properties:\n      input: {}{}\n",
        "{a: ".repeat(10_000),
        "}".repeat(10_000)
    );
    std::fs::write(&deep, nested).expect("write");
    let m = preview(&sb, &deep);
    assert_rejected("10,000-deep maps", &m, &deep.display().to_string());
    assert_eq!(
        codes(&m.stderr),
        ["cairn::stack::invalid", "cairn::config::too-deep"],
        "{}",
        m.stderr
    );
}

/// The diagnostic codes (`cairn::…`) a rendered report names, in order.
fn codes(stderr: &str) -> Vec<&str> {
    stderr
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '[' || c == ']')
        .filter(|w| w.starts_with("cairn::"))
        .collect()
}
