//! Definite assignment: which registers a function has certainly written before each of its
//! instructions, found once when it is loaded.
//!
//! It lets a returning call skip resetting its registers to unit (the release loop was an
//! eighth of a `fib` call, callgrind). A window then may still hold the scalars (and interned
//! string constants) of an earlier call when the next call opens over it, which no program can
//! see: a register
//! that some path reads before writing is reset when the frame is entered (`reset`), and every
//! other register is written before any read. Only a hook could look at such a register early,
//! so when hooks come on, [`VMState::settle_frames`](crate::state::VMState) resets what no path
//! has written yet (`before`). Other references never stay behind: a frame whose window received
//! one clears its registers on return as before (`VMState::ref_writes`).

use crate::activation::EAGER;
use crate::function::VMFunction;
use crate::instruction::Instruction;
use crate::state::VMState;
use crate::value::Value;

/// A function's definite assignment, for functions of at most 64 registers (one bit each).
#[derive(Debug)]
pub(crate) struct Assignment {
    /// For each instruction, the registers every path to it has written (parameters count as
    /// written; an instruction no path reaches has all bits set).
    pub(crate) before: Box<[u64]>,
    /// Registers (bit r for register r), parameters aside, that some instruction may read
    /// before any write: reset to unit when the frame is entered.
    pub(crate) reset: u64,
}

/// The register bit of `register`, or none beyond 64.
fn bit(register: usize) -> u64 {
    1u64.checked_shl(register as u32).unwrap_or(0)
}

/// The registers `instruction` writes (`CALL` writes r0 when its callee returns).
fn writes(instruction: &Instruction) -> u64 {
    match instruction {
        Instruction::CALL(_) => bit(0),
        other => other.destination_register().map_or(0, bit),
    }
}

/// The instructions control may go to after `index`.
fn successors(def: &VMFunction, index: usize) -> [Option<usize>; 2] {
    let next = (index + 1 < def.instructions.len()).then_some(index + 1);
    let target = |label: &String| def.labels.get(label).copied();
    match &def.instructions[index] {
        Instruction::JMP(label) => [target(label), None],
        Instruction::JMPEQ(label)
        | Instruction::JMPNEQ(label)
        | Instruction::JMPLT(label)
        | Instruction::JMPGT(label) => [target(label), next],
        Instruction::RET(_) => [None, None],
        _ => [next, None],
    }
}

/// The definite assignment of a validated function; `None` when it has more than 64 registers
/// (its calls reset their windows in full).
pub(crate) fn analyse(def: &VMFunction) -> Option<Assignment> {
    if def.register_count > 64 || def.instructions.is_empty() {
        return None;
    }
    let parameters = (0..def.parameters.len()).fold(0, |mask, register| mask | bit(register));
    let count = def.instructions.len();
    // A forward data flow to a fixed point: what is written before an instruction is what all
    // its predecessors wrote (an intersection), starting from "everything" where no path has
    // arrived yet.
    let mut before = vec![u64::MAX; count];
    let mut reached = vec![false; count];
    before[0] = parameters;
    reached[0] = true;
    let mut work = vec![0usize];
    while let Some(index) = work.pop() {
        let after = before[index] | writes(&def.instructions[index]);
        for next in successors(def, index).into_iter().flatten() {
            let merged = if reached[next] { before[next] & after } else { after };
            if !reached[next] || merged != before[next] {
                reached[next] = true;
                before[next] = merged;
                work.push(next);
            }
        }
    }
    let mut reset = 0;
    for (index, instruction) in def.instructions.iter().enumerate() {
        if reached[index] {
            for register in instruction.source_registers() {
                reset |= bit(register) & !before[index];
            }
        }
    }
    reset &= !parameters;
    Some(Assignment { before: before.into_boxed_slice(), reset })
}

impl VMState {
    /// Makes every frame's registers what they would be had each call reset its window on
    /// return: the registers no path has written yet at a frame's instruction become unit
    /// (their values are dead: every path writes them before any read), and the frames reset
    /// their registers on return from now on. Called before the traced loop runs, where hooks
    /// see registers.
    pub(crate) fn settle_frames(&mut self) {
        for frame in self.frames.iter() {
            if frame.ref_epoch.replace(EAGER) == EAGER {
                continue;
            }
            let Some(assignment) = &frame.function.assignment else { continue };
            let written = assignment.before.get(frame.pc.get()).copied().unwrap_or(u64::MAX);
            // Registers reset on entry hold unit or what this call wrote: exact already.
            let exact = written | assignment.reset;
            for register in 0..frame.function.def.register_count {
                if exact & bit(register) == 0 {
                    if let Some(value) = self.registers.get_mut(frame.base + register) {
                        *value = Value::Unit;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function(text: &str) -> VMFunction {
        let program = crate::asm::assemble(text).unwrap_or_else(|error| panic!("{error}"));
        program.into_parts().0.into_iter().next().expect("one function")
    }

    #[test]
    fn registers_written_on_every_path_need_no_reset() {
        // The benchmark's fib: r1 to r3 are written before they are read on every path.
        let fib = function(include_str!("../../../benches/programs/fib.stf"));
        let assignment = analyse(&fib).expect("4 registers");
        assert_eq!(assignment.reset, 0, "{assignment:?}");
        assert_eq!(assignment.before[0], 0b0001, "the parameter");
        assert_eq!(assignment.before[3], 0b0011, "after LDI r1");
        // At `done` only r0 and r1 are written on both paths.
        assert_eq!(assignment.before[14], 0b0011);
    }

    #[test]
    fn a_register_some_path_reads_unwritten_is_reset() {
        let branchy = function(
            "fn f(x) {
                CMP r0, r0
                JMPEQ skip
                LDI r2, 5
            skip:
                RET r2
            }",
        );
        let assignment = analyse(&branchy).expect("3 registers");
        assert_eq!(assignment.reset, 0b100);
        // A loop: r1 is read at the top before the body writes it on the first pass.
        let looped = function(
            "fn g() {
            top:
                ADD r0, r1, r1
                LDI r1, 1
                JMP top
            }",
        );
        let assignment = analyse(&looped).expect("2 registers");
        assert_eq!(assignment.reset, 0b10);
        // CALL writes r0; an unreachable read changes nothing.
        let called = function(
            "fn h() {
                CALL other
                RET r0
                RET r1
            }",
        );
        let assignment = analyse(&called).expect("2 registers");
        assert_eq!(assignment.reset, 0, "{assignment:?}");
    }

    #[test]
    fn more_than_64_registers_are_not_analysed() {
        let big = function("fn big() registers(65) {\n LDI r64, 1\n RET r64\n}");
        assert!(analyse(&big).is_none());
        let fits = function("fn fits() registers(64) {\n RET r63\n}");
        assert_eq!(analyse(&fits).expect("64 registers").reset, 1 << 63);
    }
}
