//! Helpers of the tests that run the `mirrorlab` binary (`cli.rs`, `out_dir.rs`): only the
//! package that builds it gets its path (`CARGO_BIN_EXE_mirrorlab`).

use std::path::Path;
use std::process::{Command, Output};

/// `mirrorlab ARGS` in `cwd`, to completion.
pub fn mirrorlab(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mirrorlab"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A `check` that finds a counterexample at once (the no-inhibit mutant over the host
/// network, 5 steps) and writes it with `--trace-out` to the name that follows.
pub const CATCHING_CHECK: [&str; 8] = [
    "check",
    "--mutant",
    "no-inhibit",
    "--mode",
    "sync",
    "--transport",
    "host-network",
    "--trace-out",
];
