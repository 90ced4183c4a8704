//! The `stoffel` command: its arguments (parsed by clap) and the dispatch to each subcommand.
//!
//! ```text
//! stoffel run FILE.stf [--entry main] [--trace] [--profile] [--max-instructions N] [--max-depth N] [ARGS…]
//! stoffel check FILE.stf
//! stoffel disasm FILE.stf
//! ```
//!
//! Exit codes: 0 success, 1 runtime error (the program failed), 2 anything else (usage,
//! unreadable file, assembly or validation error); see [`failure`].

mod check;
mod disasm;
mod failure;
mod profile;
mod run;
mod source;
mod trace;
mod values;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The exit codes, as every `--help` shows them under its options.
macro_rules! exit_codes {
    () => {
        "Exit codes:
  0  success
  1  runtime error: the program failed (message and VM call stack on stderr)
  2  usage, I/O, assembly or validation error"
    };
}

/// Shown under every `--help` but `run`'s.
const EXIT_CODES: &str = exit_codes!();

/// Shown under `stoffel run --help`: how ARGS are written, what the instruments print.
const RUN_HELP: &str = concat!(
    "Arguments (ARGS) are VM values, written as the assembler writes LDI immediates:
  42  -7  1_000_000  0xFF    int (64-bit)
  2.5  -0.5  1e-5            float
  true  false                bool
  '()'                       unit (quoted for the shell)
  '\"text\"'                   string in double quotes, kept from the shell: '\"42\"' is a string
  hello  'hello world'       any other word is a string as it is
A word that starts like a number but is none (4O, 1.2.3) is an error, not a string.
Negative numbers need no `--`; after `--` every word is an argument.

--trace writes one line per executed instruction to stderr: function:index, the instruction,
the registers it wrote. A CALL of a VM function shows twice: when the callee starts and, with
r0, when it returns. --profile prints calls, instructions and time per function to stderr
(times include the profiler's own overhead).

",
    exit_codes!()
);

/// Run, trace, profile, check and disassemble Stoffel assembly (`.stf`) programs.
#[derive(Debug, Parser)]
#[command(name = "stoffel", version, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Assemble FILE, call its entry function with ARGS and print the result
    #[command(after_help = RUN_HELP)]
    Run {
        /// The program, Stoffel assembly text
        file: PathBuf,
        /// The function to call
        #[arg(long, value_name = "FUNCTION", default_value = "main")]
        entry: String,
        /// Print every executed instruction and the registers it wrote to stderr
        #[arg(long)]
        trace: bool,
        /// Print calls, instructions and time per function to stderr at the end
        #[arg(long)]
        profile: bool,
        /// Stop the program with an error after N instructions
        #[arg(long, value_name = "N")]
        max_instructions: Option<u64>,
        /// Stop the program with an error when calls nest deeper than N
        #[arg(long, value_name = "N", value_parser = at_least_one)]
        max_depth: Option<usize>,
        /// The entry function's arguments: ints, floats, bools, (), strings
        #[arg(allow_negative_numbers = true)]
        args: Vec<String>,
    },
    /// Assemble and validate FILE without running it; report every error
    #[command(after_help = EXIT_CODES)]
    Check {
        /// The program, Stoffel assembly text
        file: PathBuf,
    },
    /// Print FILE as the disassembler sees it (text that assembles back to the same program)
    #[command(after_help = EXIT_CODES)]
    Disasm {
        /// The program, Stoffel assembly text
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    // clap prints `--help` and `--version` and exits 0; a usage error exits 2.
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run { file, entry, trace, profile, max_instructions, max_depth, args } => {
            run::run(&run::Options { file, entry, args, trace, profile, max_instructions, max_depth })
        }
        Command::Check { file } => check::check(&file),
        Command::Disasm { file } => disasm::disasm(&file),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

/// A call-depth limit: a whole number from 1 up.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("the limit must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(error) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn run_takes_negative_numbers_and_options_after_the_arguments() {
        let cli = Cli::try_parse_from(["stoffel", "run", "f.stf", "-7", "-2.5", "x", "--trace"]).unwrap();
        let Command::Run { args, trace, entry, .. } = cli.command else { panic!("not run") };
        assert_eq!(args, ["-7", "-2.5", "x"]);
        assert!(trace);
        assert_eq!(entry, "main");
    }
}
