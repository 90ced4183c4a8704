//! `Program`: a set of VM functions produced by `bytecode!` or the text assembler, loaded
//! into a VM at once, inspectable and printable as assembler text.

use std::fmt;

use crate::function::VMFunction;

/// A set of VM functions, as `bytecode!` and [`asm::assemble`](crate::asm::assemble) produce.
/// `Display` prints assembler text that assembles back to an equal program.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    functions: Vec<VMFunction>,
}

impl Program {
    /// A program of these functions.
    pub fn new(functions: Vec<VMFunction>) -> Program {
        Program { functions }
    }

    /// The functions, in source order.
    pub fn functions(&self) -> &[VMFunction] {
        &self.functions
    }

    /// The function named `name`.
    pub fn function(&self, name: &str) -> Option<&VMFunction> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// Takes the functions out.
    pub fn into_functions(self) -> Vec<VMFunction> {
        self.functions
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
        write!(f, "fn {}({})", stoffel_asm::disasm::fmt_name(&self.name), self.parameters.join(", "))?;
        if !self.upvalues.is_empty() {
            write!(f, " captures({})", self.upvalues.join(", "))?;
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
