//! Why a command failed, the report it prints on stderr, and the exit code it ends with.
//!
//! Two codes besides success, so scripts can tell a failing program from a failing
//! invocation: 1 when the program ran and raised a runtime error, 2 for everything that
//! stops it from running (usage, I/O, assembly, validation) — 2 is also what clap exits with
//! on a usage error.

use std::io::Write as _;
use std::process::ExitCode;

/// A failed command: its exit code and the full text to print on stderr.
#[derive(Debug)]
pub struct Failure {
    exit_code: u8,
    report: String,
}

/// The program ran and failed.
pub const RUNTIME_ERROR: u8 = 1;
/// The program could not run: bad usage, unreadable file, assembly or validation errors.
pub const INPUT_ERROR: u8 = 2;

impl Failure {
    /// A runtime error; `report` is the whole text, message and call stack.
    pub fn runtime(report: String) -> Failure {
        Failure { exit_code: RUNTIME_ERROR, report }
    }

    /// An input error, already formatted (as rendered diagnostics are).
    pub fn input_report(report: String) -> Failure {
        Failure { exit_code: INPUT_ERROR, report }
    }

    /// An input error of one message, shown as `error: message`.
    pub fn input(message: impl std::fmt::Display) -> Failure {
        Failure::input_report(format!("error: {message}\n"))
    }

    /// Adds an indented `= help: …` line under the report.
    pub fn with_help(mut self, help: impl std::fmt::Display) -> Failure {
        self.report.push_str(&format!("  = help: {help}\n"));
        self
    }

    /// The report as [`Failure::report`] prints it.
    #[cfg(test)]
    pub fn text(&self) -> &str {
        &self.report
    }

    /// Prints the report on stderr and gives the exit code.
    pub fn report(self) -> ExitCode {
        let mut stderr = std::io::stderr().lock();
        // Nowhere left to report a failure to write the report.
        let _ = stderr.write_all(self.report.as_bytes());
        let _ = stderr.flush();
        ExitCode::from(self.exit_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_errors_read_as_rustc_errors() {
        let failure = Failure::input("no function `go` in f.stf").with_help("its functions: main");
        assert_eq!(failure.exit_code, INPUT_ERROR);
        assert_eq!(failure.report, "error: no function `go` in f.stf\n  = help: its functions: main\n");
        assert_eq!(Failure::runtime("error: boom\n".into()).exit_code, RUNTIME_ERROR);
    }
}
