//! The instruction set, defined once: every other table (the runtime's `Instruction` enum, the
//! assembler's mnemonic table, operand checking, the disassembler) is derived from
//! [`for_each_instruction!`](crate::for_each_instruction).

/// Calls the macro named `$then` with the whole instruction table.
///
/// Each entry reads `MNEMONIC(field: Kind, ...) "summary";`. The operand kinds are:
///
/// | kind    | text form         | meaning                                                  |
/// |---------|-------------------|----------------------------------------------------------|
/// | `Dst`   | `rN`              | a register the instruction writes                         |
/// | `Src`   | `rN`              | a register the instruction reads                          |
/// | `Stack` | `[sp+k]`, `[sp-k]`| an offset into the frame's pending-argument stack          |
/// | `Imm`   | `42`, `"s"`, `()` | an immediate value                                        |
/// | `Label` | `name`            | a label of the same function                              |
/// | `Func`  | `name`, `"name"`  | a function name (VM, foreign or builtin)                  |
/// | `Upvalue` | `name`, `"name"` | an upvalue the function declares in `captures(...)`     |
///
/// Add an instruction here and nowhere else; the compiler then points at every `match` that
/// must learn it.
#[macro_export]
macro_rules! for_each_instruction {
    ($then:ident) => {
        $then! {
            LD(d: Dst, k: Stack) "load the pending argument at [sp+k] into rD ([sp+0] is the most recently pushed)";
            LDI(d: Dst, v: Imm) "load an immediate (int, float, bool, string or unit) into rD";
            MOV(d: Dst, a: Src) "copy rA into rD";
            ADD(d: Dst, a: Src, b: Src) "rD = rA + rB (ints, floats, string concatenation); int overflow is an error";
            SUB(d: Dst, a: Src, b: Src) "rD = rA - rB; int overflow is an error";
            MUL(d: Dst, a: Src, b: Src) "rD = rA * rB; int overflow is an error";
            DIV(d: Dst, a: Src, b: Src) "rD = rA / rB; ints truncate toward zero, division by int zero is an error";
            MOD(d: Dst, a: Src, b: Src) "rD = rA % rB with the dividend's sign; modulo by int zero is an error";
            AND(d: Dst, a: Src, b: Src) "bitwise and on ints, logical and on bools";
            OR(d: Dst, a: Src, b: Src) "bitwise or on ints, logical or on bools";
            XOR(d: Dst, a: Src, b: Src) "bitwise xor on ints, logical xor on bools";
            NOT(d: Dst, a: Src) "bitwise not on ints, logical not on bools";
            SHL(d: Dst, a: Src, b: Src) "shift the int rA left by rB bits (0..=63)";
            SHR(d: Dst, a: Src, b: Src) "shift the int rA right arithmetically by rB bits (0..=63)";
            CMP(a: Src, b: Src) "compare rA with rB and set the frame's compare flag";
            JMP(t: Label) "jump to the label";
            JMPEQ(t: Label) "jump if the compare flag is equal";
            JMPNEQ(t: Label) "jump if the compare flag is not equal (unordered included)";
            JMPLT(t: Label) "jump if the compare flag is less";
            JMPGT(t: Label) "jump if the compare flag is greater";
            PUSHARG(a: Src) "push rA onto the frame's pending-argument stack";
            CALL(f: Func) "call a function with the pending arguments; the result goes to r0";
            RET(a: Src) "return rA to the caller";
            GETUPVAL(d: Dst, u: Upvalue) "extension: load the running closure's upvalue into rD (`get_upvalue` as one instruction)";
            SETUPVAL(u: Upvalue, a: Src) "extension: store rA into the running closure's upvalue (`set_upvalue` as one instruction)";
        }
    };
}

/// The kind of one operand, as the table names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperandKind {
    /// A register the instruction writes (`rD`).
    Dst,
    /// A register the instruction reads (`rA`, `rB`).
    Src,
    /// An offset into the pending-argument stack (`[sp+k]`).
    Stack,
    /// An immediate value.
    Imm,
    /// A label of the same function.
    Label,
    /// A function name.
    Func,
    /// The name of an upvalue the function declares (`captures(...)`).
    Upvalue,
}

impl OperandKind {
    /// The placeholder used in messages and docs: `rD`, `rA`, `[sp+k]`, `imm`, `label`, `name`.
    pub fn placeholder(self, field: &str) -> String {
        match self {
            OperandKind::Dst | OperandKind::Src => format!("r{}", field.to_ascii_uppercase()),
            OperandKind::Stack => "[sp+k]".to_string(),
            OperandKind::Imm => "imm".to_string(),
            OperandKind::Label => "label".to_string(),
            OperandKind::Func => "name".to_string(),
            OperandKind::Upvalue => "upvalue".to_string(),
        }
    }

    /// Whether the operand is written as a register (`rN`).
    pub fn is_register(self) -> bool {
        matches!(self, OperandKind::Dst | OperandKind::Src)
    }
}

/// One row of the instruction table.
#[derive(Debug)]
pub struct OpSpec {
    /// The mnemonic, upper case (`ADD`).
    pub mnemonic: &'static str,
    /// Operand field names, in order (`d`, `a`, `b`).
    pub fields: &'static [&'static str],
    /// Operand kinds, in order.
    pub operands: &'static [OperandKind],
    /// A one-line description.
    pub summary: &'static str,
}

impl OpSpec {
    /// The operand form for messages: `rD, rA, rB`.
    pub fn form(&self) -> String {
        self.fields
            .iter()
            .zip(self.operands)
            .map(|(field, kind)| kind.placeholder(field))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether control never falls through to the next instruction (`RET`, `JMP`).
    pub fn ends_block(&self) -> bool {
        matches!(self.mnemonic, "RET" | "JMP")
    }
}

/// Two rows are equal when they are the same instruction (mnemonics are unique in the table).
impl PartialEq for OpSpec {
    fn eq(&self, other: &Self) -> bool {
        self.mnemonic == other.mnemonic
    }
}

impl Eq for OpSpec {}

macro_rules! define_op_specs {
    ($($name:ident ( $($field:ident : $kind:ident),* ) $doc:literal;)*) => {
        /// Every instruction, in table order.
        pub static OPS: &[OpSpec] = &[
            $(OpSpec {
                mnemonic: stringify!($name),
                fields: &[$(stringify!($field)),*],
                operands: &[$(OperandKind::$kind),*],
                summary: $doc,
            },)*
        ];
    };
}
for_each_instruction!(define_op_specs);

/// Looks up a mnemonic (case-sensitive, upper case as the table spells it).
pub fn lookup(mnemonic: &str) -> Option<&'static OpSpec> {
    OPS.iter().find(|op| op.mnemonic == mnemonic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_every_seed_instruction() {
        let names: Vec<_> = OPS.iter().map(|op| op.mnemonic).collect();
        for seed in [
            "LD", "LDI", "MOV", "ADD", "SUB", "MUL", "DIV", "MOD", "AND", "OR", "XOR", "NOT", "SHL", "SHR",
            "CMP", "JMP", "JMPEQ", "JMPNEQ", "JMPLT", "JMPGT", "PUSHARG", "CALL", "RET",
        ] {
            assert!(names.contains(&seed), "{seed} missing");
        }
        assert_eq!(lookup("ADD").unwrap().form(), "rD, rA, rB");
        assert_eq!(lookup("LD").unwrap().form(), "rD, [sp+k]");
        assert!(lookup("RET").unwrap().ends_block());
    }
}
