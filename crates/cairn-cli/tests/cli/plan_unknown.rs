//! In the plan JSON an unknown value is the marker `{"unknown": true}`,
//! never a string a real value could equal.

use super::common::Sandbox;

#[test]
fn plan_json_marks_unknown_values_distinctly() {
    let sb = Sandbox::new();
    let run = sb
        .run(&[
            "preview",
            "--json",
            "--stack-file",
            "tests/stacks/data-chain.yaml",
        ])
        .ok();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("plan JSON");
    let second = doc["resource_changes"]
        .as_array()
        .expect("resource_changes")
        .iter()
        .find(|c| c["name"] == "second")
        .expect("second");
    assert_eq!(
        second["after"]["input"],
        serde_json::json!({"unknown": true}),
        "{second}"
    );
    assert_eq!(
        doc["outputs"]["message"],
        serde_json::json!({"unknown": true})
    );
    assert!(
        !run.stdout.contains("known after apply"),
        "no unknown as a string:\n{}",
        run.stdout
    );
}
