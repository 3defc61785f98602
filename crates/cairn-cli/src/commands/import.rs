//! `cairn import`: one resource by id (`engine::import`), or everything in
//! a Terraform state file (`--from-terraform`) or a Pulumi bulk import file
//! (`--file`): each resource is read from the cloud by id (read calls
//! only), the disagreements between Terraform and the cloud are reported,
//! the program is written to `--stack-file` and the stack's state records
//! every resource as imported and protected, so the next preview is empty.

use crate::args::{ImportArgs, ImportOne};
use crate::backend::{with_writer, Backend, Writer};
use crate::engine::{open_writer, recover, registry, Loaded};
use crate::error::CliError;
use cairn_core::plan::{self, Action, PlanOptions};
use cairn_core::provider::CallContext;
use cairn_core::{Map, Registry, StackState, Value};
use cairn_import::{Found, ImportError, Selection};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// How many resources are read at once.
const PARALLEL_READS: usize = 8;

pub async fn run(args: ImportArgs) -> Result<ExitCode, CliError> {
    let (source, bulk) = match (&args.from_terraform, &args.file) {
        (Some(f), _) => (f.clone(), false),
        (None, Some(f)) => (f.clone(), true),
        (None, None) => return one(args).await,
    };
    many(args, &source, bulk).await
}

async fn one(args: ImportArgs) -> Result<ExitCode, CliError> {
    let select = &args.run.select;
    if select.stack.is_some() && select.stack_file.is_some() {
        return Err(CliError::Usage(
            "give `--stack NAME` or `--stack-file PATH`, not both (both go together only with --from-terraform or --file)".into(),
        ));
    }
    let (Some(type_token), Some(name), Some(id)) = (args.type_token, args.name, args.id) else {
        return Err(CliError::Usage(
            "say what to import: `cairn import TYPE NAME ID`, or `--from-terraform FILE` / `--file FILE`".into(),
        ));
    };
    crate::engine::import(ImportOne {
        run: args.run,
        type_token,
        name,
        id,
    })
    .await
}

/// An import error as the CLI shows every diagnostic; input errors exit 2.
fn refuse(e: ImportError) -> ExitCode {
    eprintln!("{:?}", miette::Report::new(e));
    ExitCode::from(2)
}

