//! `stoffel check`: assemble and validate a program without running it.

use std::path::Path;

use stoffel::VirtualMachine;

use crate::failure::Failure;
use crate::source::Source;

/// Assembles `path` and loads it into a fresh VM (so the VM's validation runs too), then
/// prints a one-line summary: `FILE: ok, 2 functions (main, fib), 20 instructions`.
///
/// # Errors
/// An input failure with every assembly error, or every function the VM rejects.
pub fn check(path: &Path) -> Result<(), Failure> {
    let source = Source::read(path)?;
    let program = source.assemble()?;
    let names: Vec<&str> = program.functions().iter().map(|function| function.name.as_str()).collect();
    let instructions: usize = program.functions().iter().map(|function| function.instructions.len()).sum();
    let functions = match names.len() {
        0 => count(0, "function"),
        n => format!("{} ({})", count(n, "function"), names.join(", ")),
    };
    let summary = format!("{}: ok, {functions}, {}", path.display(), count(instructions, "instruction"));
    source.load(&VirtualMachine::new(), program)?;
    println!("{summary}");
    Ok(())
}

/// `1 function`, `2 functions`.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
