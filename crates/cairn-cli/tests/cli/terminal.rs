//! Terminal hygiene: colour only on a terminal (NO_COLOR, CLICOLOR_FORCE),
//! the confirmation prompt and progress display on a pseudo-terminal, and
//! nothing of either through pipes.

use super::common::Sandbox;
use super::pty::{self, Wiring};
use std::time::Duration;

const STACK: &str = "tests/stacks/data-chain.yaml";
const ESC: char = '\u{1b}';
const WAIT: Duration = Duration::from_secs(30);

/// A sandbox whose runs decide colour themselves (no NO_COLOR).
fn colourless_env() -> Sandbox {
    let mut sb = Sandbox::new();
    sb.env.retain(|(k, _)| k != "NO_COLOR");
    sb
}

fn piped(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> super::common::Run {
    let mut cmd = sb.command(args);
    cmd.env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    super::common::Run::from(cmd.output().expect("run cairn"))
}

#[test]
fn piped_errors_warnings_and_logs_have_no_colour_escapes() {
    let sb = colourless_env();
    super::common::network_stand_in(&sb, "dev");
    // A policy warning (miette report), the plan, and -v logs.
    let warned = piped(&sb, &["preview", "-v", "--stack", "dev"], &[]);
    assert_eq!(warned.code, Some(0), "{}", warned.all());
    assert!(warned.stderr.contains("CAIRN-POL-"), "{}", warned.stderr);
    // An error report.
    let failed = piped(&sb, &["preview", "--stack", "no-such-stack"], &[]);
    assert_eq!(failed.code, Some(2), "{}", failed.all());
    let applied = piped(&sb, &["up", "--yes", "--stack-file", STACK], &[]);
    assert_eq!(applied.code, Some(0), "{}", applied.all());
    for run in [&warned, &failed, &applied] {
        assert!(
            !run.all().contains(ESC),
            "colour escapes through a pipe:\n{:?}",
            run.all()
        );
    }
}

#[test]
fn clicolor_force_colours_a_pipe_and_no_color_wins() {
    let sb = colourless_env();
    let forced = piped(
        &sb,
        &["preview", "--stack", "no-such-stack"],
        &[("CLICOLOR_FORCE", "1")],
    );
    assert_eq!(forced.code, Some(2), "{}", forced.all());
    assert!(
        forced.stderr.contains(ESC),
        "CLICOLOR_FORCE=1 should colour the error report:\n{}",
        forced.stderr
    );
    let plan = piped(
        &sb,
        &["preview", "--stack-file", STACK],
        &[("CLICOLOR_FORCE", "1")],
    );
    assert!(plan.stdout.contains(ESC), "{}", plan.stdout);
    let both = piped(
        &sb,
        &["preview", "--stack", "no-such-stack"],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
    );
    assert!(!both.all().contains(ESC), "{:?}", both.all());
}

#[test]
fn a_terminal_gets_colour_unless_no_color() {
    let sb = colourless_env();
    let run = pty::spawn(sb.command(&["preview", "--stack-file", STACK]), Wiring::ALL).finish(WAIT);
    assert_eq!(run.code, Some(0), "{}", run.screen);
    assert!(
        run.screen.contains("first (core:Data) create"),
        "{}",
        run.screen
    );
    assert!(
        run.screen.contains(ESC),
        "no colour on a terminal:\n{}",
        run.screen
    );
    let error = pty::spawn(
        sb.command(&["preview", "--stack", "no-such-stack"]),
        Wiring::ALL,
    )
    .finish(WAIT);
    assert!(error.screen.contains(ESC), "{}", error.screen);

    let plain = pty::spawn_with(
        sb.command(&["preview", "--stack", "no-such-stack"]),
        Wiring::ALL,
        &[("NO_COLOR", "1")],
    )
    .finish(WAIT);
    assert!(
        plain.screen.contains("there is no stack `no-such-stack`"),
        "{}",
        plain.screen
    );
    assert!(!plain.screen.contains(ESC), "{:?}", plain.screen);
}

#[test]
fn up_on_a_terminal_asks_shows_progress_and_colours_success() {
    let sb = colourless_env();
    let mut child = pty::spawn(sb.command(&["up", "--stack-file", STACK]), Wiring::ALL);
    child.expect("Apply these changes (", WAIT);
    child.send("y\r");
    let run = child.finish(WAIT);
    assert_eq!(run.code, Some(0), "{}", run.screen);
    assert!(run.screen.contains("first created"), "{}", run.screen);
    assert!(run.screen.contains("5 succeeded"), "{}", run.screen);
    // The success line is coloured (green) on a terminal.
    assert!(
        run.screen.contains(&format!("{ESC}[32m✓")),
        "success lines not coloured:\n{:?}",
        run.screen
    );
    let list = sb.run(&["state", "list", "--stack-file", STACK]).ok();
    assert_eq!(list.stdout.lines().count(), 5, "{}", list.stdout);
}

#[test]
fn answering_no_at_the_terminal_changes_nothing() {
    let sb = colourless_env();
    let mut child = pty::spawn(sb.command(&["up", "--stack-file", STACK]), Wiring::ALL);
    child.expect("Apply these changes (", WAIT);
    child.send("n\r");
    let run = child.finish(WAIT);
    assert_eq!(run.code, Some(1), "{}", run.screen);
    assert!(run.screen.contains("cancelled"), "{}", run.screen);
    let list = sb.run(&["state", "list", "--stack-file", STACK]).ok();
    assert_eq!(list.stdout.trim(), "", "{}", list.stdout);
}

/// `cairn up | tee plan.txt`: the plan goes to the pipe, the question and
/// the answer to the terminal, which still sees what will change.
#[test]
fn the_prompt_works_with_stdout_piped_and_stdin_on_a_terminal() {
    let sb = colourless_env();
    let wiring = Wiring {
        stdin: true,
        stdout: false,
        stderr: true,
    };
    let mut child = pty::spawn(sb.command(&["up", "--stack-file", STACK]), wiring);
    child.expect("Apply these changes (", WAIT);
    assert!(
        child.screen().contains("+5 ~0 -0"),
        "the terminal should say what will change when the plan went to a pipe:\n{}",
        child.screen()
    );
    child.send("y\r");
    let run = child.finish(WAIT);
    assert_eq!(run.code, Some(0), "{}\n{}", run.screen, run.stderr);
    assert!(
        run.stdout.contains("first (core:Data) create"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(ESC), "{:?}", run.stdout);
}

/// `cairn up 2>&1 | tee log`: stdin is the terminal but both outputs are
/// piped; the question is asked on the controlling terminal (as git and
/// ssh do), not lost in the pipe.
#[test]
fn the_prompt_uses_the_terminal_when_both_outputs_are_piped() {
    let sb = colourless_env();
    let wiring = Wiring {
        stdin: true,
        stdout: false,
        stderr: false,
    };
    let mut child = pty::spawn(sb.command(&["up", "--stack-file", STACK]), wiring);
    child.expect("Apply these changes (", WAIT);
    child.send("y\r");
    let run = child.finish(WAIT);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("5 succeeded"), "{}", run.stderr);
    assert!(!run.all_piped().contains(ESC), "{:?}", run.all_piped());
}

/// A production stack (its name contains `prod`): destroy asks for the
/// stack's name to be typed; `y` is not enough.
#[test]
fn destroying_a_production_stack_asks_for_its_name() {
    let sb = colourless_env();
    let file = sb.dir.path().join("data-prod.yaml");
    std::fs::write(
        &file,
        "name: data-prod\nresources:\n  only:\n    type: core:Data\n    properties:\n      input: kept\n",
    )
    .expect("write stack");
    let stack = file.display().to_string();
    sb.run(&["up", "--yes", "--stack-file", &stack]).ok();

    let mut child = pty::spawn(
        sb.command(&["destroy", "--stack-file", &stack]),
        Wiring::ALL,
    );
    child.expect("Type the stack name (`data-prod`)", WAIT);
    child.send("y\r");
    let refused = child.finish(WAIT);
    assert_eq!(refused.code, Some(1), "{}", refused.screen);
    assert!(refused.screen.contains("cancelled"), "{}", refused.screen);
    let list = sb.run(&["state", "list", "--stack-file", &stack]).ok();
    assert_eq!(list.stdout.lines().count(), 1, "{}", list.stdout);

    let mut child = pty::spawn(
        sb.command(&["destroy", "--stack-file", &stack]),
        Wiring::ALL,
    );
    child.expect("Type the stack name", WAIT);
    child.send("data-prod\r");
    let done = child.finish(WAIT);
    assert_eq!(done.code, Some(0), "{}", done.screen);
    let list = sb.run(&["state", "list", "--stack-file", &stack]).ok();
    assert_eq!(list.stdout.trim(), "", "{}", list.stdout);
}
