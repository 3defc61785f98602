//! Runs `fn::invoke` data sources while a stack loads (at preview): the
//! loader is synchronous, so each call blocks this thread on the runtime.

use cairn_core::provider::{CallContext, InvokeError, Observed, Registry};
use cairn_core::value::Map;

/// The `Program::invoke` of a run: the registry's data source for `token`,
/// its arguments checked, awaited on the current runtime.
pub fn run(registry: &Registry, stack: &str, token: &str, args: &Map) -> Result<Map, InvokeError> {
    let ds = registry.prepare_invoke(token, args)?;
    let ctx = CallContext::new(stack, token);
    let call = async move { ds.invoke(&ctx, args).await };
    let result = match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(call))
        }
        // A current-thread runtime (tests) or none: a thread of its own.
        _ => std::thread::scope(|s| {
            s.spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(call),
                    Err(e) => Err(cairn_core::provider::ProviderError::invalid(
                        token,
                        format!("cannot start a runtime: {e}"),
                    )),
                }
            })
            .join()
            .unwrap_or_else(|_| {
                Err(cairn_core::provider::ProviderError::invalid(
                    token,
                    "the data source panicked",
                ))
            })
        }),
    };
    result.map_err(InvokeError::Failed)
}

/// The `Program::read` of a run (`get:`): the provider of `token` reads
/// `id` (`state` as the recorded inputs).
pub fn read(
    registry: &Registry,
    stack: &str,
    token: &str,
    id: &str,
    state: &Map,
) -> Result<Observed, String> {
    let Some(provider) = registry.get(token).cloned() else {
        let near = cairn_core::validate::did_you_mean(token, registry.tokens())
            .map(|t| format!(" (did you mean `{t}`?)"))
            .unwrap_or_default();
        return Err(format!("no resource type `{token}`{near}"));
    };
    let schema = provider.schema().clone();
    let ctx = CallContext::new(stack, token);
    let call = async move { provider.read(&ctx, id, state).await };
    let found = match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(call))
        }
        _ => std::thread::scope(|s| {
            s.spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(call),
                    Err(e) => Err(cairn_core::provider::ProviderError::invalid(
                        token,
                        format!("cannot start a runtime: {e}"),
                    )),
                }
            })
            .join()
            .unwrap_or_else(|_| {
                Err(cairn_core::provider::ProviderError::invalid(
                    token,
                    "the provider panicked",
                ))
            })
        }),
    };
    match found {
        Ok(Some(o)) => Ok(Observed {
            inputs: schema.normalize_inputs(&o.inputs),
            outputs: schema.normalize_outputs(&o.outputs),
            id: o.id,
        }),
        Ok(None) => Err(format!("there is no `{token}` with id `{id}`")),
        Err(e) => Err(e.to_string()),
    }
}
