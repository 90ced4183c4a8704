//! `stoffel disasm`: a program as the disassembler prints it.

use std::io::Write as _;
use std::path::Path;

use crate::failure::Failure;
use crate::source::Source;

/// Assembles `path` and prints it with `Program`'s `Display`: canonical text (every function
/// with its `registers(N)`, labels on their own lines, no comments) that assembles back to an
/// equal program.
///
/// # Errors
/// An input failure when the file cannot be read or does not assemble.
pub fn disasm(path: &Path) -> Result<(), Failure> {
    let program = Source::read(path)?.assemble()?;
    // A closed pipe (`stoffel disasm f.stf | head`) is not an error of ours.
    let _ = write!(std::io::stdout().lock(), "{program}");
    Ok(())
}
