//! `Instruction`: the instruction set as the public API sees it, one variant per row of the
//! table in `stoffel_asm::isa`, with the operand types fixed by the design contract.

use std::fmt;

use crate::value::Value;

/// Formats one operand by its table kind, so `Display` reads back through the assembler.
macro_rules! write_operand {
    ($f:ident, Dst, $v:expr) => {
        write!($f, "r{}", $v)
    };
    ($f:ident, Src, $v:expr) => {
        write!($f, "r{}", $v)
    };
    ($f:ident, Stack, $v:expr) => {
        $f.write_str(&stoffel_asm::disasm::fmt_stack(*$v))
    };
    ($f:ident, Imm, $v:expr) => {
        write_immediate($f, $v)
    };
    ($f:ident, Label, $v:expr) => {
        $f.write_str($v)
    };
    ($f:ident, Func, $v:expr) => {
        $f.write_str(&stoffel_asm::disasm::fmt_name($v))
    };
    ($f:ident, Upvalue, $v:expr) => {
        $f.write_str(&stoffel_asm::disasm::fmt_name($v))
    };
}

/// The Rust type of an operand kind (fixed by the design contract).
macro_rules! operand_type {
    (Dst) => {
        usize
    };
    (Src) => {
        usize
    };
    (Stack) => {
        i32
    };
    (Imm) => {
        Value
    };
    (Label) => {
        String
    };
    (Func) => {
        String
    };
    (Upvalue) => {
        String
    };
}

macro_rules! define_instruction {
    ($($name:ident ( $($field:ident : $kind:ident),* ) $doc:literal;)*) => {
        /// One VM instruction, as written in source and shown by the disassembler. Registers are
        /// indices into the frame (`r0` is `0`), jumps name labels, `CALL` names a function.
        ///
        /// The variants and their operands come from the one instruction table
        /// (`stoffel_asm::for_each_instruction!`).
        ///
        /// # Examples
        /// ```
        /// use stoffel::{Instruction, Value};
        /// assert_eq!(Instruction::ADD(2, 0, 1).to_string(), "ADD r2, r0, r1");
        /// assert_eq!(Instruction::LD(0, -1).to_string(), "LD r0, [sp-1]");
        /// assert_eq!(Instruction::LDI(0, Value::from("hi")).to_string(), "LDI r0, \"hi\"");
        /// ```
        #[allow(clippy::upper_case_acronyms)]
        #[derive(Clone, Debug, PartialEq)]
        pub enum Instruction {
            $( #[doc = $doc] $name( $(operand_type!($kind)),* ), )*
        }

        impl Instruction {
            /// The mnemonic, as the assembler spells it.
            pub fn mnemonic(&self) -> &'static str {
                match self { $( Instruction::$name(..) => stringify!($name), )* }
            }

            /// The registers this instruction reads (its `Src` operands), in operand order.
            /// No instruction reads more than two; nothing is allocated (hooks call this for
            /// every traced instruction).
            pub fn source_registers(&self) -> impl Iterator<Item = usize> {
                #[allow(unused_mut)]
                let mut registers = [None; 2];
                match self {
                    $( #[allow(unused_variables)] Instruction::$name($($field),*) => {
                        let mut _next = 0;
                        $( collect_register!(registers, _next, $kind, $field); )*
                    } )*
                }
                registers.into_iter().flatten()
            }

            /// The register this instruction writes directly (its `Dst` operand); `CALL` writes
            /// `r0` when the callee returns.
            pub fn destination_register(&self) -> Option<usize> {
                match self {
                    $( #[allow(unused_variables)] Instruction::$name($($field),*) => {
                        None $( .or(destination!($kind, $field)) )*
                    } )*
                }
            }
        }

        impl fmt::Display for Instruction {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( Instruction::$name($($field),*) => {
                        f.write_str(stringify!($name))?;
                        let mut _separator = " ";
                        $(
                            f.write_str(_separator)?;
                            write_operand!(f, $kind, $field)?;
                            _separator = ", ";
                        )*
                        Ok(())
                    } )*
                }
            }
        }
    };
}

macro_rules! collect_register {
    ($registers:ident, $next:ident, Src, $v:expr) => {{
        // The table gives no instruction more than two sources: checked by a test below.
        if let Some(slot) = $registers.get_mut($next) {
            *slot = Some(*$v);
        }
        $next += 1;
    }};
    ($registers:ident, $next:ident, $other:ident, $v:expr) => {};
}

macro_rules! destination {
    (Dst, $v:expr) => {
        Some(*$v)
    };
    ($other:ident, $v:expr) => {
        None
    };
}

stoffel_asm::for_each_instruction!(define_instruction);

/// Writes an immediate as assembler text. Values without a literal form (objects, arrays,
/// closures, foreign objects put there by a `{rust_expr}`) print as a comment-like placeholder.
fn write_immediate(f: &mut fmt::Formatter<'_>, value: &Value) -> fmt::Result {
    match value {
        Value::Int(i) => write!(f, "{i}"),
        Value::Float(x) => f.write_str(&stoffel_asm::disasm::fmt_float(*x)),
        Value::Bool(b) => write!(f, "{b}"),
        Value::String(s) => f.write_str(&stoffel_asm::disasm::fmt_string_literal(s)),
        Value::Unit => f.write_str("()"),
        other => write!(f, "<{} {other}>", other.type_name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_like_the_assembler() {
        assert_eq!(Instruction::LDI(1, Value::Float(2.0)).to_string(), "LDI r1, 2.0");
        assert_eq!(Instruction::LDI(1, Value::Unit).to_string(), "LDI r1, ()");
        assert_eq!(Instruction::LD(1, 0).to_string(), "LD r1, [sp+0]");
        assert_eq!(Instruction::CALL("fib".into()).to_string(), "CALL fib");
        assert_eq!(Instruction::CALL("odd name".into()).to_string(), "CALL \"odd name\"");
        assert_eq!(Instruction::JMPLT("done".into()).to_string(), "JMPLT done");
        assert_eq!(Instruction::CMP(0, 1).to_string(), "CMP r0, r1");
    }

    #[test]
    fn registers_come_from_the_table() {
        assert_eq!(Instruction::ADD(2, 0, 1).source_registers().collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(Instruction::ADD(2, 0, 1).destination_register(), Some(2));
        assert_eq!(Instruction::PUSHARG(3).source_registers().collect::<Vec<_>>(), vec![3]);
        assert_eq!(Instruction::PUSHARG(3).destination_register(), None);
        assert_eq!(Instruction::JMP("x".into()).source_registers().count(), 0);
        // No instruction of the table reads more than two registers (source_registers has two slots).
        for op in stoffel_asm::OPS {
            let sources = op.operands.iter().filter(|k| **k == stoffel_asm::OperandKind::Src).count();
            assert!(sources <= 2, "{} reads {sources} registers", op.mnemonic);
        }
    }
}