async fn many(args: ImportArgs, source: &Path, bulk: bool) -> Result<ExitCode, CliError> {
    let select = &args.run.select;
    let flag = if bulk { "--file" } else { "--from-terraform" };
    let Some(out) = select.stack_file.clone() else {
        return Err(CliError::Usage(format!(
            "{flag} needs `--stack-file OUT.yaml`: where the imported program is written"
        )));
    };
    if out.exists() {
        return Err(CliError::Usage(format!(
            "{} already exists; `cairn import {flag}` writes a new program: choose another --stack-file, or move that file away",
            out.display()
        )));
    }
    let stack = match &select.stack {
        Some(s) => s.clone(),
        None => out
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string(),
    };
    if stack.is_empty() {
        return Err(CliError::Usage(
            "name the stack: `--stack NAME` (or a --stack-file whose name says it)".into(),
        ));
    }
    let text = std::fs::read(source).map_err(|e| CliError::Read {
        path: source.to_path_buf(),
        source: e,
    })?;
    let text = String::from_utf8_lossy(&text).into_owned();
    let file = source.display().to_string();

    let endpoint = if select.local {
        let status = cairn_emulator::daemon_start(&crate::local::emulator_config())?;
        Some(status.endpoint.clone().ok_or_else(|| {
            CliError::Failed(format!(
                "the emulator did not report its endpoint; see {}",
                status.log_path.display()
            ))
        })?)
    } else {
        None
    };
    let registry = registry(endpoint.as_deref()).await;
    let schema_of = |t: &str| registry.schema(t);

    let selection: Selection = if bulk {
        match cairn_import::bulk::select(&file, &text, &schema_of) {
            Ok(s) => s,
            Err(e) => return Ok(refuse(e)),
        }
    } else {
        let state = match cairn_import::tfstate::parse(&file, &text) {
            Ok(s) => s,
            Err(e) => return Ok(refuse(e)),
        };
        if let Some(v) = &state.terraform_version {
            eprintln!(
                "{file}: Terraform {v} state, {} managed instance(s)",
                state.instances.len()
            );
        }
        match cairn_import::mapping::select(&file, &state, &schema_of) {
            Ok(s) => s,
            Err(e) => return Ok(refuse(e)),
        }
    };
    drop(text);
    for d in &selection.skipped_data {
        eprintln!("skipped (data source, nothing to adopt): {d}");
    }
    for u in &selection.unknown {
        eprintln!("skipped (not importable): {} — {}", u.address, u.why);
    }
    if args.strict {
        if let Err(e) = selection.strict() {
            return Ok(refuse(e));
        }
    }
    if selection.candidates.is_empty() {
        return Err(CliError::Failed(format!(
            "{file} has nothing cairn can import; nothing was written"
        )));
    }

    let hints: Vec<_> = selection
        .candidates
        .iter()
        .map(|c| (c.address.as_str(), &c.name_hint))
        .collect();
    let names = cairn_import::names::assign(&hints);
    let found = read_all(&registry, &stack, &selection, &names).await?;

    let program =
        cairn_import::program::build_with_outputs(&stack, &file, &found, &selection.outputs);
    if !program.disagreements.is_empty() {
        eprintln!("Terraform's state and the cloud disagree (the program follows the cloud):");
        for d in &program.disagreements {
            eprintln!(
                "  {} ({}): {}: Terraform has {}, the cloud has {}",
                d.address, d.resource, d.property, d.terraform, d.cloud
            );
        }
    }
    for s in &program.secrets_left_out {
        eprintln!(
            "secret kept in state, left out of the program (unmanaged until you set it): {s}"
        );
    }

    // The program must load and plan to nothing against the state recorded below.
    let out_name = out.display().to_string();
    let (spec, warnings) = cairn_config::load_stack_layered(
        &out_name,
        program.yaml.as_bytes(),
        &|_| Err("an imported program has no template".into()),
        &registry,
        &BTreeMap::new(),
    )?;
    let mut state = StackState::default();
    for r in &program.resources {
        state.resources.insert(r.name.clone(), r.clone());
    }
    let check = plan::plan(&spec, &state, &registry, &PlanOptions::default())?;
    // Terraform's root outputs are the stack's outputs (for stack references).
    let outputs = check.outputs.clone();
    let moving: Vec<String> = check
        .steps
        .iter()
        .filter(|s| s.action != Action::Same)
        .map(|s| {
            let paths: Vec<String> = s.changes.iter().map(|c| c.path.to_string()).collect();
            format!("{} ({:?}: {})", s.name, s.action, paths.join(", "))
        })
        .collect();

    write_new(&out, &program.yaml)?;
    let state_root = select.state_dir.clone().unwrap_or_else(|| {
        if select.local {
            PathBuf::from("state").join("local")
        } else {
            PathBuf::from("state")
        }
    });
    let recorded = async {
        let backend =
            Backend::parse(select.backend.as_deref(), &state_root, endpoint.as_deref()).await?;
        let loaded = Loaded {
            spec,
            warnings,
            registry: registry.clone(),
            state_root,
            backend,
            endpoint: endpoint.clone(),
            force: select.force,
            backend_url: select.backend.clone(),
        };
        let writer = open_writer(&loaded, &args.run).await?;
        with_writer(writer, async |writer: &Writer| {
            let mut current = recover(writer, &registry, &stack).await?;
            let clash: Vec<&str> = program
                .resources
                .iter()
                .filter(|r| current.resources.contains_key(&r.name))
                .map(|r| r.name.as_str())
                .collect();
            if !clash.is_empty() {
                return Err(CliError::Failed(format!(
                    "stack `{stack}` already records {}; import into a new stack (`--stack NAME`), or `cairn state rm` them first",
                    clash.join(", ")
                )));
            }
            for r in &program.resources {
                current.resources.insert(r.name.clone(), r.clone());
            }
            for (k, v) in &outputs {
                current.outputs.insert(k.clone(), v.clone());
            }
            writer.replace_all(&current)?;
            let what = format!("import: {} resource(s) from {file}", program.resources.len());
            crate::commands::history::record(writer, cairn_state::history::now(), true, &what);
            writer.sync().await
        })
        .await
    }
    .await;
    if let Err(e) = recorded {
        // No state, no program: the next attempt starts clean.
        let _ = std::fs::remove_file(&out);
        return Err(e);
    }

    if !moving.is_empty() {
        eprintln!(
            "warning: the program does not yet match the cloud exactly; `cairn preview` will show: {}",
            moving.join("; ")
        );
    }
    println!(
        "imported {} resource(s) into stack `{stack}` (protected; nothing in the cloud was changed), {} reference(s) between them",
        program.resources.len(),
        program.references
    );
    println!(
        "program written to {out_name}; check it with `cairn preview --stack-file {out_name}` (expect no changes)"
    );
    if !selection.unknown.is_empty() {
        println!(
            "{} resource(s) were not imported (see above); they stay Terraform's",
            selection.unknown.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads every candidate by its import id, a few at a time. A resource the
/// cloud does not have, or a failed read, stops the import before anything
/// is written.
async fn read_all(
    registry: &Registry,
    stack: &str,
    selection: &Selection,
    names: &[String],
) -> Result<Vec<Found>, CliError> {
    let limit = Arc::new(tokio::sync::Semaphore::new(PARALLEL_READS));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (c, name)) in selection.candidates.iter().zip(names).enumerate() {
        let Some(provider) = registry.get(&c.token).cloned() else {
            return Err(CliError::Failed(format!("no provider for `{}`", c.token)));
        };
        // What Terraform recorded helps a read keep its forms (an alias
        // rather than a key ARN, the rules' order); revealed only for the call.
        let hint: Map = c
            .terraform
            .iter()
            .flatten()
            .filter(|(_, v)| !matches!(v, Value::Null))
            .map(|(k, v)| (k.clone(), v.reveal()))
            .collect();
        let ctx = CallContext::new(stack, name);
        let id = c.import_id.clone();
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let read = provider.read(&ctx, &id, &hint).await;
            (i, read, provider)
        });
    }
    let mut found: Vec<Option<Found>> = vec![None; selection.candidates.len()];
    let mut problems = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (i, read, provider) =
            joined.map_err(|e| CliError::Failed(format!("a read task failed: {e}")))?;
        let c = &selection.candidates[i];
        match read {
            Ok(Some(observed)) => {
                found[i] = Some(Found {
                    candidate: c.clone(),
                    name: names[i].clone(),
                    schema: provider.schema().clone(),
                    observed,
                })
            }
            Ok(None) => problems.push(format!(
                "{}: {} `{}` does not exist in the cloud",
                c.address, c.token, c.import_id
            )),
            Err(e) => problems.push(format!("{}: {e}", c.address)),
        }
    }
    if !problems.is_empty() {
        problems.sort();
        return Err(CliError::Failed(format!(
            "{} resource(s) could not be read, so nothing was imported or written:\n  {}",
            problems.len(),
            problems.join("\n  ")
        )));
    }
    Ok(found.into_iter().flatten().collect())
}

/// Writes a file that must not exist yet.
fn write_new(path: &Path, text: &str) -> Result<(), CliError> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", path.display())))
}
