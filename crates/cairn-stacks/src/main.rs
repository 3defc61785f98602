//! `redis-cache`: the Redis caching layer as a stack program. The CLI runs
//! it (`cairn preview --stack prod --program redis-cache`) with the stack's
//! name and config on stdin; it prints the stack on stdout.

use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("redis-cache: cannot read the CLI's input on stdin: {e}");
        return ExitCode::from(2);
    }
    match cairn_core::dsl::program::respond(&input, cairn_stacks::program) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("redis-cache: {e}");
            ExitCode::from(2)
        }
    }
}
