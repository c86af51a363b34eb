//! tools/pgo_rustc.sh, the rustc wrapper of .cargo/config.toml: which compilations get the
//! profile (`-Cprofile-use`). The test builds never run it with optimisation, so these checks
//! are what guards the release build's flags. `echo` stands in for rustc.

use std::path::Path;
use std::process::Command;

const WRAPPER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/pgo_rustc.sh");

/// The command line the wrapper would run for `args`, with `env` set.
fn wrapped(args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let mut cmd = Command::new("bash");
    cmd.arg(WRAPPER)
        .arg("echo")
        .args(args)
        .env_remove("OTSD_NO_PGO");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("bash runs the wrapper");
    assert!(out.status.success(), "wrapper failed: {out:?}");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// A compiler command line and the environment it runs in.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);

fn profile_use(line: &[String]) -> Option<&str> {
    line.iter().find_map(|a| a.strip_prefix("-Cprofile-use="))
}

#[test]
fn an_optimised_compilation_gets_the_committed_profile_by_absolute_path() {
    for args in [
        &["--crate-name", "x", "-C", "opt-level=3", "src/lib.rs"][..],
        &["-Copt-level=2", "lib.rs"][..],
    ] {
        let line = wrapped(args, &[]);
        let profile = profile_use(&line).expect("profile added");
        let path = Path::new(profile);
        assert!(path.is_absolute(), "{profile}");
        assert!(path.ends_with("pgo/otsd.profdata"), "{profile}");
        assert!(path.is_file(), "the profile is committed: {profile}");
        assert!(line.contains(&"-Cllvm-args=-no-pgo-warn-mismatch".to_string()));
        // The original arguments come first, unchanged.
        assert_eq!(&line[..args.len()], args);
    }
}

#[test]
fn debug_instrumenting_and_opted_out_compilations_are_left_alone() {
    let cases: [Case<'_>; 6] = [
        (&["--crate-name", "x", "-C", "debuginfo=2"], &[]),
        (&["-vV"], &[]),
        (&["-C", "opt-level=3", "-Cprofile-generate=/tmp/p"], &[]),
        (&["-C", "opt-level=3", "-Zsanitizer=address"], &[]),
        (&["-C", "opt-level=3", "-Cinstrument-coverage"], &[]),
        (&["-C", "opt-level=3"], &[("OTSD_NO_PGO", "1")]),
    ];
    for (args, env) in cases {
        assert_eq!(wrapped(args, env), args, "{args:?} {env:?}");
    }
}
