//! The subcommands, one file each; `main.rs` parses arguments and calls in here.

pub mod test_vectors;
