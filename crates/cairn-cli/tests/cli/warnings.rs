//! Policy warnings: printed once, compactly (the code once, one help line),
//! and carried in the JSON and markdown previews.

use super::common::{network_stand_in, Sandbox};

#[test]
fn each_policy_warning_is_printed_once_compactly() {
    let sb = Sandbox::new();
    network_stand_in(&sb, "dev");
    let run = sb.run(&["preview", "--stack", "dev"]).ok();
    let err = &run.stderr;
    assert_eq!(
        err.matches("CAIRN-POL-103").count(),
        1,
        "the code once, the warning once:\n{err}"
    );
    for frame in [",-[", "`----", "╭", "│"] {
        assert!(
            !err.contains(frame),
            "a report box ({frame}) for a warning:\n{err}"
        );
    }
    let warnings = err.lines().filter(|l| l.starts_with("warning")).count();
    let helps = err
        .lines()
        .filter(|l| l.trim_start().starts_with("help:"))
        .count();
    assert!(warnings >= 1, "{err}");
    assert_eq!(warnings, helps, "one help line per warning:\n{err}");
    assert!(
        err.contains("stacks/redis-cache.template.yaml:"),
        "the warning names where:\n{err}"
    );
}

#[test]
fn warnings_are_in_the_json_and_the_markdown() {
    let sb = Sandbox::new();
    network_stand_in(&sb, "dev");
    let json = sb.run(&["preview", "--json", "--stack", "dev"]).ok();
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).expect("plan json");
    let warnings = plan["warnings"].as_array().expect("a warnings array");
    let rotation = warnings
        .iter()
        .find(|w| w["code"] == "cairn::policy::CAIRN-POL-103")
        .unwrap_or_else(|| panic!("CAIRN-POL-103 in {warnings:?}"));
    assert!(rotation["message"]
        .as_str()
        .is_some_and(|m| m.contains("rotation")));
    assert!(rotation["help"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(rotation["location"]
        .as_str()
        .is_some_and(|l| l.starts_with("stacks/redis-cache.template.yaml:")));

    let md = sb
        .run(&["preview", "--format", "markdown", "--stack", "dev"])
        .ok();
    assert_eq!(
        md.stdout.matches("CAIRN-POL-103").count(),
        1,
        "{}",
        md.stdout
    );
    assert!(
        md.stdout.contains("rotate the auth token"),
        "help in markdown:\n{}",
        md.stdout
    );
}
