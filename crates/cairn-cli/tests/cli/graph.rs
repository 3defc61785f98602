//! `cairn graph` (DOT, Mermaid) and the Mermaid picture in the markdown preview.

use super::common::Sandbox;

const STACK: &str = "tests/stacks/data-chain.yaml";

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/graph");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

#[test]
fn graph_prints_dot_and_mermaid() {
    let sb = Sandbox::new();
    let dot = sb.run(&["graph", "--stack-file", STACK]).ok();
    let mermaid = sb
        .run(&["graph", "--format", "mermaid", "--stack-file", STACK])
        .ok();
    let dev = sb
        .run(&["graph", "--format", "mermaid", "--stack", "dev"])
        .ok();
    assert!(
        dot.stdout.contains("\"first\" -> \"second\";"),
        "{}",
        dot.stdout
    );
    settings().bind(|| {
        insta::assert_snapshot!("data-chain.dot", dot.stdout);
        insta::assert_snapshot!("data-chain.mermaid", mermaid.stdout);
        insta::assert_snapshot!("dev.mermaid", dev.stdout);
    });
    let bad = sb.run(&["graph", "--format", "svg", "--stack-file", STACK]);
    assert_eq!(bad.code, Some(2), "{}", bad.all());
}

/// The markdown preview draws what changes and what touches it, and leaves
/// out the rest (`token`, unchanged and unrelated).
#[test]
fn markdown_preview_has_a_mermaid_graph_of_the_changes_and_their_neighbours() {
    let sb = Sandbox::new();
    sb.run(&["up", "--yes", "--stack-file", STACK]).ok();
    let md = sb
        .run(&[
            "preview",
            "--format",
            "markdown",
            "--stack-file",
            STACK,
            "--config",
            "greeting=hey",
        ])
        .ok();
    let start = md.stdout.find("```mermaid\n").expect("a mermaid block") + 11;
    let block = &md.stdout[start..];
    let block = &block[..block.find("```").expect("closed")];
    assert!(block.contains("first<br/>"), "{block}");
    assert!(block.contains(":::replace"), "{block}");
    assert!(
        !block.contains("token<br/>"),
        "an unrelated resource drawn:\n{block}"
    );
    let none = sb
        .run(&["preview", "--format", "markdown", "--stack-file", STACK])
        .ok();
    assert!(
        !none.stdout.contains("```mermaid"),
        "no graph without changes:\n{}",
        none.stdout
    );
}
