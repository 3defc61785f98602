//! Hostile input: each case must end with a diagnostic, without a panic.
//! The 2 s target is checked by `cargo xtask bench` (release build); the
//! bound here only catches a hang.

use super::common::{codes, load_stack_bytes};
use cairn_core::diag::Problems;
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(30);

#[track_caller]
fn hostile(input: &[u8]) -> Problems {
    let start = Instant::now();
    let result = load_stack_bytes(input);
    let took = start.elapsed();
    assert!(took < BOUND, "took {took:?}");
    match result {
        Ok(_) => panic!("hostile input was accepted"),
        Err(p) => {
            for problem in &p.problems {
                if let Some(s) = problem.span {
                    assert!(s.offset + s.len <= input.len(), "span {s:?} out of bounds");
                }
            }
            p
        }
    }
}

#[test]
fn deep_flow_sequences() {
    let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let p = hostile(text.as_bytes());
    assert_eq!(codes(&p), ["cairn::config::too-deep"]);
}

#[test]
fn deep_flow_mappings() {
    let text = format!("{}1{}", "{a: ".repeat(10_000), "}".repeat(10_000));
    let p = hostile(text.as_bytes());
    assert_eq!(codes(&p), ["cairn::config::too-deep"]);
}

#[test]
fn deep_block_sequences() {
    let text = format!("{}x\n", "- ".repeat(10_000));
    let p = hostile(text.as_bytes());
    assert_eq!(codes(&p), ["cairn::config::too-deep"]);
}

#[test]
fn deep_block_mappings() {
    // 10,000 levels at two spaces each would exceed the size limit, which
    // also ends it; 3,000 levels (9 MB) does too, so use one-space indents
    // up to the largest depth that fits.
    let mut text = String::new();
    for depth in 0..3_000 {
        text.push_str(&" ".repeat(depth));
        text.push_str("a:\n");
    }
    assert!(text.len() < cairn_config::MAX_FILE_BYTES);
    let p = hostile(text.as_bytes());
    assert_eq!(codes(&p), ["cairn::config::too-deep"]);
    assert_eq!(p.problems[0].line_col(), Some((65, 65)));

    // The 10,000-deep document at two spaces per level is 100 MB; its
    // first 8 MiB + 1 byte are refused before parsing.
    let mut text = String::new();
    for depth in 0..10_000 {
        if text.len() > cairn_config::MAX_FILE_BYTES {
            break;
        }
        text.push_str(&"  ".repeat(depth));
        text.push_str("a:\n");
    }
    let p = hostile(text.as_bytes());
    assert_eq!(codes(&p), ["cairn::config::file-too-large"]);
}

#[test]
fn billion_laughs() {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = 'a';
    for c in 'b'..='i' {
        text.push_str(&format!(
            "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
        prev = c;
    }
    let p = hostile(text.as_bytes());
    assert_eq!(codes(&p), ["cairn::config::alias-bomb"]);
}

#[test]
fn deep_aliases() {
    // Each alias nests the previous anchor one level deeper.
    let mut text = String::from("a0: &a0 [x]\n");
    for i in 1..200 {
        text.push_str(&format!("a{i}: &a{i} [*a{}]\n", i - 1));
    }
    let p = hostile(text.as_bytes());
    assert_eq!(codes(&p), ["cairn::config::too-deep"]);
}

#[test]
fn too_many_nodes() {
    let text = format!(
        "name: s\nresources: {{}}\nbig: [{}]\n",
        "1,".repeat(200_000)
    );
    let p = hostile(text.as_bytes());
    assert_eq!(codes(&p), ["cairn::config::too-many-nodes"]);
}

#[test]
fn huge_scalars_and_keys() {
    // A 4 MB key is beyond the YAML parser's simple-key limit.
    let text = format!("name: s\nresources: {{}}\n{}: 1\n", "k".repeat(4_000_000));
    assert_eq!(
        codes(&hostile(text.as_bytes())),
        ["cairn::config::yaml-syntax"]
    );
    // An unterminated 6 MB quoted string.
    let text = format!("name: \"{}\nresources: {{}}\n", "\\u00e9".repeat(1_000_000));
    assert_eq!(
        codes(&hostile(text.as_bytes())),
        ["cairn::config::yaml-syntax"]
    );
    // `resources` is a 2 MB string of `${`, not a map.
    let text = format!("name: s\nresources:\n  {}\n", "${".repeat(1_000_000));
    assert_eq!(
        codes(&hostile(text.as_bytes())),
        ["cairn::config::wrong-shape"]
    );
}

#[test]
fn many_lines_of_whitespace_and_comments() {
    let text = " \n#\n".repeat(2_000_000);
    let p = hostile(text.as_bytes());
    assert_eq!(codes(&p), ["cairn::config::empty-file"]);
}

#[test]
fn thousands_of_bad_references() {
    // 2,000 resources with 20 distinct unknown names each: suggestions must
    // not cost resources x references, and the report is capped.
    let mut text = String::from("name: s\nresources:\n");
    for i in 0..2_000 {
        let refs: String = (0..20).map(|j| format!("${{n{i}x{j}.x}}")).collect();
        text.push_str(&format!(
            "  r{i}:\n    type: core:Data\n    properties:\n      input: \"{refs}\"\n"
        ));
    }
    let p = hostile(text.as_bytes());
    assert_eq!(p.problems.len(), cairn_config::MAX_PROBLEMS + 1);
    assert_eq!(
        p.problems.last().map(|p| p.code.as_str()),
        Some("cairn::config::too-many-problems")
    );
}

#[test]
fn control_characters_and_nul() {
    let p = hostile(b"name: \x00\x01\x02\nresources: {}\n\x7f");
    assert_eq!(
        codes(&p),
        ["cairn::config::missing-key", "cairn::config::wrong-shape"]
    );
    assert_eq!(
        codes(&hostile(b"\xef\xbb\xbf\xef\xbb\xbf")),
        ["cairn::config::top-level-not-map"]
    );
    assert_eq!(
        codes(&hostile(b"\xff\xfe\x00n\x00a")),
        ["cairn::config::not-utf8"]
    );
}
