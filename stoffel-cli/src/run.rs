//! `stoffel run`: assemble a program, call its entry function with values from the command
//! line and print the result; optionally traced, profiled and limited.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write as _};
use std::path::PathBuf;

use stoffel::{Error, Program, VMFunction, Value, VirtualMachine};

use crate::failure::Failure;
use crate::profile::Profiler;
use crate::source::Source;
use crate::trace::Tracer;
use crate::values;

/// What `stoffel run` was asked to do.
#[derive(Debug)]
pub struct Options {
    /// The program file.
    pub file: PathBuf,
    /// The function to call.
    pub entry: String,
    /// Its arguments as written, read by [`values::parse`].
    pub args: Vec<String>,
    /// Print every instruction to stderr.
    pub trace: bool,
    /// Print the per-function profile to stderr at the end.
    pub profile: bool,
    /// The instruction budget (`VirtualMachine::set_fuel`).
    pub max_instructions: Option<u64>,
    /// The call-depth limit (`VirtualMachine::set_max_call_depth`).
    pub max_depth: Option<usize>,
}

/// Runs the entry function and prints its result (`Display`: `42`, `hello`, `[1, 2]`, `()`)
/// on stdout. The program's `print` output goes to stdout too; trace, profile and errors to
/// stderr.
///
/// # Errors
/// An input failure before the program runs (unreadable file, assembly or validation errors,
/// no such entry function, malformed arguments or the wrong number of them); a runtime
/// failure with the message and the call stack when the program fails.
pub fn run(options: &Options) -> Result<(), Failure> {
    let source = Source::read(&options.file)?;
    let program = source.assemble()?;
    let entry = entry_function(&source, &program, &options.entry)?;
    let args = arguments(&options.args)?;
    check_arity(&source, entry, args.len())?;

    let vm = VirtualMachine::new();
    source.load(&vm, program)?;
    if let Some(max_instructions) = options.max_instructions {
        vm.set_fuel(Some(max_instructions));
    }
    if let Some(max_depth) = options.max_depth {
        vm.set_max_call_depth(max_depth);
    }
    let tracer = options.trace.then(|| Tracer::install(&vm, BufWriter::with_capacity(1 << 16, io::stderr())));
    if let Some(tracer) = &tracer {
        vm.set_output(tracer.program_output());
    }
    let profiler = options.profile.then(|| Profiler::install(&vm));

    let result = vm.call(&options.entry, &args);

    if let Some(tracer) = tracer {
        tracer.finish(&vm);
    }
    if let Some(profiler) = profiler {
        eprint!("{}", profiler.finish(&vm));
    }
    match result {
        Ok(value) => {
            // A closed pipe (`stoffel run f.stf | head -1`) is not the program's failure.
            let _ = writeln!(io::stdout().lock(), "{value}");
            Ok(())
        }
        Err(error) => Err(Failure::runtime(runtime_report(&source, &error))),
    }
}

/// The VM function `name` of the program.
fn entry_function<'p>(source: &Source, program: &'p Program, name: &str) -> Result<&'p VMFunction, Failure> {
    program.function(name).ok_or_else(|| {
        let names: Vec<String> =
            program.functions().iter().map(|function| format!("`{}`", function.name)).collect();
        let failure = Failure::input(format!("no function `{name}` in {}", source.path().display()));
        if names.is_empty() {
            failure.with_help("the file defines no functions")
        } else {
            failure.with_help(format!("its functions are {}; choose one with --entry", names.join(", ")))
        }
    })
}

/// The command-line words as VM values.
fn arguments(words: &[String]) -> Result<Vec<Value>, Failure> {
    words
        .iter()
        .enumerate()
        .map(|(index, word)| {
            values::parse(word).map_err(|message| {
                let failure = Failure::input(format!("argument {}: {message}", index + 1));
                if word.starts_with('"') {
                    failure
                } else {
                    failure.with_help(format!("to pass a string, quote it for the shell: '\"{word}\"'"))
                }
            })
        })
        .collect()
}

/// Refuses a call with the wrong number of arguments before the VM would, to say how to call.
fn check_arity(source: &Source, entry: &VMFunction, given: usize) -> Result<(), Failure> {
    let expected = entry.parameters.len();
    if expected == given {
        return Ok(());
    }
    let takes = match expected {
        0 => "no arguments".to_string(),
        1 => format!("1 argument ({})", entry.parameters[0]),
        n => format!("{n} arguments ({})", entry.parameters.join(", ")),
    };
    let given = match given {
        1 => "1 was given".to_string(),
        n => format!("{n} were given"),
    };
    let entry_option = if entry.name == "main" { String::new() } else { format!(" --entry {}", entry.name) };
    let placeholders: String = entry.parameters.iter().map(|name| format!(" <{name}>")).collect();
    Err(Failure::input(format!("`{}` takes {takes}, but {given}", entry.name)).with_help(format!(
        "call it as `stoffel run {}{entry_option}{placeholders}`",
        source.path().display()
    )))
}

