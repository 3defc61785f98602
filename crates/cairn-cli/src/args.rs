//! Command-line arguments (clap).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "cairn",
    version,
    about = "Declarative infrastructure: preview, up, destroy."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More log output (-v info, -vv debug, -vvv trace). Secrets are never logged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Run as if started in DIR (e.g. a Pulumi project's directory).
    #[arg(short = 'C', long = "cwd", global = true, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show what `up` would change.
    Preview(PreviewArgs),
    /// Create or update the stack's resources.
    Up(ApplyArgs),
    /// Delete the stack's resources (imported and protected ones are kept).
    Destroy(ApplyArgs),
    /// Read every resource from the cloud and report drift.
    Refresh(RefreshArgs),
    /// Adopt an existing cloud resource into state and print matching YAML.
    Import(ImportArgs),
    /// Inspect recorded state.
    #[command(subcommand)]
    State(StateCommand),
    /// Stack-level commands.
    #[command(subcommand)]
    Stack(StackCommand),
    /// The environment file's config values (`set --secret` encrypts, as Pulumi does).
    #[command(subcommand)]
    Config(crate::commands::config::ConfigCommand),
    /// The local AWS emulator (moto, pinned) used by `--local`.
    #[command(subcommand)]
    Emulator(EmulatorCommand),
    /// Prove the acceptance criteria on the live deployment, with evidence.
    ///
    /// Exit codes: 0 every required row passed; 1 a row failed; 2 invalid
    /// input; 3 inconclusive: nothing failed, but a required row could not
    /// be checked (e.g. the endpoint is not reachable from here, so the data
    /// plane rows are SKIP). `--control-plane-only` makes the data plane not
    /// required, and the summary says only the control plane was verified.
    #[command(verbatim_doc_comment)]
    Verify(VerifyArgs),
    /// Print the JSON Schema for stack files (for yaml-language-server).
    Schema,
    /// Print the stack's dependency graph (DOT for Graphviz, or Mermaid).
    Graph(GraphArgs),
    /// Print cairn's version and the state format it reads and writes.
    Version,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz: `cairn graph --stack dev | dot -Tsvg > graph.svg`.
    Dot,
    /// A Mermaid flowchart, as GitHub renders in markdown.
    Mermaid,
}

#[derive(Args, Debug, Clone)]
pub struct GraphArgs {
    #[command(flatten)]
    pub select: StackSelect,
    /// Output format.
    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
}

#[derive(Args, Debug, Clone)]
pub struct StackSelect {
    /// Load `stacks/NAME.yaml`, or in a Pulumi project's directory
    /// (`Pulumi.yaml`) its stack NAME (`Pulumi.NAME.yaml`).
    #[arg(long, conflicts_with = "stack_file")]
    pub stack: Option<String>,
    /// Load any stack file.
    #[arg(long)]
    pub stack_file: Option<PathBuf>,
    /// Where state lives (default `state/`, or `state/local/` with --local).
    #[arg(long, env = "CAIRN_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Where state lives: `local` (the default: sled under --state-dir) or
    /// `s3://BUCKET/PREFIX?kms_key=KEY` (shared; locked with S3 conditional writes).
    #[arg(long, env = "CAIRN_BACKEND", value_name = "URL")]
    pub backend: Option<String>,
    /// Run against the local AWS emulator, starting and seeding it if needed.
    #[arg(long)]
    pub local: bool,
    /// Open a state that belongs to another endpoint, account or region
    /// (each state records its own) and, for commands that write, rebind
    /// it to this run's: a deliberate move.
    #[arg(long)]
    pub force: bool,
    /// Override a config value: `--config key=value` (value parsed as YAML scalar).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// Build the stack with this Rust program (a `[[bin]]` or package of the
    /// workspace, built with cargo; or a built program's path) instead of
    /// the YAML template; it gets the `--stack` file's name and config on stdin.
    #[arg(long, value_name = "NAME")]
    pub program: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub select: StackSelect,
    /// Clear a lock left by a process that is gone.
    #[arg(long)]
    pub force_unlock: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(Args, Debug, Clone)]
