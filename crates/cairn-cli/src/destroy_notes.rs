//! What `destroy` says about the resources it keeps.

use cairn_core::plan::{Plan, PROTECTED_CODE};
use cairn_core::state::StackState;

/// A protected resource that was imported is not this stack's to delete (a
/// shared network, another team's group): say so and point at `state rm`,
/// instead of the core's advice to unprotect and delete it.
pub fn explain_imported(plan: &mut Plan, state: &StackState) {
    for w in plan
        .warnings
        .iter_mut()
        .filter(|w| w.code == PROTECTED_CODE)
    {
        let Some(name) = w.message.split('`').nth(1).map(str::to_string) else {
            continue;
        };
        let Some(rs) = state.resources.get(&name).filter(|r| r.imported) else {
            continue;
        };
        w.message = format!(
            "`{name}` ({} `{}`) was imported: it belongs outside this stack and is kept{}",
            rs.type_token,
            rs.id,
            w.message
                .split_once(';')
                .map(|(_, rest)| format!(";{rest}"))
                .unwrap_or_default()
        );
        w.help = Some(format!(
            "to stop tracking it, `cairn state rm {name}` forgets it and leaves the cloud object as it is; delete it where it is owned"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::plan::{plan_destroy, PlanOptions};
    use cairn_core::state::ResourceState;

    fn resource(name: &str, imported: bool) -> ResourceState {
        ResourceState {
            name: name.into(),
            type_token: "aws:ec2:SecurityGroup".into(),
            id: format!("sg-{name}"),
            inputs: Default::default(),
            outputs: Default::default(),
            dependencies: Vec::new(),
            protect: true,
            retain_on_delete: false,
            imported,
            ..Default::default()
        }
    }

    #[test]
    fn an_imported_resource_points_at_state_rm_not_at_unprotecting() {
        let mut state = StackState::default();
        state
            .resources
            .insert("shared".into(), resource("shared", true));
        state
            .resources
            .insert("ours".into(), resource("ours", false));
        let mut plan = plan_destroy(&state, &PlanOptions::default());
        explain_imported(&mut plan, &state);
        let shared = plan
            .warnings
            .iter()
            .find(|w| w.message.contains("`shared`"))
            .expect("a warning for the imported group");
        assert!(
            shared.message.contains("was imported"),
            "{}",
            shared.message
        );
        let help = shared.help.as_deref().unwrap_or_default();
        assert!(help.contains("cairn state rm shared"), "{help}");
        assert!(!help.contains("protect: false"), "{help}");
        let ours = plan
            .warnings
            .iter()
            .find(|w| w.message.contains("`ours`"))
            .expect("a warning for the protected one");
        assert!(ours
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("protect: false"));
    }
}
