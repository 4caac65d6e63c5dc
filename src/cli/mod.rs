//! Subcommands. Each takes its parsed arguments and returns the process exit code.

pub mod check;
mod config;
pub mod detect;
mod model;
pub mod progress;
pub mod run;
pub mod sim;
pub mod snapshot;
