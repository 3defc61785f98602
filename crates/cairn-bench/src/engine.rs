//! Generated `core:Data` stacks through the release binary: `up`, a no-op
//! `preview` and `destroy` of 1,000 and 10,000 resources.

use crate::{run, tempdir, Section, Target};
use std::fmt::Write as _;
use std::path::Path;

/// `up` of 10,000 resources, seconds (issue 2).
const UP_10K_S: f64 = 3.0;
/// A no-op `preview` of 10,000 resources, seconds (issue 2).
const PREVIEW_10K_S: f64 = 1.0;

/// A stack of `n` resources; every tenth resource starts or continues a chain.
fn generate(n: usize) -> String {
    let mut y = String::with_capacity(n * 80);
    let _ = writeln!(y, "name: bench-{n}\nresources:");
    for i in 0..n {
        if i % 10 == 0 && i >= 10 {
            let _ = writeln!(y, "  r{i}:\n    type: core:Data\n    properties:\n      input: \"${{r{}.output}}-{i}\"", i - 10);
        } else {
            let _ = writeln!(
                y,
                "  r{i}:\n    type: core:Data\n    properties:\n      input: value-{i}"
            );
        }
    }
    y
}

pub fn bench(cairn: &Path) -> Section {
    let mut table = String::from(
        "| resources | command | wall time (s) | peak RSS (MB) |\n|---:|---|---:|---:|\n",
    );
    let mut failed = false;
    let mut targets = Vec::new();
    for n in [1_000usize, 10_000] {
        let dir = tempdir();
        let file = dir.path().join("stack.yaml");
        if let Err(e) = std::fs::write(&file, generate(n)) {
            eprintln!("bench: cannot write {}: {e}", file.display());
            std::process::exit(1);
        }
        let file = file.display().to_string();
        let state = dir.path().join("state").display().to_string();
        let env = [("STACK_PASSPHRASE", "bench-passphrase"), ("NO_COLOR", "1")];
        let common = ["--stack-file", file.as_str(), "--state-dir", state.as_str()];
        for (label, command) in [
            ("up", vec!["up", "--yes"]),
            ("preview (no-op)", vec!["preview"]),
            ("destroy", vec!["destroy", "--yes"]),
        ] {
            let args: Vec<&str> = command.iter().chain(common.iter()).copied().collect();
            let m = run(cairn, dir.path(), &args, &env);
            failed |= !m.ok();
            let note = if m.ok() { "" } else { " (FAILED)" };
            let _ = writeln!(
                table,
                "| {n} | `{label}`{note} | {:.2} | {:.0} |",
                m.wall_s, m.max_rss_mb
            );
            match (n, label) {
                (10_000, "up") => targets.push(Target::new(
                    "`up`, 10,000 `core:Data` resources",
                    UP_10K_S,
                    "s",
                    m.wall_s,
                )),
                (10_000, "preview (no-op)") => targets.push(Target::new(
                    "no-op `preview`, 10,000 resources",
                    PREVIEW_10K_S,
                    "s",
                    m.wall_s,
                )),
                _ => {}
            }
        }
    }
    Section {
        name: "engine-bench",
        table,
        targets,
        failed,
    }
}
