//! `Program`: a set of VM functions produced by `bytecode!` or the text assembler, loaded
//! into a VM at once, inspectable and printable as assembler text.

use std::fmt;

use crate::foreign::ForeignFunction;
use crate::function::VMFunction;

/// A set of VM functions, as `bytecode!` and [`asm::assemble`](crate::asm::assemble) produce,
/// plus the foreign functions its code names as `CALL {rust_fn}` (so [`load`] registers them).
/// `Display` prints assembler text that assembles back to an equal program.
///
/// [`load`]: crate::VirtualMachine::load
#[derive(Clone, Debug, Default)]
pub struct Program {
    functions: Vec<VMFunction>,
    foreign: Vec<ForeignFunction>,
}

impl PartialEq for Program {
    /// Equal VM functions and foreign functions of the same names and arities.
    fn eq(&self, other: &Program) -> bool {
        let signature = |f: &ForeignFunction| (f.name().to_owned(), f.arity());
        self.functions == other.functions
            && self.foreign.iter().map(signature).eq(other.foreign.iter().map(signature))
    }
}

impl Program {
    /// A program of these functions.
    pub fn new(functions: Vec<VMFunction>) -> Program {
        Program { functions, foreign: Vec::new() }
    }

    /// A program of these functions that also brings the foreign functions its code calls.
    pub fn with_foreign(functions: Vec<VMFunction>, foreign: Vec<ForeignFunction>) -> Program {
        Program { functions, foreign }
    }

    /// The foreign functions [`VirtualMachine::load`](crate::VirtualMachine::load) registers
    /// along with the VM functions.
    pub fn foreign_functions(&self) -> &[ForeignFunction] {
        &self.foreign
    }

    /// The functions, in source order.
    pub fn functions(&self) -> &[VMFunction] {
        &self.functions
    }

    /// The function named `name`.
    pub fn function(&self, name: &str) -> Option<&VMFunction> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// Takes the VM functions and the foreign functions out.
    pub fn into_parts(self) -> (Vec<VMFunction>, Vec<ForeignFunction>) {
        (self.functions, self.foreign)
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, function) in self.functions.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{function}")?;
        }
        Ok(())
    }
}

impl fmt::Display for VMFunction {
    /// Assembler text for this function: header, labels on their own lines, one instruction per
    /// line; `registers(N)` is always written so the count round-trips exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |names: &[String]| {
            names.iter().map(|name| stoffel_asm::disasm::fmt_name(name)).collect::<Vec<_>>().join(", ")
        };
        write!(f, "fn {}({})", stoffel_asm::disasm::fmt_name(&self.name), names(&self.parameters))?;
        if !self.upvalues.is_empty() {
            write!(f, " captures({})", names(&self.upvalues))?;
        }
        writeln!(f, " registers({}) {{", self.register_count)?;
        let mut labels: Vec<(&String, &usize)> = self.labels.iter().collect();
        labels.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
        let mut labels = labels.into_iter().peekable();
        for (index, instruction) in self.instructions.iter().enumerate() {
            while let Some((label, _)) = labels.next_if(|(_, &at)| at == index) {
                writeln!(f, "{label}:")?;
            }
            writeln!(f, "    {instruction}")?;
        }
        writeln!(f, "}}")
    }
}
