//! The `cairn` binary's library: argument parsing, orchestration and rendering.
//! Only this crate renders miette reports; libraries return typed errors.

mod args;
mod backend;
mod commands;
mod destroy_notes;
mod engine;
mod error;
mod graph;
mod interrupt;
mod invoke;
mod killswitch;
mod local;
mod names;
mod program;
mod progress;
mod prompt;
mod render;
mod results;
mod saved_plan;
mod stack_reference;

pub use args::Cli;
pub use error::CliError;

use clap::Parser;
use std::process::ExitCode;

/// Exit codes: 0 success, 1 an operation failed, 2 invalid input,
/// 3 `verify` inconclusive (a required row could not be checked).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    if let Some(dir) = &cli.cwd {
        if let Err(e) = std::env::set_current_dir(dir) {
            eprintln!("error: --cwd {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(engine::run(cli)) {
        Ok(code) => code,
        Err(CliError::Interrupted { code }) => {
            eprintln!("\n{}", CliError::Interrupted { code });
            ExitCode::from(code)
        }
        Err(mut err) => {
            if let CliError::Invalid(problems) = &mut err {
                problems.ensure_help();
            }
            let code = err.exit_code();
            eprintln!("{:?}", miette::Report::new(err));
            ExitCode::from(code)
        }
    }
}

/// Log targets of the AWS SDK capped at info (see `init_logging`).
const SDK_LOG_TARGETS: &[&str] = &[
    "aws_config",
    "aws_credential_types",
    "aws_runtime",
    "aws_sigv4",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_sdk_sts",
    "aws_sdk_sso",
    "aws_sdk_ssooidc",
    "hyper",
    "hyper_util",
    "h2",
];

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let requested = std::env::var("CAIRN_LOG").unwrap_or_default();
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // The SDK's credential, signing and wire logs name identities (access
    // key ids) at debug: capped at info unless CAIRN_LOG names them itself.
    for target in SDK_LOG_TARGETS {
        if !requested.contains(target) {
            if let Ok(d) = format!("{target}=info").parse() {
                filter = filter.add_directive(d);
            }
        }
    }
    // Reports, logs and progress go to stderr: coloured only when it is a
    // terminal (or CLICOLOR_FORCE), never with NO_COLOR.
    let colour = render::colour_stderr();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .try_init();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .color(colour)
                .terminal_links(colour)
                .unicode(!no_color)
                .build(),
        )
    }));
}
