//! The assembler's syntax tree: functions, labels and instructions whose operands are already
//! matched against the instruction table, every name and operand keeping its span.

use std::collections::HashMap;

use crate::isa::OpSpec;

/// The largest register count a function may have (DESIGN §3); registers are `r0..=r65535`.
pub const MAX_REGISTERS: u32 = 65_536;

/// A whole program: every function of one `bytecode!` block or one assembler text.
#[derive(Clone, Debug, PartialEq)]
pub struct Program<S, H> {
    /// The functions, in source order.
    pub functions: Vec<Function<S, H>>,
}

/// A name and where it is written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Name<S> {
    /// The name as the program uses it (a quoted name without its quotes and escapes).
    pub text: String,
    /// Where it is written.
    pub span: S,
}

/// One function: `fn name(params) captures(...) registers(N) { body }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Function<S, H> {
    /// The function's name.
    pub name: Name<S>,
    /// Parameter names; parameter `i` arrives in register `i`.
    pub params: Vec<Name<S>>,
    /// Upvalue names from `captures(...)`.
    pub captures: Vec<Name<S>>,
    /// The declared register count from `registers(N)` and the span of `N`; `None` when the
    /// count is inferred.
    pub registers: Option<(u32, S)>,
    /// Labels and instructions, in order.
    pub body: Vec<Item<S, H>>,
    /// The span of the `fn` keyword.
    pub span: S,
    /// Whether the parser dropped malformed parts of this function (errors were reported).
    /// Checks that need the whole body — running past the end, argument counts before `CALL`,
    /// an empty body — are skipped for it so that they do not report echoes.
    pub incomplete: bool,
}

/// One entry of a function body.
#[derive(Clone, Debug, PartialEq)]
pub enum Item<S, H> {
    /// `name:` — the label names the position of the next instruction.
    Label(String, S),
    /// An instruction.
    Instr(Instr<S, H>),
}

/// One instruction with operands that match its table row.
#[derive(Clone, Debug, PartialEq)]
pub struct Instr<S, H> {
    /// The table row (`op.mnemonic` is the mnemonic).
    pub op: &'static OpSpec,
    /// One operand per table field, each of the field's kind.
    pub operands: Vec<Operand<S, H>>,
    /// The span of the mnemonic.
    pub span: S,
}

/// An operand, already checked against the kind its table field wants.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand<S, H> {
    /// `rN`, for a `Dst` or `Src` field.
    Reg(u32, S),
    /// `[sp+k]` / `[sp-k]` / `[sp]`, for a `Stack` field.
    Stack(i32, S),
    /// A literal immediate, for an `Imm` field.
    Imm(Literal, S),
    /// `{expr}` in `bytecode!`: a Rust expression converted with `IntoValue`, for an `Imm` field.
    HostImm(H, S),
    /// A label name, for a `Label` field.
    Label(String, S),
    /// A function name (identifier or string), for a `Func` field.
    Func(String, S),
    /// `{path}` in `bytecode!`: a Rust function item (a `#[foreign_fn]`), for a `Func` field.
    HostFunc(H, S),
    /// An upvalue name (identifier or string), for an `Upvalue` field.
    Upvalue(String, S),
}

/// A literal immediate value.
///
/// Equality is structural with floats compared bit for bit, except that every NaN equals every
/// NaN: a program equals itself and survives printing and reading back (`-0.0` stays apart
/// from `0.0`).
#[derive(Clone, Debug)]
pub enum Literal {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A string.
    Str(String),
    /// `()`.
    Unit,
}

impl PartialEq for Literal {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Literal::Int(a), Literal::Int(b)) => a == b,
            (Literal::Float(a), Literal::Float(b)) => {
                (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
            }
            (Literal::Bool(a), Literal::Bool(b)) => a == b,
            (Literal::Str(a), Literal::Str(b)) => a == b,
            (Literal::Unit, Literal::Unit) => true,
            _ => false,
        }
    }
}

impl<S, H> Operand<S, H> {
    /// Where the operand is written.
    pub fn span(&self) -> &S {
        match self {
            Operand::Reg(_, span)
            | Operand::Stack(_, span)
            | Operand::Imm(_, span)
            | Operand::HostImm(_, span)
            | Operand::Label(_, span)
            | Operand::Func(_, span)
            | Operand::HostFunc(_, span)
            | Operand::Upvalue(_, span) => span,
        }
    }

    /// The register index, if the operand is a register.
    pub fn register(&self) -> Option<u32> {
        match self {
            Operand::Reg(index, _) => Some(*index),
            _ => None,
        }
    }

    fn map_span<T>(self, convert: &mut impl FnMut(S) -> T) -> Operand<T, H> {
        match self {
            Operand::Reg(index, span) => Operand::Reg(index, convert(span)),
            Operand::Stack(offset, span) => Operand::Stack(offset, convert(span)),
            Operand::Imm(literal, span) => Operand::Imm(literal, convert(span)),
            Operand::HostImm(host, span) => Operand::HostImm(host, convert(span)),
            Operand::Label(name, span) => Operand::Label(name, convert(span)),
            Operand::Func(name, span) => Operand::Func(name, convert(span)),
            Operand::HostFunc(host, span) => Operand::HostFunc(host, convert(span)),
            Operand::Upvalue(name, span) => Operand::Upvalue(name, convert(span)),
        }
    }
}

impl<S, H> Instr<S, H> {
    /// The registers this instruction names, in operand order.
    pub fn registers(&self) -> impl Iterator<Item = u32> + '_ {
        self.operands.iter().filter_map(Operand::register)
    }
}

