//! The command line's shape: consistent, and parsing what the help promises.

use super::*;
use clap::CommandFactory;

fn parse(argv: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(argv)
}

#[test]
fn definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn exec_takes_the_command_verbatim() {
    let cli = parse(&[
        "redlease",
        "exec",
        "--ttl",
        "2s",
        "r",
        "--",
        "sh",
        "-c",
        "echo --ttl",
    ])
    .expect("parses");
    let Command::Exec(args) = cli.command else {
        panic!("not exec");
    };
    assert_eq!(args.ttl.ttl, Duration::from_secs(2));
    assert_eq!(args.wait.budget(), Duration::MAX);
    assert_eq!(args.program(), ["sh", "-c", "echo --ttl"]);
}

#[test]
fn flock_habits() {
    let cli = parse(&["redlease", "exec", "-n", "-E", "3", "r", "-c", "a && b"]).expect("parses");
    let Command::Exec(args) = cli.command else {
        panic!("not exec");
    };
    assert_eq!(args.wait.budget(), Duration::ZERO);
    assert_eq!(args.wait.conflict_exit_code, 3);
    assert_eq!(args.program(), ["sh", "-c", "a && b"]);
    let cli = parse(&["redlease", "acquire", "-w", "2s", "r"]).expect("parses");
    let Command::Acquire(args) = cli.command else {
        panic!("not acquire");
    };
    assert_eq!(args.wait.budget(), Duration::from_secs(2));
}

#[test]
fn bad_input_is_refused() {
    for argv in [
        &["redlease", "exec", "--ttl", "soon", "r", "--", "true"][..],
        &["redlease", "exec", "", "--", "true"],
        &["redlease", "exec", "--bogus", "r", "--", "true"],
        &["redlease", "exec", "r"],
        &["redlease", "exec", "r", "-c", "x", "--", "true"],
        &["redlease", "exec", "-n", "-w", "1s", "r", "--", "true"],
        &["redlease", "exec", "-v", "-q", "r", "--", "true"],
        &["redlease", "release", "r"],
        &["redlease", "sandbox", "--servers", "redis://a:1"],
        &["redlease", "demo", "--ttl", "1s"],
    ] {
        assert!(parse(argv).is_err(), "{argv:?}");
    }
}

#[test]
fn a_negative_duration_reaches_the_duration_parser() {
    let error = parse(&["redlease", "acquire", "--ttl", "-1s", "r"]).expect_err("negative");
    let text = error.to_string();
    assert!(text.contains("negative"), "{text}");
    assert!(!text.contains("use '--"), "{text}");
}