pub struct PreviewArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Shorthand for `--format json`.
    #[arg(long)]
    pub json: bool,
    /// Plan only this resource (a logical name from the stack; repeatable)
    /// and what it depends on; the plan is marked partial. An unknown name is an error.
    #[arg(long, value_name = "NAME")]
    pub target: Vec<String>,
    /// Leave this resource (a logical name; repeatable) and everything that
    /// depends on it out of the plan. An unknown name is an error.
    #[arg(long, value_name = "NAME")]
    pub exclude: Vec<String>,
    /// Fold drift (changes made outside the engine) into the plan.
    #[arg(long)]
    pub refresh: bool,
    /// How many resources `--refresh` reads at once.
    #[arg(long, default_value_t = 10)]
    pub parallel: usize,
    /// Save the plan to FILE (no secrets in it) for `cairn up --plan FILE`.
    #[arg(long, value_name = "FILE", conflicts_with = "refresh")]
    pub out: Option<std::path::PathBuf>,
    /// Fail (exit 1) if the plan has changes: a drift check for CI.
    #[arg(long)]
    pub expect_no_changes: bool,
}

#[derive(Args, Debug, Clone)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// How many resources are read at once.
    #[arg(long, default_value_t = 10)]
    pub parallel: usize,
    /// Write the drift to state without asking (required when not on a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Show the drift only; state is not written.
    #[arg(long, conflicts_with = "yes")]
    pub preview_only: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Stream one JSON event per line on stdout instead of the text
    /// display (see docs/events-json.md); needs `--yes`.
    #[arg(long)]
    pub json: bool,
    /// Do not ask for confirmation (required when not on a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// How many resource operations may run at once.
    #[arg(long, default_value_t = 10)]
    pub parallel: usize,
    /// Act only on this resource (a logical name from the stack; repeatable):
    /// `up` applies it and what it depends on, `destroy` deletes it and what
    /// depends on it. An unknown name is an error.
    #[arg(long, value_name = "NAME")]
    pub target: Vec<String>,
    /// Leave this resource (a logical name; repeatable) alone: `up` skips it
    /// and its dependents, `destroy` keeps it and what it depends on. An
    /// unknown name is an error.
    #[arg(long, value_name = "NAME")]
    pub exclude: Vec<String>,
    /// Fail (exit 1) without applying if the plan has changes: a drift check for CI.
    #[arg(long)]
    pub expect_no_changes: bool,
    /// `up` only: apply exactly the plan `preview --out FILE` saved; refused
    /// if the state, the stack source or the config changed since.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<std::path::PathBuf>,
    /// `up` only: finish auth token rotations now (drop the old tokens still
    /// accepted beside the new ones) instead of after their overlap.
    #[arg(long)]
    pub finish_rotation: bool,
}

#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also trigger a failover and measure recovery (TestFailover on AWS;
    /// stops a primary on the local twin).
    #[arg(long)]
    pub failover_drill: bool,
    /// Verify the control plane only (AC1-AC10): the data plane (DP1-DP5)
    /// is not contacted nor required, and the summary says so. For a
    /// machine that cannot reach the cache (outside its VPC).
    #[arg(long, conflicts_with = "failover_drill")]
    pub control_plane_only: bool,
    /// CA bundle to trust for the Redis endpoint's TLS certificate.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
}

/// `import`: one resource by id, or a whole Terraform state / Pulumi bulk
/// file (`commands/import.rs`), where `--stack` names the stack and
/// `--stack-file` is the program to write, so the two go together.
#[derive(Args, Debug, Clone)]
#[command(mut_arg("stack", |a| a.conflicts_with(clap::builder::Resettable::Reset)))]
pub struct ImportArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Type token, e.g. `aws:ec2:SecurityGroup`.
    #[arg(required_unless_present_any = ["from_terraform", "file"])]
    pub type_token: Option<String>,
    /// Logical name in the stack.
    #[arg(required_unless_present_any = ["from_terraform", "file"])]
    pub name: Option<String>,
    /// Physical id in the cloud.
    #[arg(required_unless_present_any = ["from_terraform", "file"])]
    pub id: Option<String>,
    /// Adopt every managed resource of this Terraform state file (format 4,
    /// `terraform state pull > FILE`): writes the program to `--stack-file`
    /// and records the stack (named by `--stack`, else the file's name).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["file", "type_token"])]
    pub from_terraform: Option<PathBuf>,
    /// Adopt the resources of a Pulumi bulk import file
    /// (`{"resources": [{"type", "name", "id"}]}`), like --from-terraform.
    #[arg(long, value_name = "FILE", conflicts_with = "type_token")]
    pub file: Option<PathBuf>,
    /// With --from-terraform/--file: a type cairn cannot import is an error
    /// (by default such resources are listed and left out).
    #[arg(long)]
    pub strict: bool,
}

