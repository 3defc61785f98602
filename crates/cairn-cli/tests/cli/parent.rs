//! `options.parent` through the binary: the plan groups children under
//! their parent, state records the parent, and re-parenting replaces (a
//! new URN in Pulumi) unless an alias names the former parent, when it is
//! `same`. Offline, with `core:Data`.

use super::common::Sandbox;

fn write(sb: &Sandbox, file: &str, text: &str) -> String {
    let path = sb.dir.path().join(file);
    std::fs::write(&path, text).expect("write stack");
    path.display().to_string()
}

/// `state list` rows: name -> id.
fn state_ids(sb: &Sandbox, file: &str) -> Vec<(String, String)> {
    let list = sb.run(&["state", "list", "--stack-file", file]).ok();
    list.stdout
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Some((cols.first()?.to_string(), cols.get(2)?.to_string()))
        })
        .collect()
}

/// The exported record of `name` (any object in the export with that name).
fn exported<'a>(v: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => {
            if m.get("name").and_then(|n| n.as_str()) == Some(name) && m.contains_key("type") {
                return Some(v);
            }
            m.values().find_map(|x| exported(x, name))
        }
        serde_json::Value::Array(a) => a.iter().find_map(|x| exported(x, name)),
        _ => None,
    }
}

const TREE: &str = "name: tree\nresources:\n  group:\n    type: core:Data\n    properties:\n      input: g\n  child:\n    type: core:Data\n    properties:\n      input: c\n    options:\n      parent: ${group}\n  grandchild:\n    type: core:Data\n    properties:\n      input: gc\n    options:\n      parent: ${child}\n  other:\n    type: core:Data\n    properties:\n      input: o\n";

#[test]
fn the_plan_groups_children_under_their_parent_and_state_records_it() {
    let sb = Sandbox::new();
    let file = write(&sb, "tree.yaml", TREE);
    let preview = sb.run(&["preview", "--stack-file", &file]).ok();
    insta::assert_snapshot!("parent-tree-preview", preview.stdout);

    sb.run(&["up", "--yes", "--stack-file", &file]).ok();
    let export = sb.run(&["stack", "export", "--stack-file", &file]).ok();
    let doc: serde_json::Value = serde_json::from_str(&export.stdout).expect("export json");
    let parent = |n: &str| {
        exported(&doc, n)
            .unwrap_or_else(|| panic!("{n} in the export: {doc}"))
            .get("parent")
            .cloned()
    };
    assert_eq!(parent("child"), Some(serde_json::json!("group")), "{doc}");
    assert_eq!(parent("grandchild"), Some(serde_json::json!("child")));
    assert_eq!(parent("group"), None, "no parent, no key: {doc}");

    // One child changes: its unchanged parents are shown above it.
    std::fs::write(&file, TREE.replace("input: gc", "input: gc2")).expect("rewrite");
    let preview = sb.run(&["preview", "--stack-file", &file]).ok();
    insta::assert_snapshot!("parent-tree-update", preview.stdout);
    // The pull-request comment groups them the same way.
    let md = sb
        .run(&["preview", "--format", "markdown", "--stack-file", &file])
        .ok();
    let lines: Vec<&str> = md.stdout.lines().filter(|l| l.contains("<b>")).collect();
    assert_eq!(
        lines,
        [
            "<code>Same</code> <b>group</b> (core:Data)",
            "&nbsp;&nbsp;<code>Same</code> <b>child</b> (core:Data), under <code>group</code>",
            "<details><summary>&nbsp;&nbsp;&nbsp;&nbsp;<code>Replace</code> <b>grandchild</b> (core:Data), under <code>child</code></summary>",
        ],
        "{}",
        md.stdout
    );
}

const FLAT: &str = "name: moves\nresources:\n  group:\n    type: core:Data\n    properties:\n      input: g\n  cache:\n    type: core:Data\n    properties:\n      input: kept\n";

fn under_group(alias: &str) -> String {
    format!("{FLAT}    options:\n      parent: ${{group}}\n{alias}")
}

#[test]
fn re_parenting_replaces_unless_an_alias_names_the_former_parent() {
    let sb = Sandbox::new();
    let file = write(&sb, "moves.yaml", FLAT);
    sb.run(&["up", "--yes", "--stack-file", &file]).ok();
    let id = |sb: &Sandbox| {
        state_ids(sb, &file)
            .into_iter()
            .find(|(n, _)| n == "cache")
            .map(|(_, id)| id)
            .expect("cache recorded")
    };
    let before = id(&sb);

    // Without an alias: a new parent is a new resource, as in Pulumi.
    std::fs::write(&file, under_group("")).expect("rewrite");
    let preview = sb.run(&["preview", "--stack-file", &file]).ok();
    assert!(
        preview.stdout.contains("cache (core:Data) replace"),
        "{}",
        preview.stdout
    );
    assert!(
        preview
            .stdout
            .contains("options.parent: \"(none)\" => \"group\" (forces replacement)"),
        "{}",
        preview.stdout
    );

    // With `noParent: true`: the record is the same resource.
    std::fs::write(
        &file,
        under_group("      aliases:\n        - noParent: true\n"),
    )
    .expect("rewrite");
    let preview = sb.run(&["preview", "--stack-file", &file]).ok();
    assert!(
        preview
            .stdout
            .contains("    cache (core:Data) same (re-parented from the stack root)"),
        "{}",
        preview.stdout
    );
    assert!(!preview.stdout.contains("replace"), "{}", preview.stdout);
    let md = sb
        .run(&["preview", "--format", "markdown", "--stack-file", &file])
        .ok();
    assert!(
        md.stdout.contains(
            "<b>cache</b> (core:Data), under <code>group</code>, re-parented from the stack root"
        ),
        "a re-parent is a change the comment shows: {}",
        md.stdout
    );
    let json = sb.run(&["preview", "--json", "--stack-file", &file]).ok();
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).expect("plan json");
    let cache = plan["resource_changes"]
        .as_array()
        .expect("resource_changes")
        .iter()
        .find(|c| c["name"] == "cache")
        .unwrap_or_else(|| panic!("cache step: {plan}"));
    assert_eq!(cache["action"], "same", "{cache}");
    assert_eq!(cache["parent"], "group", "{cache}");

    sb.run(&["up", "--yes", "--stack-file", &file]).ok();
    assert_eq!(id(&sb), before, "the same object");
    // Recorded under its new parent: the alias is no longer needed.
    std::fs::write(&file, under_group("")).expect("rewrite");
    let again = sb.run(&["preview", "--stack-file", &file]).ok();
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // Back to the top level, the alias naming the former parent.
    std::fs::write(
        &file,
        format!("{FLAT}    options:\n      aliases:\n        - parent: ${{group}}\n"),
    )
    .expect("rewrite");
    let preview = sb.run(&["preview", "--stack-file", &file]).ok();
    assert!(
        preview
            .stdout
            .contains("  cache (core:Data) same (re-parented from group)"),
        "{}",
        preview.stdout
    );
}
