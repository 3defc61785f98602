//! Orchestration: load the stack, open state, recover, plan, confirm, apply.

use crate::args::{
    ApplyArgs, Cli, Command, EmulatorCommand, Format, ImportOne, PreviewArgs, RefreshArgs, RunArgs,
    StackCommand, StackSelect, StateCommand, VerifyArgs,
};
use crate::backend::{with_writer, Backend, Writer};
use crate::error::CliError;
use crate::{local, progress, render};
use cairn_core::diag::Problems;
use cairn_core::exec::{self, ExecOptions};
use cairn_core::plan::{self, Plan, PlanOptions};
use cairn_core::provider::CallContext;
use cairn_core::state::{ResourceState, StackState, StateSink};
use cairn_core::{Registry, StackSpec, Value};
use cairn_state::Binding;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub async fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Preview(args) => preview(args).await,
        Command::Up(args) if args.json => crate::commands::events::apply(args, false).await,
        Command::Destroy(args) if args.json => crate::commands::events::apply(args, true).await,
        Command::Up(args) => up(args).await,
        Command::Destroy(args) => destroy(args).await,
        Command::Refresh(args) => refresh(args).await,
        Command::Import(args) => crate::commands::import::run(args).await,
        Command::State(StateCommand::List(args)) => state_list(args).await,
        Command::State(StateCommand::Show { run, name }) => state_show(run, &name).await,
        Command::State(StateCommand::Migrate { run, to }) => state_migrate(run, &to).await,
        Command::State(StateCommand::Rm { run, name }) => {
            crate::commands::state::rm(run, &name).await
        }
        Command::State(StateCommand::Mv { run, old, new }) => {
            crate::commands::state::mv(run, &old, &new).await
        }
        Command::Version => Ok(crate::commands::version::run()),
        Command::Config(cmd) => crate::commands::config::run(cmd).await,
        Command::Stack(StackCommand::Export(run)) => crate::commands::stack::export(run).await,
        Command::Stack(StackCommand::Import { run, file }) => {
            crate::commands::stack::import(run, &file).await
        }
        Command::Stack(StackCommand::Ls { state_dir, local }) => {
            crate::commands::stack::ls(state_dir, local)
        }
        Command::Stack(StackCommand::Rm(run)) => crate::commands::stack::rm(run).await,
        Command::Stack(StackCommand::History { run, json }) => {
            crate::commands::history::show(run, json).await
        }
        Command::Stack(StackCommand::Output {
            run,
            show_secrets,
            json,
            name,
        }) => crate::results::stack_output(run, name, show_secrets, json).await,
        Command::Emulator(cmd) => emulator(cmd).await,
        Command::Verify(args) => verify(args).await,
        Command::Graph(args) => crate::graph::run(args).await,
        Command::Schema => {
            let registry = registry(None).await;
            println!(
                "{}",
                serde_json::to_string_pretty(&cairn_config::json_schema(&registry))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A loaded stack, ready to plan.
pub struct Loaded {
    pub spec: StackSpec,
    pub warnings: Problems,
    pub registry: Registry,
    /// The local state directory (`state/`, or `state/local/` with `--local`).
    pub state_root: PathBuf,
    pub backend: Backend,
    /// The emulator's endpoint with `--local`.
    pub endpoint: Option<String>,
    /// `--force`: open a state bound to another endpoint/account/region.
    pub force: bool,
    /// The backend URL this run chose (`None`: local), for stack references.
    pub backend_url: Option<String>,
}

impl Loaded {
    /// Where this stack's `pulumi:pulumi:StackReference`s read other stacks.
    pub fn reference_source(&self) -> crate::stack_reference::Source {
        crate::stack_reference::Source {
            backend: self.backend_url.clone(),
            state_root: self.state_root.clone(),
            endpoint: self.endpoint.clone(),
        }
    }
}

pub(crate) fn stack_path(select: &StackSelect) -> Result<PathBuf, CliError> {
    match (&select.stack, &select.stack_file) {
        (_, Some(path)) => Ok(path.clone()),
        // A Pulumi project here: its `Pulumi.<stack>.yaml` (absent: no config).
        (Some(name), None) if Path::new(cairn_config::PROJECT_FILE).is_file() => {
            Ok(PathBuf::from(format!("Pulumi.{name}.yaml")))
        }
        (Some(name), None) => {
            let path = PathBuf::from("stacks").join(format!("{name}.yaml"));
            if !path.exists() {
                return Err(crate::names::unknown_stack(name, Path::new("stacks")));
            }
            Ok(path)
        }
        (None, None) => Err(CliError::Usage(
            "say which stack: `--stack NAME` or `--stack-file PATH`".into(),
        )),
    }
}

/// For a project's `Pulumi.<stack>.yaml`: the `Pulumi.yaml` beside it
/// and the stack's name.
fn project_of(path: &Path) -> Option<(PathBuf, String)> {
    let file = path.file_name()?.to_str()?;
    let stack = file.strip_prefix("Pulumi.")?.strip_suffix(".yaml")?;
    let project = path.with_file_name(cairn_config::PROJECT_FILE);
    (!stack.is_empty() && project.is_file()).then(|| (project, stack.to_string()))
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Builds the registry: built-ins always, AWS with clients made lazily.
pub async fn registry(endpoint: Option<&str>) -> Registry {
    let mut registry = Registry::new();
    cairn_builtin::register(&mut registry);
    // Schema only: `load` replaces it with one that reads the run's backend.
    registry.register(std::sync::Arc::new(
        crate::stack_reference::StackReferenceProvider::new(None),
    ));
    #[cfg(feature = "aws")]
    cairn_aws::register_lazy(&mut registry, endpoint);
    #[cfg(not(feature = "aws"))]
    let _ = endpoint;
    registry
}

fn parse_overrides(pairs: &[String]) -> Result<BTreeMap<String, Value>, CliError> {
    let mut out = BTreeMap::new();
    for pair in pairs {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(CliError::Usage(format!(
                "`--config {pair}` must be KEY=VALUE"
            )));
        };
        let value = match v {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => v
                .parse::<i64>()
                .map(Value::Int)
                .unwrap_or_else(|_| Value::from(v)),
        };
        out.insert(k.to_string(), value);
    }
    Ok(out)
}

/// Loads and validates the stack (all problems at once), with `--local` set up.
pub async fn load(select: &StackSelect) -> Result<Loaded, CliError> {
    let path = stack_path(select)?;
    let project = project_of(&path);
    let bytes = match &project {
        // A project's stack may have no settings file yet.
        Some(_) if !path.exists() => Vec::new(),
        _ => read(&path)?,
    };
    if let (Some(_), false) = (&project, select.local) {
        // `aws:region` in Pulumi.<stack>.yaml is the run's region, as in Pulumi.
        if let Some(region) =
            cairn_config::project_stack_region(&path.display().to_string(), &bytes)
        {
            std::env::set_var("AWS_REGION", region);
        }
    }
    let mut overrides = parse_overrides(&select.config)?;
    // `secure:` config values, decrypted (their entries blanked in `bytes`).
    let (bytes, secure) =
        crate::commands::config::resolve_secure(&path, &bytes, select.state_dir.as_deref())?;
    for (k, v) in secure {
        overrides.entry(k).or_insert(v);
    }
    let (endpoint, boot_id) = if select.local {
        let local = local::Local::prepare().await?;
        (Some(local.endpoint), local.boot_id)
    } else {
        (None, None)
    };
    let state_root = select.state_dir.clone().unwrap_or_else(|| {
        if select.local {
            PathBuf::from("state").join("local")
        } else {
            PathBuf::from("state")
        }
    });
    let chosen = backend_choice(&path, &bytes, select.backend.as_deref())?;
    if let (Some(boot), None | Some("local")) = (&boot_id, chosen.as_deref()) {
        local::forget_previous_emulator(&state_root, boot)?;
    }
    let mut registry = registry(endpoint.as_deref()).await;
    registry.register(std::sync::Arc::new(
        crate::stack_reference::StackReferenceProvider::new(Some(crate::stack_reference::Source {
            backend: chosen.clone(),
            state_root: state_root.clone(),
            endpoint: endpoint.clone(),
        })),
    ));
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let read_template = |name: &str| std::fs::read(dir.join(name)).map_err(|e| e.to_string());
    let stack_name = match &project {
        Some((_, stack)) => stack.clone(),
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let invoke = |token: &str, args: &cairn_core::value::Map| {
        crate::invoke::run(&registry, &stack_name, token, args)
    };
    let read_resource = |token: &str, id: &str, state: &cairn_core::value::Map| {
        crate::invoke::read(&registry, &stack_name, token, id, state)
    };
    let program = cairn_config::Program {
        invoke: Some(&invoke),
        read: Some(&read_resource),
        ..Default::default()
    };
    let (spec, mut warnings) = match &select.program {
        // A Rust stack program in a Pulumi project's directory: the
        // project's name and the stack's un-namespaced config, as for
        // `runtime: rust`.
        Some(name) if project.is_some() => {
            let Some((project_file, stack)) = project.as_ref() else {
                unreachable!("matched Some")
            };
            let project_bytes = read(project_file)?;
            let shown = path.display().to_string();
            let stack_file = path.exists().then_some((shown.as_str(), bytes.as_slice()));
            let (rust, mut warnings) = cairn_config::program_project(
                &project_file.display().to_string(),
                &project_bytes,
                stack_file,
                name,
            )?;
            let (spec, more) = crate::program::load_project(&rust, stack, &overrides, &registry)?;
            warnings.problems.extend(more.problems);
            (spec, warnings)
        }
        // A Rust stack program: its spec, from the same file's config.
        Some(name) => crate::program::load(name, &path, &bytes, &overrides, &registry)?,
        // A Pulumi project's stack (`Pulumi.yaml` + `Pulumi.<stack>.yaml`).
        None if project.is_some() => {
            let Some((project_file, stack)) = project.as_ref() else {
                unreachable!("matched Some")
            };
            let project_bytes = read(project_file)?;
            let shown = path.display().to_string();
            let stack_file = path.exists().then_some((shown.as_str(), bytes.as_slice()));
            // `runtime: rust`: the project's Rust program, as `--program` runs it.
            let rust = cairn_config::rust_project(
                &project_file.display().to_string(),
                &project_bytes,
                stack_file,
            )?;
            if let Some((rust, mut warnings)) = rust {
                let (spec, more) =
                    crate::program::load_project(&rust, stack, &overrides, &registry)?;
                warnings.problems.extend(more.problems);
                (spec, warnings)
            } else {
                cairn_config::load_project(
                    &project_file.display().to_string(),
                    &project_bytes,
                    stack,
                    path.exists().then_some((shown.as_str(), bytes.as_slice())),
                    &read_template,
                    &registry,
                    &overrides,
                    &program,
                )?
            }
        }
        None => cairn_config::load_stack_layered_in(
            &path.display().to_string(),
            &bytes,
            &read_template,
            &registry,
            &overrides,
            &program,
        )?,
    };
    let policy = cairn_policy::evaluate(&spec);
    if policy.has_errors() {
        return Err(CliError::Invalid(policy));
    }
    warnings.extend(policy.problems);
    let backend = Backend::parse(chosen.as_deref(), &state_root, endpoint.as_deref()).await?;
    Ok(Loaded {
        spec,
        warnings,
        registry,
        state_root,
        backend,
        endpoint,
        force: select.force,
        backend_url: chosen,
    })
}

/// The code of a `--backend`/`$CAIRN_BACKEND` that disagrees with the
/// environment file's `backend:`.
pub const BACKEND_MISMATCH_CODE: &str = "cairn::backend::mismatch";

/// The backend of this run: the environment file's `backend:` when it names
/// one (a `--backend`/`$CAIRN_BACKEND` naming another is an error pointing
/// at that line), else the flag or variable.
fn backend_choice(
    path: &Path,
    bytes: &[u8],
    given: Option<&str>,
) -> Result<Option<String>, CliError> {
    let given = given.map(str::trim).filter(|g| !g.is_empty());
    let Some(declared) = cairn_config::declared_backend(&path.display().to_string(), bytes) else {
        return Ok(given.map(str::to_string));
    };
    match given {
        Some(g) if g != declared.url => {
            let problem = cairn_core::diag::Problem::error(
                BACKEND_MISMATCH_CODE,
                format!(
                    "--backend (or $CAIRN_BACKEND) is `{g}`, but {} keeps this stack's state in `{}`",
                    path.display(),
                    declared.url
                ),
            )
            .at(Some(declared.span), "this stack's state lives here")
            .help("drop --backend and unset CAIRN_BACKEND for this stack, or change the file's `backend:` (moving state is `cairn state migrate`)")
            .in_source(Some(&declared.source));
            Err(CliError::Invalid(Problems {
                file: Some(path.display().to_string()),
                problems: vec![problem],
            }))
        }
        _ => Ok(Some(declared.url)),
    }
}

/// Takes the stack's writer lock and checks that its state belongs to this
/// run's endpoint, account and region (a state without a binding adopts it).
pub(crate) async fn open_writer(loaded: &Loaded, run: &RunArgs) -> Result<Writer, CliError> {
    let writer = loaded
        .backend
        .open_writer(&loaded.spec.name, run.force_unlock)
        .await?;
    let current = binding(loaded, true).await;
    match writer.bind(&current, loaded.force).await {
        Ok(None) => Ok(writer),
        Ok(Some(old)) => {
            eprintln!(
                "warning: --force: the state of `{}` belonged to {old}; it now belongs to {current}",
                loaded.spec.name
            );
            Ok(writer)
        }
        Err(e) => {
            if let Err(close) = writer.close().await {
                eprintln!("warning: after the error below, closing the state also failed: {close}");
            }
            Err(e)
        }
    }
}

/// Recorded state for read-only commands; a stack never applied has none.
/// A `--local` reader refuses a state bound elsewhere (unless `--force`).
pub(crate) async fn read_state(loaded: &Loaded) -> Result<StackState, CliError> {
    Ok(read_state_opt(loaded).await?.unwrap_or_default())
}

/// Like `read_state`, but `None` for a stack that has no state.
pub(crate) async fn read_state_opt(loaded: &Loaded) -> Result<Option<StackState>, CliError> {
    let check = match loaded.endpoint {
        Some(_) => Some(binding(loaded, false).await),
        None => None,
    };
    loaded
        .backend
        .read_opt(&loaded.spec.name, check.as_ref(), loaded.force)
        .await
}

/// Where this run acts: the emulator's endpoint with `--local`, else
/// `$AWS_ENDPOINT_URL` or real AWS. The account and region come from STS
/// with `--local`, and for `identity` (writers) of a stack with AWS
/// resources; a run of built-in types only leaves them unknown.
async fn binding(loaded: &Loaded, identity: bool) -> Binding {
    let endpoint = match &loaded.endpoint {
        Some(e) => e.clone(),
        None => std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| cairn_state::binding::AWS_ENDPOINT.to_string()),
    };
    let uses_aws = loaded
        .spec
        .resources
        .iter()
        .any(|r| r.type_token.starts_with("aws:"));
    let (account, region) = if loaded.endpoint.is_some() || (identity && uses_aws) {
        identify(loaded.endpoint.as_deref()).await
    } else {
        (None, None)
    };
    Binding {
        endpoint,
        account,
        region,
    }
}

/// The caller's account (STS) and the configured region.
#[cfg(feature = "aws")]
async fn identify(endpoint: Option<&str>) -> (Option<String>, Option<String>) {
    let sdk = cairn_aws::load_sdk_config(endpoint).await;
    let region = sdk.region().map(|r| r.to_string());
    let account = match cairn_aws::verify_credentials(&sdk).await {
        Ok(account) if !account.is_empty() => Some(account),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!("the state records no account: {e}");
            None
        }
    };
    (account, region)
}

#[cfg(not(feature = "aws"))]
async fn identify(_endpoint: Option<&str>) -> (Option<String>, Option<String>) {
    (None, None)
}

/// Settles what a crashed run left in the journal before planning.
pub(crate) async fn recover(
    writer: &Writer,
    registry: &Registry,
    stack: &str,
) -> Result<StackState, CliError> {
    let store = writer.store();
    let pending = store.pending_intents()?;
    let state = store.load()?;
    if pending.is_empty() {
        return Ok(state);
    }
    eprintln!(
        "recovering {} operation(s) interrupted by an earlier run",
        pending.len()
    );
    let report =
        cairn_core::reconcile::reconcile(&pending, &state, registry, writer.sink(), stack).await?;
    eprintln!("{report}");
    writer.sync().await?;
    Ok(store.load()?)
}

/// Each warning once, compactly (see `render::warnings`).
fn emit_warnings(warnings: &Problems, plan: Option<&Plan>) {
    let all = render::warnings::collect(
        warnings
            .problems
            .iter()
            .chain(plan.map(|p| p.warnings.iter()).into_iter().flatten()),
    );
    eprint!("{}", render::warnings::text(&all, render::colour_stderr()));
}

/// The time for pending provider steps, finishing them now with `--finish-rotation`.
pub(crate) fn finish_rotation(now: bool) -> cairn_core::provider::PendingOptions {
    cairn_core::provider::PendingOptions {
        finish_now: now,
        ..cairn_core::provider::PendingOptions::now()
    }
}

fn plan_options(target: &[String], exclude: &[String]) -> PlanOptions {
    PlanOptions {
        targets: target.to_vec(),
        excludes: exclude.to_vec(),
    }
}

async fn preview(args: PreviewArgs) -> Result<ExitCode, CliError> {
    let loaded = load(&args.run.select).await?;
    let recorded = read_state(&loaded).await?;
    let recorded = crate::stack_reference::resolve(&loaded, recorded).await?;
    crate::results::note_pending(&loaded).await?;
    let (state, drift) = if args.refresh {
        cap_aws_calls(args.parallel);
        cairn_core::drift::refresh_with(
            &recorded,
            &loaded.registry,
            &loaded.spec.name,
            args.parallel,
        )
        .await?
    } else {
        (recorded, Vec::new())
    };
    let mut plan = plan::plan(
        &loaded.spec,
        &state,
        &loaded.registry,
        &plan_options(&args.target, &args.exclude),
    )?;
    plan.drift = drift;
    if let Some(out) = &args.out {
        let file = stack_path(&args.run.select)?;
        let doc =
            crate::saved_plan::document(&loaded, &file, &args.run.select.config, &state, &plan);
        crate::saved_plan::write(out, &doc)?;
        eprintln!(
            "plan saved to {}; apply it with `cairn up --plan {}`",
            out.display(),
            out.display()
        );
    }
    let format = if args.json { Format::Json } else { args.format };
    match format {
        Format::Text => {
            emit_warnings(&loaded.warnings, Some(&plan));
            print!("{}", render::text::plan(&plan, render::colour_stdout()));
            print!("{}", render::text::reads(&loaded.spec.externals));
        }
        Format::Json => {
            let mut doc = plan.to_json();
            let warnings =
                render::warnings::collect(loaded.warnings.problems.iter().chain(&plan.warnings));
            doc["warnings"] = warnings.iter().map(|w| w.to_json()).collect();
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        Format::Markdown => print!("{}", render::markdown::plan(&plan, &loaded.warnings)),
    }
    crate::results::expect_no_changes(args.expect_no_changes, &plan)?;
    Ok(ExitCode::SUCCESS)
}

fn confirm(yes: bool, question: &str) -> Result<bool, CliError> {
    crate::prompt::confirm(yes, question)
}

/// y/N, or the stack's name typed for a production stack's destroy or
/// stateful replacement.
fn confirm_plan(yes: bool, plan: &Plan, destroy: bool, question: &str) -> Result<bool, CliError> {
    match crate::prompt::typed_name_reason(plan, destroy) {
        Some(reason) => crate::prompt::confirm_name(yes, &reason, &plan.stack),
        None => confirm(yes, question),
    }
}

/// `--parallel` is also the cap on AWS calls in flight per service (the
/// adaptive limiter stays below it).
fn cap_aws_calls(parallel: usize) {
    #[cfg(feature = "aws")]
    cairn_aws::concurrency::set_max_concurrency(parallel.max(1));
    #[cfg(not(feature = "aws"))]
    let _ = parallel;
}

async fn execute(
    plan: &Plan,
    loaded: &Loaded,
    state: &StackState,
    writer: &Writer,
    parallel: usize,
) -> Result<ExitCode, CliError> {
    cap_aws_calls(parallel);
    let started = cairn_state::history::now();
    let display = progress::Display::new(plan);
    let interrupts = crate::interrupt::Interrupts::watch();
    let options = ExecOptions::new(&loaded.spec.name)
        .with_cancel(interrupts.cancel.clone())
        .with_parallel(parallel.max(1))
        .with_events(display.sink())
        .with_first_op_id(writer.store().next_op_id());
    let killswitch = crate::killswitch::KillSwitch::from_env(writer.sink());
    let sink: &dyn StateSink = match &killswitch {
        Some(k) => k,
        None => writer.sink(),
    };
    let report = exec::apply(
        plan,
        Some(&loaded.spec),
        state,
        &loaded.registry,
        sink,
        &options,
    )
    .await;
    writer.sync().await?;
    display.finish(&report);
    crate::commands::history::record(writer, started, report.ok(), &plan.summary().line());
    if let (true, Some(code)) = (report.interrupted, interrupts.exit_code()) {
        eprintln!("{}", crate::interrupt::summary(&report));
        return Ok(ExitCode::from(code));
    }
    if report.ok() {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}

async fn up(args: ApplyArgs) -> Result<ExitCode, CliError> {
    let saved = match &args.plan {
        Some(path) => Some((path, crate::saved_plan::read(path)?)),
        None => None,
    };
    let loaded = load(&args.run.select).await?;
    if let Some((path, doc)) = &saved {
        if doc["stack"] != loaded.spec.name.as_str() {
            return Err(CliError::StalePlan {
                path: path.display().to_string(),
                what: format!(
                    "it is for stack {}, this run is `{}`",
                    doc["stack"], loaded.spec.name
                ),
            });
        }
    }
    if args.run.select.local {
        local::bring_up_references(&loaded, &stack_path(&args.run.select)?).await?;
    }
    let writer = open_writer(&loaded, &args.run).await?;
    with_writer(writer, async |writer: &Writer| {
        let recorded = recover(writer, &loaded.registry, &loaded.spec.name).await?;
        let state = crate::stack_reference::resolve(&loaded, recorded.clone()).await?;
        let plan = plan::plan_with(
            &loaded.spec,
            &state,
            &loaded.registry,
            &plan_options(&args.target, &args.exclude),
            &finish_rotation(args.finish_rotation),
        )?;
        if let Some((path, doc)) = &saved {
            let file = stack_path(&args.run.select)?;
            let now =
                crate::saved_plan::document(&loaded, &file, &args.run.select.config, &state, &plan);
            crate::saved_plan::check(path, doc, &now)?;
        }
        emit_warnings(&loaded.warnings, Some(&plan));
        print!("{}", render::text::plan(&plan, render::colour_stdout()));
        crate::results::expect_no_changes(args.expect_no_changes, &plan)?;
        if !plan.has_changes() {
            crate::stack_reference::record(writer, &recorded, &state)?;
            if state.outputs != plan.outputs {
                writer
                    .sink()
                    .set_outputs(&plan.outputs)
                    .await
                    .map_err(|e| CliError::Failed(e.to_string()))?;
            }
            print!("{}", crate::results::outputs_block(&plan.outputs));
            return Ok(ExitCode::SUCCESS);
        }
        let question = format!("Apply these changes ({})?", plan.summary().line());
        if !confirm_plan(args.yes, &plan, false, &question)? {
            eprintln!("cancelled");
            return Ok(ExitCode::from(1));
        }
        crate::stack_reference::record(writer, &recorded, &state)?;
        let code = execute(&plan, &loaded, &state, writer, args.parallel).await?;
        let outputs = writer.store().load()?.outputs;
        print!("{}", crate::results::outputs_block(&outputs));
        Ok(code)
    })
    .await
}

async fn destroy(args: ApplyArgs) -> Result<ExitCode, CliError> {
    if args.plan.is_some() {
        return Err(CliError::Usage(
            "--plan is for `cairn up`; destroy plans are not saved".into(),
        ));
    }
    let loaded = load(&args.run.select).await?;
    let writer = open_writer(&loaded, &args.run).await?;
    let code = with_writer(writer, async |writer: &Writer| {
        let state = recover(writer, &loaded.registry, &loaded.spec.name).await?;
        let mut plan = plan::plan_destroy(&state, &plan_options(&args.target, &args.exclude));
        plan::apply_deleted_with(&mut plan, &loaded.spec);
        plan.stack = loaded.spec.name.clone();
        crate::names::refuse_unknown_targets(&plan)?;
        crate::destroy_notes::explain_imported(&mut plan, &state);
        emit_warnings(&loaded.warnings, Some(&plan));
        print!("{}", render::text::plan(&plan, render::colour_stdout()));
        crate::results::expect_no_changes(args.expect_no_changes, &plan)?;
        let whole = !plan.partial;
        if !plan.has_changes() {
            if whole && !state.outputs.is_empty() {
                clear_outputs(writer).await?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        let question = format!("Destroy these resources ({})?", plan.summary().line());
        if !confirm_plan(args.yes, &plan, true, &question)? {
            eprintln!("cancelled");
            return Ok(ExitCode::from(1));
        }
        let code = execute(&plan, &loaded, &state, writer, args.parallel).await?;
        // A whole destroy leaves no outputs, even from resources it kept.
        if whole && code == ExitCode::SUCCESS {
            clear_outputs(writer).await?;
        }
        Ok(code)
    })
    .await?;
    if args.run.select.local && code == ExitCode::SUCCESS {
        eprintln!("local: the emulator keeps running; `cargo xtask emulator stop` stops it");
    }
    Ok(code)
}

async fn clear_outputs(writer: &Writer) -> Result<(), CliError> {
    writer
        .sink()
        .set_outputs(&cairn_core::Map::new())
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?;
    writer.sync().await
}

async fn refresh(args: RefreshArgs) -> Result<ExitCode, CliError> {
    let (parallel, yes, preview_only) = (args.parallel, args.yes, args.preview_only);
    cap_aws_calls(parallel);
    let args = args.run;
    let loaded = load(&args.select).await?;
    if preview_only {
        return crate::results::refresh_preview(&loaded, parallel).await;
    }
    let writer = open_writer(&loaded, &args).await?;
    with_writer(writer, async |writer: &Writer| {
        let state = recover(writer, &loaded.registry, &loaded.spec.name).await?;
        let (refreshed, drift) =
            cairn_core::drift::refresh_with(&state, &loaded.registry, &loaded.spec.name, parallel)
                .await?;
        print!("{}", render::text::drift(&drift));
        if drift.is_empty() && refreshed == state {
            println!(
                "refresh: no drift; state already records what the cloud has (nothing was written)"
            );
            return Ok(ExitCode::SUCCESS);
        }
        let question = format!("Record this drift ({} resource(s)) in state?", drift.len());
        if !confirm(yes, &question)? {
            eprintln!("cancelled");
            return Ok(ExitCode::from(1));
        }
        writer.replace_all(&refreshed)?;
        writer.sync().await?;
        let drifted = format!("refresh: {} resource(s) drifted", drift.len());
        crate::commands::history::record(writer, cairn_state::history::now(), true, &drifted);
        println!(
            "refresh: {} resource(s) drifted; state now records what the cloud has",
            drift.len()
        );
        Ok(ExitCode::SUCCESS)
    })
    .await
}

pub(crate) async fn import(args: ImportOne) -> Result<ExitCode, CliError> {
    let loaded = load(&args.run.select).await?;
    let Some(provider) = loaded.registry.get(&args.type_token).cloned() else {
        return Err(CliError::Usage(format!(
            "unknown type `{}`",
            args.type_token
        )));
    };
    let ctx = CallContext::new(&loaded.spec.name, &args.name);
    let Some(observed) = provider.read(&ctx, &args.id, &Default::default()).await? else {
        return Err(CliError::Failed(format!(
            "{} `{}` was not found",
            args.type_token, args.id
        )));
    };
    let schema = provider.schema();
    let rs = ResourceState {
        name: args.name.clone(),
        type_token: args.type_token.clone(),
        id: observed.id.clone(),
        inputs: schema.normalize_inputs(&observed.inputs),
        outputs: schema.normalize_outputs(&observed.outputs),
        dependencies: Vec::new(),
        protect: true,
        retain_on_delete: false,
        imported: true,
        ..Default::default()
    };
    let writer = open_writer(&loaded, &args.run).await?;
    with_writer(writer, async |writer: &Writer| {
        let mut state = recover(writer, &loaded.registry, &loaded.spec.name).await?;
        state.resources.insert(args.name.clone(), rs.clone());
        writer.replace_all(&state)?;
        let what = format!("import: {} as {}", args.type_token, args.name);
        crate::commands::history::record(writer, cairn_state::history::now(), true, &what);
        writer.sync().await
    })
    .await?;
    eprintln!(
        "imported {} `{}` as {} (protected)",
        args.type_token, args.id, args.name
    );
    print!("{}", render::text::resource_yaml(&rs));
    Ok(ExitCode::SUCCESS)
}

async fn state_list(args: RunArgs) -> Result<ExitCode, CliError> {
    let loaded = load(&args.select).await?;
    let Some(state) = read_state_opt(&loaded).await? else {
        return Err(crate::results::no_state(&loaded));
    };
    crate::results::note_pending(&loaded).await?;
    for (name, rs) in &state.resources {
        let flags = [
            (rs.protect, "protected"),
            (rs.imported, "imported"),
            (rs.external, "external"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, f)| *f)
        .collect::<Vec<_>>()
        .join(",");
        println!("{name}\t{}\t{}\t{flags}", rs.type_token, rs.id);
    }
    Ok(ExitCode::SUCCESS)
}

async fn state_show(args: RunArgs, name: &str) -> Result<ExitCode, CliError> {
    let loaded = load(&args.select).await?;
    let state = read_state(&loaded).await?;
    let Some(rs) = state.resources.get(name) else {
        let known = state.resources.keys().map(String::as_str);
        return Err(crate::names::unknown_resource(
            name,
            &loaded.spec.name,
            known,
        ));
    };
    let masked = |m: &cairn_core::Map| {
        serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), v.to_masked_json()))
                .collect(),
        )
    };
    let doc = serde_json::json!({
        "name": rs.name, "type": rs.type_token, "id": rs.id,
        "protect": rs.protect, "imported": rs.imported, "dependencies": rs.dependencies,
        "external": rs.external, "deletedWith": rs.deleted_with,
        "inputs": masked(&rs.inputs), "outputs": masked(&rs.outputs),
    });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    Ok(ExitCode::SUCCESS)
}

/// `state migrate`: copies a stack's state to another backend, checks the
/// copy by reading it back, and leaves the source as it was.
async fn state_migrate(run: RunArgs, to: &str) -> Result<ExitCode, CliError> {
    let loaded = load(&run.select).await?;
    let stack = loaded.spec.name.clone();
    let dest = Backend::parse(Some(to), &loaded.state_root, loaded.endpoint.as_deref()).await?;
    if dest.describe() == loaded.backend.describe() {
        return Err(CliError::Usage(format!(
            "the stack already lives in {}: pass `--backend` for where it is now and `--to` for where it goes",
            dest.describe()
        )));
    }
    let source = open_writer(&loaded, &run).await?;
    let state = with_writer(source, async |source: &Writer| {
        let pending = source.store().pending_intents()?;
        if !pending.is_empty() {
            return Err(CliError::Failed(format!(
                "stack `{stack}` in {} has {} operation(s) in flight from an interrupted run; run `cairn up` or `cairn refresh` against it first so they are settled, then migrate",
                loaded.backend.describe(),
                pending.len()
            )));
        }
        let state = source.store().load()?;
        let target = dest.open_writer(&stack, false).await?;
        with_writer(target, async |target: &Writer| {
            let existing = target.store().load()?;
            let in_flight = target.store().pending_intents()?.len();
            if in_flight > 0 || (!existing.resources.is_empty() && existing != state) {
                return Err(CliError::Failed(format!(
                    "{} already holds a different state for `{stack}` ({} resource(s), {in_flight} in flight); nothing was changed",
                    dest.describe(),
                    existing.resources.len()
                )));
            }
            target.replace_all(&state)?;
            target.sync().await
        })
        .await?;
        Ok(state)
    })
    .await?;
    // Read the copy back through the destination, as the next run will.
    let copied = dest.read(&stack, None, false).await?;
    if copied != state {
        return Err(CliError::Failed(format!(
            "the copy in {} does not read back equal to the source; the source in {} is unchanged",
            dest.describe(),
            loaded.backend.describe()
        )));
    }
    println!(
        "migrated stack `{stack}`: {} resource(s) and {} output(s) from {} to {} (verified by reading back)",
        state.resources.len(),
        state.outputs.len(),
        loaded.backend.describe(),
        dest.describe()
    );
    println!(
        "the source is left as it was; use `--backend {to}` from now on, and delete the old state once satisfied"
    );
    Ok(ExitCode::SUCCESS)
}

async fn emulator(cmd: EmulatorCommand) -> Result<ExitCode, CliError> {
    let cfg = local::emulator_config();
    match cmd {
        EmulatorCommand::Install => {
            let venv = cairn_emulator::Emulator::ensure_venv()?;
            println!("emulator virtualenv ready at {}", venv.display());
        }
        EmulatorCommand::Start => {
            let status = cairn_emulator::daemon_start(&cfg)?;
            println!("{}", local::describe(&status));
        }
        EmulatorCommand::Stop => {
            let stopped = cairn_emulator::daemon_stop(&cfg.state_dir)?;
            if let Some(pid) = stopped.stale_pid {
                println!("removed a stale pid file: process {pid} is not the emulator and was not signalled");
            }
            println!("emulator stopped");
        }
        EmulatorCommand::Status => {
            let status = cairn_emulator::daemon_status(&cfg.state_dir)?;
            println!("{}", local::describe(&status));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "aws")]
async fn verify(args: VerifyArgs) -> Result<ExitCode, CliError> {
    let loaded = load(&args.run.select).await?;
    let state = read_state(&loaded).await?;
    let root = std::env::current_dir().map_err(|e| CliError::Failed(e.to_string()))?;
    let expectations = cairn_verify::Expectations::from_state(&loaded.spec, &state, &root)
        .map_err(|e| CliError::Failed(format!("{e}")))?;
    let sdk = cairn_aws::load_sdk_config(loaded.endpoint.as_deref()).await;
    let options = cairn_verify::VerifyOptions {
        failover_drill: args.failover_drill,
        ca_file: args.ca_file.clone(),
        control_plane_only: args.control_plane_only,
        ..Default::default()
    };
    let report = cairn_verify::verify(&sdk, &expectations, &options).await;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.to_json()).unwrap_or_default()
        );
    } else {
        print!("{}", report.to_table());
    }
    // 0 ok, 1 failed, 3 inconclusive (a required row could not be checked).
    Ok(ExitCode::from(report.verdict().exit_code()))
}

#[cfg(not(feature = "aws"))]
async fn verify(_args: VerifyArgs) -> Result<ExitCode, CliError> {
    Err(CliError::Usage(
        "this build has no AWS provider; rebuild with the `aws` feature".into(),
    ))
}