/// Call stacks longer than this (after collapsing repeats) show their innermost and outermost
/// frames only.
const MAX_STACK_LINES: usize = 40;

/// A runtime error as the user sees it: the message, then the call stack, innermost first,
/// each frame with its source position. Runs of one frame (recursion) collapse into one line
/// and a count, and a very deep stack shows both ends.
///
/// ```text
/// error: division by zero in DIV
///   at `average` instruction 0 (examples/divide.stf:14:5)
///   at `main` instruction 2 (examples/divide.stf:8:5)
/// ```
fn runtime_report(source: &Source, error: &Error) -> String {
    let frames: Vec<String> = error
        .call_stack()
        .iter()
        .map(|frame| match frame.instruction {
            Some(index) => match source.instruction_position(&frame.function, index) {
                Some(at) => format!(
                    "  at `{}` instruction {index} ({}:{}:{})",
                    frame.function,
                    source.path().display(),
                    at.line,
                    at.column
                ),
                None => format!("  at `{}` instruction {index}", frame.function),
            },
            None => format!("  at `{}` (foreign)", frame.function),
        })
        .collect();
    let mut lines: Vec<String> = Vec::new();
    let mut frames = frames.into_iter().peekable();
    while let Some(frame) = frames.next() {
        let mut repeats = 0;
        while frames.next_if_eq(&frame).is_some() {
            repeats += 1;
        }
        lines.push(frame);
        match repeats {
            0 => {}
            1 => lines.push(lines[lines.len() - 1].clone()),
            n => lines.push(format!("  [the frame above repeats {n} more times]")),
        }
    }
    if lines.len() > MAX_STACK_LINES {
        let (inner, outer) = (MAX_STACK_LINES * 3 / 4, MAX_STACK_LINES / 4);
        let omitted = lines.len() - inner - outer;
        lines.splice(inner..lines.len() - outer, [format!("  [{omitted} lines omitted]")]);
    }
    if error.call_depth() > error.call_stack().len() {
        lines.push(format!(
            "  [{} outer frames of {} not recorded: the VM keeps the innermost {}]",
            error.call_depth() - error.call_stack().len(),
            error.call_depth(),
            error.call_stack().len()
        ));
    }
    let mut report = format!("error: {}\n", error.message());
    for line in lines {
        let _ = writeln!(report, "{line}");
    }
    report
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn report(text: &str, entry: &str) -> String {
        let source = Source::new(Path::new("t.stf"), text.to_string());
        let vm = VirtualMachine::new();
        source.load(&vm, source.assemble().unwrap()).unwrap();
        runtime_report(&source, &vm.execute(entry).unwrap_err())
    }

    #[test]
    fn a_runtime_error_shows_each_frame_at_its_source_position() {
        let text = "fn main() {\n    CALL inner\n    RET r0\n}\nfn inner() {\n    LDI r0, 0\n    DIV r0, r0, r0\n    RET r0\n}\n";
        assert_eq!(
            report(text, "main"),
            "error: division by zero in DIV\n  at `inner` instruction 1 (t.stf:7:5)\n  at `main` instruction 0 (t.stf:2:5)\n"
        );
    }

    #[test]
    fn recursion_collapses_and_the_truncated_stack_says_so() {
        let report = report("fn main() {\n    CALL main\n    RET r0\n}\n", "main");
        assert_eq!(
            report,
            format!(
                "error: call depth limit of 100000 exceeded\n  at `main` instruction 0 (t.stf:2:5)\n  \
                 [the frame above repeats 255 more times]\n  \
                 [99744 outer frames of 100000 not recorded: the VM keeps the innermost 256]\n"
            )
        );
    }

    #[test]
    fn a_deep_stack_of_distinct_frames_shows_both_ends() {
        let text = "fn main() {\n    CALL a\n    RET r0\n}\nfn a() {\n    CALL b\n    RET r0\n}\nfn b() {\n    CALL a\n    RET r0\n}\n";
        let report = report(text, "main");
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(lines.len(), 1 + MAX_STACK_LINES + 1 + 1, "{report}");
        assert_eq!(lines[1 + MAX_STACK_LINES * 3 / 4], "  [216 lines omitted]");
    }
}
