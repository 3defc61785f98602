//! `cargo run --release -p cairn-fuzz -- --seconds 600`: fuzz the input path
//! (see the library docs), then print the figures. Exits 1 if anything panicked.
//!
//! Options: `--seconds N` (default 60), `--execs N`, `--seed N`,
//! `--no-save` (write neither corpus nor crashes into the crate; crashes go
//! to a temporary directory), `--replay` (run the saved corpus and crashes
//! once and stop).

use cairn_fuzz::{fuzz, replay, saved_inputs, Options, Target};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = Options::standard(Duration::from_secs(60));
    let mut replay_only = false;
    let mut i = 0;
    while i < args.len() {
        let value = |i: usize| -> u64 {
            args.get(i + 1)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| {
                    eprintln!("`{}` needs a number", args[i]);
                    std::process::exit(2)
                })
        };
        match args[i].as_str() {
            "--seconds" => {
                opts.duration = Duration::from_secs(value(i));
                i += 1;
            }
            "--execs" => {
                opts.max_execs = Some(value(i));
                opts.duration = Duration::from_secs(u64::MAX / 4);
                i += 1;
            }
            "--seed" => {
                opts.seed = value(i);
                i += 1;
            }
            "--no-save" => {
                opts.corpus_dir = None;
                opts.crash_dir = std::env::temp_dir().join("cairn-fuzz-crashes");
            }
            "--replay" => replay_only = true,
            "-h" | "--help" => {
                println!("cairn-fuzz [--seconds N] [--execs N] [--seed N] [--no-save] [--replay]");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("unknown argument `{other}` (try --help)");
                return ExitCode::from(2);
            }
        }
        i += 1;
    }
    if replay_only {
        let files = saved_inputs(&opts);
        let crashes = replay(&Target::new(), &files);
        println!(
            "replayed {} saved inputs: {} panic",
            files.len(),
            crashes.len()
        );
        for c in &crashes {
            println!("  {}: {}", c.input.display(), c.message);
        }
        return if crashes.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    println!(
        "fuzzing for {}s (seed {}), seeds from {} directories",
        opts.duration.as_secs(),
        opts.seed,
        opts.seed_dirs.len()
    );
    let report = fuzz(&opts);
    println!("{report}");
    for c in &report.crashes {
        println!("crash: {} — {}", c.input.display(), c.message);
    }
    for (path, took) in &report.slow {
        println!("slow: {} ({:.1}s)", path.display(), took.as_secs_f64());
    }
    if report.crashes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
