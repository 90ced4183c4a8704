//! Lowering: a validated `VMFunction` becomes a `CompiledFunction` whose `Op`s are compact and
//! resolved — `u16` registers, jump targets as instruction indices, constants by index, `CALL`
//! as a slot of the function table (re-registration rewrites the slot, not the code).

use crate::function::VMFunction;
use crate::instruction::Instruction;
use crate::state::FunctionTable;
use crate::value::Value;

/// One resolved instruction; 8 bytes, `Copy`, no heap data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Ld { d: u16, k: i32 },
    Ldi { d: u16, c: u32 },
    Mov { d: u16, a: u16 },
    Add { d: u16, a: u16, b: u16 },
    Sub { d: u16, a: u16, b: u16 },
    Mul { d: u16, a: u16, b: u16 },
    Div { d: u16, a: u16, b: u16 },
    Mod { d: u16, a: u16, b: u16 },
    And { d: u16, a: u16, b: u16 },
    Or { d: u16, a: u16, b: u16 },
    Xor { d: u16, a: u16, b: u16 },
    Not { d: u16, a: u16 },
    Shl { d: u16, a: u16, b: u16 },
    Shr { d: u16, a: u16, b: u16 },
    Cmp { a: u16, b: u16 },
    Jmp { t: u32 },
    JmpEq { t: u32 },
    JmpNeq { t: u32 },
    JmpLt { t: u32 },
    JmpGt { t: u32 },
    PushArg { a: u16 },
    Call { slot: u32 },
    Ret { a: u16 },
}

const _: () = assert!(std::mem::size_of::<Op>() == 8);

/// A function ready to run: its definition (for hooks, errors, disassembly) and its code.
pub(crate) struct CompiledFunction {
    pub(crate) def: VMFunction,
    pub(crate) code: Box<[Op]>,
    pub(crate) constants: Box<[Value]>,
}

/// Lowers a function that passed [`VMFunction::validate`]; `CALL` names are resolved to slots
/// in `functions`, creating empty slots for names not registered yet.
pub(crate) fn compile(def: VMFunction, functions: &mut FunctionTable) -> CompiledFunction {
    let mut constants = Vec::new();
    // Validation proved registers < 65,536 and every label defined and in range.
    let reg = |r: &usize| *r as u16;
    let target = |label: &String| def.labels.get(label).copied().unwrap_or(0) as u32;
    let code = def
        .instructions
        .iter()
        .map(|instruction| match instruction {
            Instruction::LD(d, k) => Op::Ld { d: reg(d), k: *k },
            Instruction::LDI(d, value) => {
                constants.push(value.clone());
                Op::Ldi { d: reg(d), c: (constants.len() - 1) as u32 }
            }
            Instruction::MOV(d, a) => Op::Mov { d: reg(d), a: reg(a) },
            Instruction::ADD(d, a, b) => Op::Add { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::SUB(d, a, b) => Op::Sub { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::MUL(d, a, b) => Op::Mul { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::DIV(d, a, b) => Op::Div { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::MOD(d, a, b) => Op::Mod { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::AND(d, a, b) => Op::And { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::OR(d, a, b) => Op::Or { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::XOR(d, a, b) => Op::Xor { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::NOT(d, a) => Op::Not { d: reg(d), a: reg(a) },
            Instruction::SHL(d, a, b) => Op::Shl { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::SHR(d, a, b) => Op::Shr { d: reg(d), a: reg(a), b: reg(b) },
            Instruction::CMP(a, b) => Op::Cmp { a: reg(a), b: reg(b) },
            Instruction::JMP(label) => Op::Jmp { t: target(label) },
            Instruction::JMPEQ(label) => Op::JmpEq { t: target(label) },
            Instruction::JMPNEQ(label) => Op::JmpNeq { t: target(label) },
            Instruction::JMPLT(label) => Op::JmpLt { t: target(label) },
            Instruction::JMPGT(label) => Op::JmpGt { t: target(label) },
            Instruction::PUSHARG(a) => Op::PushArg { a: reg(a) },
            Instruction::CALL(name) => Op::Call { slot: functions.slot(name) },
            Instruction::RET(a) => Op::Ret { a: reg(a) },
        })
        .collect();
    CompiledFunction { def, code, constants: constants.into_boxed_slice() }
}