impl<S, H> Function<S, H> {
    /// The instructions, without the labels.
    pub fn instructions(&self) -> impl Iterator<Item = &Instr<S, H>> + '_ {
        self.body.iter().filter_map(|item| match item {
            Item::Instr(instr) => Some(instr),
            Item::Label(..) => None,
        })
    }

    /// The register count the function would get without `registers(N)`: the highest register
    /// used plus one, at least the parameter count, at least 1 (saturating at `u32::MAX`).
    pub fn inferred_register_count(&self) -> u32 {
        let used = self
            .instructions()
            .flat_map(Instr::registers)
            .map(|index| index.saturating_add(1))
            .max()
            .unwrap_or(0);
        let params = u32::try_from(self.params.len()).unwrap_or(u32::MAX);
        used.max(params).max(1)
    }

    /// The register count: the declared `registers(N)`, else the inferred count.
    pub fn register_count(&self) -> u32 {
        match &self.registers {
            Some((declared, _)) => *declared,
            None => self.inferred_register_count(),
        }
    }

    /// Each label with the index of the instruction it names (labels do not count as
    /// instructions; a label at the end names the index one past the last instruction). When
    /// a label is defined twice (an error `check` reports), the first definition wins.
    pub fn label_positions(&self) -> HashMap<String, usize> {
        let mut positions = HashMap::new();
        let mut instruction_index = 0;
        for item in &self.body {
            match item {
                Item::Label(name, _) => {
                    positions.entry(name.clone()).or_insert(instruction_index);
                }
                Item::Instr(_) => instruction_index += 1,
            }
        }
        positions
    }

    fn map_spans<T>(self, convert: &mut impl FnMut(S) -> T) -> Function<T, H> {
        let mut name = |name: Name<S>| Name { text: name.text, span: convert(name.span) };
        let fn_name = name(self.name);
        let params = self.params.into_iter().map(&mut name).collect();
        let captures = self.captures.into_iter().map(&mut name).collect();
        Function {
            name: fn_name,
            params,
            captures,
            registers: self.registers.map(|(count, span)| (count, convert(span))),
            body: self
                .body
                .into_iter()
                .map(|item| match item {
                    Item::Label(label, span) => Item::Label(label, convert(span)),
                    Item::Instr(instr) => Item::Instr(Instr {
                        op: instr.op,
                        span: convert(instr.span),
                        operands: instr
                            .operands
                            .into_iter()
                            .map(|operand| operand.map_span(convert))
                            .collect(),
                    }),
                })
                .collect(),
            span: convert(self.span),
            incomplete: self.incomplete,
        }
    }
}

impl<S, H> Program<S, H> {
    /// The first function with this name.
    pub fn function(&self, name: &str) -> Option<&Function<S, H>> {
        self.functions.iter().find(|f| f.name.text == name)
    }

    /// The same program with every span converted, e.g. to `()` to compare two programs by
    /// their code alone.
    pub fn map_spans<T>(self, mut convert: impl FnMut(S) -> T) -> Program<T, H> {
        Program {
            functions: self.functions.into_iter().map(|function| function.map_spans(&mut convert)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::lookup;
    use crate::token::Never;

    fn reg(index: u32) -> Operand<(), Never> {
        Operand::Reg(index, ())
    }

    fn instr(mnemonic: &str, operands: Vec<Operand<(), Never>>) -> Item<(), Never> {
        Item::Instr(Instr { op: lookup(mnemonic).unwrap(), operands, span: () })
    }

    fn function(params: usize, body: Vec<Item<(), Never>>) -> Function<(), Never> {
        Function {
            name: Name { text: "f".into(), span: () },
            params: (0..params).map(|i| Name { text: format!("p{i}"), span: () }).collect(),
            captures: vec![],
            registers: None,
            body,
            span: (),
            incomplete: false,
        }
    }

    #[test]
    fn register_count_is_inferred() {
        let f = function(0, vec![instr("RET", vec![reg(0)])]);
        assert_eq!(f.inferred_register_count(), 1);
        let f = function(3, vec![instr("RET", vec![reg(0)])]);
        assert_eq!(f.inferred_register_count(), 3);
        let f = function(1, vec![instr("ADD", vec![reg(7), reg(0), reg(2)])]);
        assert_eq!(f.inferred_register_count(), 8);
        let f = function(0, vec![instr("MOV", vec![reg(u32::MAX), reg(0)])]);
        assert_eq!(f.inferred_register_count(), u32::MAX);
        let mut declared = function(0, vec![instr("RET", vec![reg(0)])]);
        declared.registers = Some((32, ()));
        assert_eq!(declared.register_count(), 32);
    }

    #[test]
    fn labels_name_instruction_indices() {
        let f = function(
            0,
            vec![
                Item::Label("start".into(), ()),
                instr("RET", vec![reg(0)]),
                Item::Label("a".into(), ()),
                Item::Label("b".into(), ()),
                instr("RET", vec![reg(0)]),
                Item::Label("start".into(), ()),
                Item::Label("end".into(), ()),
            ],
        );
        let positions = f.label_positions();
        assert_eq!(positions["start"], 0);
        assert_eq!(positions["a"], 1);
        assert_eq!(positions["b"], 1);
        assert_eq!(positions["end"], 2);
        assert_eq!(f.instructions().count(), 2);
    }

    #[test]
    fn literal_equality_treats_nan_as_equal() {
        assert_eq!(Literal::Float(f64::NAN), Literal::Float(-f64::NAN));
        assert_ne!(Literal::Float(0.0), Literal::Float(-0.0));
        assert_ne!(Literal::Int(1), Literal::Float(1.0));
        assert_eq!(Literal::Unit, Literal::Unit);
    }
}
