//! `preview` of every hostile input: each file of `tests/corpus/`, a 50 MB
//! file and 10,000-deep nesting. Each must be rejected (exit 2) quickly and
//! in bounded memory.

use crate::{root, run, tempdir, Section, Target};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// Per file, seconds (issue 1's hostile-input bound).
const PER_FILE_S: f64 = 2.0;
/// Per file, peak RSS in MB.
const PER_FILE_MB: f64 = 200.0;

/// The generated giants: a 50 MB file and 10,000-deep nesting. Written in
/// pieces: a child's peak RSS counts this process's size when it spawns.
fn giants(dir: &Path) -> Vec<(String, String)> {
    let big = dir.join("fifty-megabytes.yaml");
    let line = "  # padding padding padding padding padding padding padding padding padding\n";
    let written = std::fs::File::create(&big).and_then(|f| {
        let mut w = std::io::BufWriter::new(f);
        w.write_all(b"name: big\nresources:\n")?;
        for _ in 0..(50 * 1024 * 1024 / line.len() + 1) {
            w.write_all(line.as_bytes())?;
        }
        w.flush()
    });
    let deep = dir.join("deep.yaml");
    let nested = format!(
        "name: deep\nresources:\n  x:\n    type: core:Data\n    properties:\n      input: {}{}\n",
        "{a: ".repeat(10_000),
        "}".repeat(10_000)
    );
    if let Err(e) = written.and_then(|()| std::fs::write(&deep, nested)) {
        eprintln!("bench: cannot write the generated inputs: {e}");
        std::process::exit(1);
    }
    vec![
        ("50 MB file".into(), big.display().to_string()),
        ("10,000-deep maps".into(), deep.display().to_string()),
    ]
}

pub fn bench(cairn: &Path) -> Section {
    let root = root();
    let mut files: Vec<(String, String)> = std::fs::read_dir(root.join("tests/corpus"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| n.ends_with(".yaml"))
                .map(|n| (n.clone(), format!("tests/corpus/{n}")))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let corpus_files = files.len();
    let dir = tempdir();
    files.extend(giants(dir.path()));
    let state = dir.path().join("state").display().to_string();
    let env = [("STACK_PASSPHRASE", "bench-passphrase"), ("NO_COLOR", "1")];
    let mut failed = Vec::new();
    let (mut total, mut slowest, mut largest) =
        (0.0, (0.0f64, String::new()), (0.0f64, String::new()));
    let mut giant_rows = String::new();
    for (name, path) in &files {
        let m = run(
            cairn,
            &root,
            &["preview", "--stack-file", path, "--state-dir", &state],
            &env,
        );
        if m.code != Some(2) {
            failed.push(format!("{name} (exit {:?})", m.code));
        }
        total += m.wall_s;
        if m.wall_s > slowest.0 {
            slowest = (m.wall_s, name.clone());
        }
        if m.max_rss_mb > largest.0 {
            largest = (m.max_rss_mb, name.clone());
        }
        if !name.ends_with(".yaml") {
            let _ = writeln!(
                giant_rows,
                "| {name} | {:.2} s | {:.0} MB |",
                m.wall_s, m.max_rss_mb
            );
        }
    }
    let mut table = String::from("| measurement | wall time | peak RSS |\n|---|---:|---:|\n");
    let _ = writeln!(
        table,
        "| `tests/corpus/`: {corpus_files} files, mean | {:.2} s | |",
        total / files.len().max(1) as f64
    );
    let _ = writeln!(
        table,
        "| slowest input ({}) | {:.2} s | |",
        slowest.1, slowest.0
    );
    let _ = writeln!(
        table,
        "| largest input ({}) | | {:.0} MB |",
        largest.1, largest.0
    );
    table.push_str(&giant_rows);
    for f in &failed {
        let _ = writeln!(table, "| FAILED: {f} was not rejected with exit 2 | | |");
    }
    Section {
        name: "corpus-bench",
        table,
        targets: vec![
            Target::new(
                "`preview` of the slowest hostile input",
                PER_FILE_S,
                "s",
                slowest.0,
            ),
            Target::new(
                "peak RSS of the largest hostile input",
                PER_FILE_MB,
                "MB",
                largest.0,
            ),
        ],
        failed: !failed.is_empty(),
    }
}
