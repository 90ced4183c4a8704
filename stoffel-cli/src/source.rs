//! A `.stf` file on its way into a VM: reading it, assembling and validating it with every
//! mistake shown under its line as rustc shows errors, and finding the source position of a
//! function or an instruction again (for runtime errors).

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use stoffel::asm::{self, Diagnostic, LineCol};
use stoffel::{Program, VirtualMachine};
use stoffel_asm::Never;

use crate::failure::Failure;

/// The text of one program file and where it came from.
pub struct Source {
    path: PathBuf,
    text: String,
    /// The parsed text with its spans, parsed again only when a position is asked for.
    syntax: OnceCell<Option<stoffel_asm::Program<LineCol, Never>>>,
}

impl Source {
    /// Reads `path`.
    ///
    /// # Errors
    /// An input failure when the file cannot be read or is not UTF-8 text.
    pub fn read(path: &Path) -> Result<Source, Failure> {
        let bytes = std::fs::read(path)
            .map_err(|error| Failure::input(format!("cannot read `{}`: {error}", path.display())))?;
        let text = String::from_utf8(bytes).map_err(|error| {
            Failure::input(format!(
                "`{}` is not a Stoffel program: it is not UTF-8 text (invalid byte at offset {})",
                path.display(),
                error.utf8_error().valid_up_to()
            ))
        })?;
        Ok(Source::new(path, text))
    }

    /// A source of `text`, named `path` in messages.
    pub fn new(path: &Path, text: String) -> Source {
        Source { path: path.to_path_buf(), text, syntax: OnceCell::new() }
    }

    /// The path, as the user wrote it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Assembles the text.
    ///
    /// # Errors
    /// An input failure listing every assembly error, rendered under its line, and a count.
    pub fn assemble(&self) -> Result<Program, Failure> {
        asm::assemble_diagnostics(&self.text).map_err(|diagnostics| {
            self.errors(diagnostics.iter().map(|diagnostic| self.render(diagnostic)).collect())
        })
    }

    /// Loads `program` into `vm`, which validates every function as the VM does for any host.
    ///
    /// # Errors
    /// An input failure listing every function the VM rejects, each shown at its name.
    pub fn load(&self, vm: &VirtualMachine, program: Program) -> Result<(), Failure> {
        // `load` stops at the first bad function; validating each first reports them all.
        let rejected: Vec<String> = program
            .functions()
            .iter()
            .filter_map(|function| {
                let error = function.validate().err()?;
                Some(match self.function_position(&function.name) {
                    Some(at) => self.render(&Diagnostic::new(at, error.message())),
                    None => format!("error: {}\n", error.message()),
                })
            })
            .collect();
        if !rejected.is_empty() {
            return Err(self.errors(rejected));
        }
        vm.load(program).map_err(|error| {
            Failure::input(format!("could not load {}: {}", self.path.display(), error.message()))
        })
    }

    /// Every rendered error, a blank line after each, then the count, as rustc ends its output.
    fn errors(&self, rendered: Vec<String>) -> Failure {
        let mut report = String::new();
        for error in &rendered {
            report.push_str(error);
            report.push('\n');
        }
        let count = rendered.len();
        report.push_str(&format!(
            "error: could not assemble {} due to {count} previous error{}\n",
            self.path.display(),
            if count == 1 { "" } else { "s" }
        ));
        Failure::input_report(report)
    }

    /// One diagnostic with the source line and a caret under the token, its position given as
    /// `--> FILE:line:column`.
    pub fn render(&self, diagnostic: &Diagnostic<LineCol>) -> String {
        let shown = asm::render(&self.text, diagnostic);
        // `asm::render` knows no file name; its position line follows the message line.
        let LineCol { line, column } = diagnostic.span;
        let position = format!("--> {line}:{column}\n");
        let after_message = shown.find('\n').map_or(0, |end| end + 1);
        match shown[after_message..].find(&position) {
            Some(offset) => {
                let at = after_message + offset;
                format!(
                    "{}--> {}:{line}:{column}\n{}",
                    &shown[..at],
                    self.path.display(),
                    &shown[at + position.len()..]
                )
            }
            None => shown,
        }
    }

    /// Where the function `name` is defined: its name in the `fn` line.
    pub fn function_position(&self, name: &str) -> Option<LineCol> {
        Some(self.syntax()?.function(name)?.name.span)
    }

    /// Where instruction `index` of the function `name` is written.
    pub fn instruction_position(&self, name: &str, index: usize) -> Option<LineCol> {
        // `stoffel::asm` lowers the parsed instructions one to one and in order.
        Some(self.syntax()?.function(name)?.instructions().nth(index)?.span)
    }

    fn syntax(&self) -> Option<&stoffel_asm::Program<LineCol, Never>> {
        self.syntax.get_or_init(|| stoffel_asm::assemble_text(&self.text).ok()).as_ref()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use stoffel::{Instruction, VMFunction};

    use super::*;

    fn source(text: &str) -> Source {
        Source::new(Path::new("dir/prog.stf"), text.to_string())
    }

    #[test]
    fn render_names_the_file_in_the_position_line() {
        let source = source("fn f() {\n    ADDD r0, r0, r0\n    RET r0\n}\n");
        let diagnostic = Diagnostic::new(LineCol::new(2, 5), "unknown instruction `ADDD`");
        assert_eq!(
            source.render(&diagnostic),
            "error: unknown instruction `ADDD`\n --> dir/prog.stf:2:5\n  |\n2 |     ADDD r0, r0, r0\n  |     ^^^^\n"
        );
    }

    #[test]
    fn every_error_then_a_count() {
        let source = source("fn f() {\n    JMP a\n    JMP b\n}\n");
        let failure = source.assemble().unwrap_err();
        let report = failure.text();
        assert!(report.contains("dir/prog.stf:2:9"), "{report}");
        assert!(report.contains("dir/prog.stf:3:9"), "{report}");
        assert!(report.contains("could not assemble dir/prog.stf due to 2 previous errors"), "{report}");
    }

    #[test]
    fn validation_errors_point_at_the_function() {
        // The assembler already refuses what the VM would; a host-built program can still be
        // malformed, and each bad function is reported at its name.
        let source = source("fn ok() {\n    RET r0\n}\nfn bad() {\n    RET r0\n}\n");
        let function = |name: &str, register_count| {
            VMFunction::new(
                name,
                vec![],
                vec![],
                None,
                register_count,
                vec![Instruction::RET(0)],
                HashMap::new(),
            )
        };
        let program = Program::new(vec![function("ok", 1), function("bad", 0), function("unknown", 0)]);
        let failure = source.load(&VirtualMachine::new(), program).unwrap_err();
        let minimum = "register count 0 is below the minimum 1 (one per parameter, at least one)";
        assert_eq!(
            failure.text(),
            format!(
                "error: function `bad`: {minimum}\n --> dir/prog.stf:4:4\n  |\n4 | fn bad() {{\n  |    ^^^\n\n\
                 error: function `unknown`: {minimum}\n\n\
                 error: could not assemble dir/prog.stf due to 2 previous errors\n"
            )
        );
    }

    #[test]
    fn positions_of_functions_and_instructions() {
        let source = source("fn main() {\n    LDI r0, 1\nagain:\n    RET r0\n}\n");
        assert_eq!(source.function_position("main"), Some(LineCol::new(1, 4)));
        assert_eq!(source.instruction_position("main", 1), Some(LineCol::new(4, 5)));
        assert_eq!(source.instruction_position("main", 2), None);
        assert_eq!(source.function_position("other"), None);
    }
}
