//! `VMFunction`: a function as hosts and the assemblers build it, and the validation every
//! function passes before the VM accepts it (so a VM that accepted it never panics running it).

use std::collections::{HashMap, HashSet};

use crate::error::Error;
use crate::instruction::Instruction;

/// The most registers one function may declare.
pub const MAX_REGISTERS: usize = 65_536;

/// A VM function: named parameters (parameter `i` arrives in register `i`), declared upvalues
/// (for closures), a register count, a body and its labels.
///
/// # Examples
/// ```
/// use std::collections::HashMap;
/// use stoffel::{Instruction, VMFunction, Value, VirtualMachine};
/// # fn main() -> Result<(), stoffel::Error> {
/// let double = VMFunction::new(
///     "double", vec!["x".into()], vec![], None, 2,
///     vec![Instruction::ADD(1, 0, 0), Instruction::RET(1)],
///     HashMap::new(),
/// );
/// let vm = VirtualMachine::new();
/// vm.register_function(double)?;
/// assert_eq!(vm.call("double", &[Value::Int(21)])?, Value::Int(42));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct VMFunction {
    /// The name calls use.
    pub name: String,
    /// Parameter names, in order.
    pub parameters: Vec<String>,
    /// Names of the upvalues a closure over this function carries.
    pub upvalues: Vec<String>,
    /// The enclosing function, if any (informational).
    pub parent: Option<String>,
    /// How many registers a frame of this function has.
    pub register_count: usize,
    /// The body.
    pub instructions: Vec<Instruction>,
    /// Label name to instruction index.
    pub labels: HashMap<String, usize>,
}

impl VMFunction {
    /// Builds a function from the seed's fields. Nothing is checked until it is registered.
    pub fn new(
        name: impl Into<String>,
        parameters: Vec<String>,
        upvalues: Vec<String>,
        parent: Option<String>,
        register_count: usize,
        instructions: Vec<Instruction>,
        labels: HashMap<String, usize>,
    ) -> VMFunction {
        VMFunction { name: name.into(), parameters, upvalues, parent, register_count, instructions, labels }
    }

    /// Checks everything the VM relies on: a name; register count in `max(1, parameters)..=65,536`;
    /// every register operand below the count; every jump target a label of this function that
    /// points inside the body; an `LD` offset that can name a pushed value (`k <= 0`); unique
    /// parameter and upvalue names; a non-empty body that ends with `RET` or `JMP`.
    ///
    /// # Errors
    /// A validation error naming the function, the instruction index and the problem.
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |message: String| Err(Error::validation(format!("function `{}`: {message}", self.name)));
        if self.name.is_empty() {
            return Err(Error::validation("a function needs a name"));
        }
        let minimum = self.parameters.len().max(1);
        if self.register_count < minimum {
            return fail(format!(
                "register count {} is below the minimum {minimum} (one per parameter, at least one)",
                self.register_count
            ));
        }
        if self.register_count > MAX_REGISTERS {
            return fail(format!(
                "register count {} exceeds the limit of {MAX_REGISTERS}",
                self.register_count
            ));
        }
        if let Some(name) = first_duplicate(&self.parameters) {
            return fail(format!("parameter `{name}` is declared twice"));
        }
        if let Some(name) = first_duplicate(&self.upvalues) {
            return fail(format!("upvalue `{name}` is declared twice"));
        }
        for (label, &target) in &self.labels {
            if target >= self.instructions.len() {
                return fail(format!(
                    "label `{label}` points at instruction {target}, past the end of the body ({} instructions)",
                    self.instructions.len()
                ));
            }
        }
        let Some(last) = self.instructions.last() else {
            return fail("the body is empty".to_string());
        };
        if !matches!(last, Instruction::RET(_) | Instruction::JMP(_)) {
            return fail(format!(
                "execution can run past the last instruction `{last}`: end with RET or JMP"
            ));
        }
        for (index, instruction) in self.instructions.iter().enumerate() {
            let registers = instruction.source_registers().chain(instruction.destination_register());
            for register in registers {
                if register >= self.register_count {
                    return fail(format!(
                        "instruction {index} `{instruction}` uses r{register}, but the function has {} registers",
                        self.register_count
                    ));
                }
            }
            match instruction {
                Instruction::JMP(label)
                | Instruction::JMPEQ(label)
                | Instruction::JMPNEQ(label)
                | Instruction::JMPLT(label)
                | Instruction::JMPGT(label)
                    if !self.labels.contains_key(label) =>
                {
                    return fail(format!(
                        "instruction {index} `{instruction}` jumps to undefined label `{label}`"
                    ));
                }
                Instruction::LD(_, offset) if *offset > 0 => {
                    return fail(format!(
                        "instruction {index} `{instruction}`: [sp+{offset}] is above the top of the argument stack"
                    ));
                }
                Instruction::CALL(name) if name.is_empty() => {
                    return fail(format!("instruction {index}: CALL needs a function name"));
                }
                Instruction::GETUPVAL(_, name) | Instruction::SETUPVAL(name, _)
                    if !self.upvalues.contains(name) =>
                {
                    return fail(format!(
                        "instruction {index} `{instruction}` names `{name}`, which is not a declared upvalue"
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn first_duplicate(names: &[String]) -> Option<&str> {
    let mut seen = HashSet::new();
    names.iter().find(|name| !seen.insert(name.as_str())).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::value::Value;

    fn function(register_count: usize, instructions: Vec<Instruction>) -> VMFunction {
        VMFunction::new("f", vec!["x".into()], vec![], None, register_count, instructions, HashMap::new())
    }

    fn rejects(function: VMFunction, expected: &str) {
        let error = function.validate().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Validation);
        assert!(error.to_string().contains(expected), "{error} should contain {expected}");
    }

    #[test]
    fn accepts_a_well_formed_function() {
        function(2, vec![Instruction::LDI(1, Value::Int(1)), Instruction::RET(1)]).validate().unwrap();
    }

    #[test]
    fn rejects_each_kind_of_malformed_function() {
        rejects(function(0, vec![Instruction::RET(0)]), "register count 0");
        let mut two_params = function(1, vec![Instruction::RET(0)]);
        two_params.parameters.push("y".into());
        rejects(two_params, "below the minimum 2");
        rejects(function(70_000, vec![Instruction::RET(0)]), "exceeds the limit");
        rejects(function(1, vec![]), "body is empty");
        rejects(function(1, vec![Instruction::MOV(0, 0)]), "run past the last instruction");
        rejects(function(2, vec![Instruction::ADD(0, 1, 2), Instruction::RET(0)]), "uses r2");
        rejects(function(1, vec![Instruction::RET(5)]), "uses r5");
        rejects(function(1, vec![Instruction::JMP("nowhere".into())]), "undefined label `nowhere`");
        let mut past_end = function(1, vec![Instruction::RET(0)]);
        past_end.labels.insert("end".into(), 1);
        rejects(past_end, "past the end");
        rejects(function(1, vec![Instruction::LD(0, 1), Instruction::RET(0)]), "above the top");
        let mut duplicate = function(2, vec![Instruction::RET(0)]);
        duplicate.parameters.push("x".into());
        rejects(duplicate, "parameter `x` is declared twice");
        let mut nameless = function(1, vec![Instruction::RET(0)]);
        nameless.name.clear();
        rejects(nameless, "needs a name");
    }
}