/// One resource to import by id (`cairn import TYPE NAME ID`).
#[derive(Debug, Clone)]
pub struct ImportOne {
    pub run: RunArgs,
    pub type_token: String,
    pub name: String,
    pub id: String,
}

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// List the resources in state.
    List(RunArgs),
    /// Show one resource's recorded inputs and outputs (secrets masked).
    Show {
        #[command(flatten)]
        run: RunArgs,
        /// The resource's logical name (`cairn state list` lists them).
        name: String,
    },
    /// Forget a resource: drop it from state, leaving the cloud object as
    /// it is. Refused while other resources depend on it, unless `--force`.
    Rm {
        #[command(flatten)]
        run: RunArgs,
        /// The resource's logical name (`cairn state list` lists them).
        name: String,
    },
    /// Rename a resource in state (the resources depending on it follow);
    /// rename it in the stack file too.
    Mv {
        #[command(flatten)]
        run: RunArgs,
        /// The resource's current logical name.
        old: String,
        /// Its new logical name.
        new: String,
    },
    /// Copy a stack's state to another backend (from `--backend`, default
    /// local, to `--to`), verified by reading it back; the source is kept.
    Migrate {
        #[command(flatten)]
        run: RunArgs,
        /// Destination: `local` or `s3://BUCKET/PREFIX?kms_key=KEY`.
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum StackCommand {
    /// Print the stack's outputs.
    Output {
        #[command(flatten)]
        run: RunArgs,
        /// Print secret outputs in plaintext.
        #[arg(long)]
        show_secrets: bool,
        /// Print the outputs as one JSON object.
        #[arg(long)]
        json: bool,
        /// Print only this output's value, raw (strings unquoted; others as JSON).
        name: Option<String>,
    },
    /// Print the stack's whole state as versioned JSON (secrets stay
    /// encrypted), for `stack import`.
    Export(RunArgs),
    /// Replace the stack's local state with a `stack export` file; refused
    /// while the stack records resources, unless `--force`.
    Import {
        #[command(flatten)]
        run: RunArgs,
        /// The file `cairn stack export` wrote.
        file: PathBuf,
    },
    /// List the stacks (files in `stacks/` and states under the state
    /// directory) and how many resources each records.
    Ls {
        /// Where state lives (default `state/`, or `state/local/` with --local).
        #[arg(long, env = "CAIRN_STATE_DIR")]
        state_dir: Option<PathBuf>,
        /// Look at the state of `--local` runs.
        #[arg(long)]
        local: bool,
    },
    /// Delete the stack's local state; refused while it records resources.
    Rm(RunArgs),
    /// Each run that changed the stack (up, destroy, refresh, import):
    /// when, who, the command and the summary. Local backend only.
    History {
        #[command(flatten)]
        run: RunArgs,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum EmulatorCommand {
    /// Create the emulator's virtualenv (pinned moto) if it is missing.
    Install,
    /// Start the emulator in the background (127.0.0.1, port 4566 or $LOCAL_AWS_PORT).
    Start,
    /// Stop it.
    Stop,
    /// Say whether it runs, and where.
    Status,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every flag and argument of every verb says what it is for.
    #[test]
    fn every_argument_has_help() {
        let mut missing = Vec::new();
        let mut todo = vec![(String::from("cairn"), Cli::command())];
        while let Some((path, cmd)) = todo.pop() {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                if help.trim().is_empty() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                todo.push((format!("{path} {}", sub.get_name()), sub.clone()));
            }
        }
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }

    #[test]
    fn target_help_says_what_it_does() {
        let cmd = Cli::command();
        for verb in ["preview", "up", "destroy"] {
            let sub = cmd.find_subcommand(verb).expect(verb);
            let target = sub
                .get_arguments()
                .find(|a| a.get_id() == "target")
                .expect("--target");
            let help = target.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(
                help.contains("logical") && help.contains("unknown name is an error"),
                "{verb} --target: {help:?}"
            );
        }
    }
}
