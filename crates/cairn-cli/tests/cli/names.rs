//! Names the user gets wrong: a stack, a resource in state, a target.

use super::common::Sandbox;

const STACK: &str = "tests/stacks/data-chain.yaml";

#[test]
fn a_wrong_stack_lists_the_stacks_that_exist() {
    let sb = Sandbox::new();
    let run = sb.run(&["preview", "--stack", "stagin"]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        // Compared without whitespace: the help line wraps.
        run.stderr
            .split_whitespace()
            .collect::<String>()
            .contains(
                "dev,eks-dev,eks-prod,eks-staging,network-dev,network-prod,network-staging,prod,rds-dev,rds-prod,rds-staging,staging,storage-dev,storage-prod,storage-staging"
            ),
        "the stacks that exist should be listed:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `staging`"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains(".template"),
        "a template is not a stack to pick:\n{}",
        run.stderr
    );
}

#[test]
fn state_show_of_an_unknown_name_suggests_the_nearest() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let run = sb.run(&["state", "show", "frist", "--stack-file", STACK]);
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.stderr.contains("did you mean `first`"),
        "{}",
        run.stderr
    );
    let far = sb.run(&["state", "show", "zzzzzz", "--stack-file", STACK]);
    assert_eq!(far.code, Some(2), "{}", far.all());
    assert!(
        far.stderr.contains("cairn state list"),
        "with nothing near, point at `state list`:\n{}",
        far.stderr
    );
}

#[test]
fn an_unknown_target_is_an_error_for_every_verb() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    for verb in [
        vec!["preview"],
        vec!["up", "--yes"],
        vec!["destroy", "--yes"],
    ] {
        let mut args = verb.clone();
        args.extend(["--target", "frist", "--stack-file", STACK]);
        let run = sb.run(&args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.all());
        assert!(run.stderr.contains("frist"), "{args:?}: {}", run.stderr);
    }
    let list = sb.run(&["state", "list", "--stack-file", STACK]).ok();
    assert_eq!(list.stdout.lines().count(), 5, "{}", list.stdout);
}
