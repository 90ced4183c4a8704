//! The Stoffel instruction table and the assembler shared by `bytecode!` (compile time) and
//! `stoffel::asm::assemble` (run time): one grammar, one parser, one set of checks.

pub mod isa;

pub use isa::{lookup, OpSpec, OperandKind, OPS};
