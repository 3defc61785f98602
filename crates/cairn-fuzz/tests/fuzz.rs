//! The fuzzer in CI: ten seconds of fuzzing, and every saved input replayed.

use cairn_fuzz::{fuzz, replay, saved_inputs, Options, Target};
use std::path::PathBuf;
use std::time::Duration;

fn ci_options() -> Options {
    let mut opts = Options::standard(Duration::from_secs(10));
    // CI must not write into the crate: crashes go under target/, the corpus nowhere.
    opts.corpus_dir = None;
    opts.crash_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-crashes");
    opts.progress_every = None;
    opts
}

#[test]
fn ten_seconds_of_fuzzing_find_no_panic() {
    let report = fuzz(&ci_options());
    println!("{report}");
    assert!(report.seeds >= 50, "seeded from the corpus: {report}");
    assert!(
        report.executions > report.seeds as u64,
        "mutated inputs ran: {report}"
    );
    let crashes: Vec<String> = report
        .crashes
        .iter()
        .map(|c| {
            format!(
                "{} — {}\n{}",
                c.input.display(),
                c.message,
                String::from_utf8_lossy(&std::fs::read(&c.input).unwrap_or_default())
            )
        })
        .collect();
    assert!(crashes.is_empty(), "panics:\n{}", crashes.join("\n\n"));
}

#[test]
fn every_saved_corpus_and_crash_input_runs_without_panic() {
    let files = saved_inputs(&Options::standard(Duration::ZERO));
    let crashes = replay(&Target::new(), &files);
    println!("replayed {} saved inputs", files.len());
    let text: Vec<String> = crashes
        .iter()
        .map(|c| format!("{}: {}", c.input.display(), c.message))
        .collect();
    assert!(crashes.is_empty(), "{}", text.join("\n"));
}
