//! The run-time assembler: Stoffel assembly text to a [`Program`], with the same grammar, parser
//! and checks as `bytecode!` (both are `stoffel_asm`), each mistake reported at its `line:column`.
//!
//! The text is what `bytecode!` accepts, minus its two Rust forms (`{expr}` immediates and
//! `CALL {path}`), and what `Program`'s `Display` prints, so a program survives being printed
//! and read back:
//!
//! ```text
//! // fib.stf
//! fn fib(n) {
//!     LDI r1, 2
//!     CMP r0, r1
//!     JMPLT done          // n < 2: fib(n) = n
//!     ...
//! done:
//!     RET r0
//! }
//! ```

use std::fmt::Write as _;

use stoffel_asm::ast::{Function, Instr, Literal, Operand};
use stoffel_asm::Never;

use crate::error::{Error, ErrorKind};
use crate::function::VMFunction;
use crate::instruction::Instruction;
use crate::program::Program;
use crate::value::Value;

pub use stoffel_asm::{Diagnostic, LineCol};

/// Assembles `text` into a [`Program`] ready for [`VirtualMachine::load`](crate::VirtualMachine::load).
///
/// Never panics, whatever the input.
///
/// # Errors
///
/// An [`ErrorKind::Assembly`] error listing every mistake, one per line in source order, each
/// as `line:column: message` (a suggestion or note follows on an indented line of its own):
///
/// ```text
/// 2:5: unknown instruction `ADDD`
///   help: did you mean `ADD`?
/// 4:11: undefined label `dne` in `main`
/// ```
///
/// Use [`assemble_diagnostics`] to get them one by one, say to [`render`] each under its line.
///
/// # Examples
///
/// ```
/// use stoffel::{Value, VirtualMachine};
/// # fn main() -> Result<(), stoffel::Error> {
/// let program = stoffel::asm::assemble(
///     "fn double(x) {
///          ADD r0, r0, r0
///          RET r0
///      }",
/// )?;
/// let vm = VirtualMachine::new();
/// vm.load(program)?;
/// assert_eq!(vm.call("double", &[Value::Int(21)])?, Value::Int(42));
///
/// let error = stoffel::asm::assemble("fn f() {\n    ADDD r0, r0, r0\n    RET r0\n}").unwrap_err();
/// assert_eq!(error.kind(), stoffel::ErrorKind::Assembly);
/// assert_eq!(error.message(), "2:5: unknown instruction `ADDD`\n  help: did you mean `ADD`?");
/// # Ok(()) }
/// ```
pub fn assemble(text: &str) -> Result<Program, Error> {
    assemble_diagnostics(text).map_err(|diagnostics| {
        let message: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
        Error::new(ErrorKind::Assembly, message.join("\n"))
    })
}

/// Assembles `text` into a [`Program`], or gives every mistake as a [`Diagnostic`] with its
/// [`LineCol`], sorted by position: for tools that show each mistake in their own way.
///
/// # Errors
///
/// Every diagnostic of the text (never an empty list).
///
/// # Examples
///
/// ```
/// use stoffel::asm::{assemble_diagnostics, LineCol};
/// let diagnostics = assemble_diagnostics("fn f() {\n    JMP nowhere\n}").unwrap_err();
/// assert_eq!(diagnostics[0].span, LineCol::new(2, 9));
/// assert_eq!(diagnostics[0].message, "undefined label `nowhere` in `f`");
/// ```
pub fn assemble_diagnostics(text: &str) -> Result<Program, Vec<Diagnostic<LineCol>>> {
    let program = stoffel_asm::assemble_text(text)?;
    let mut functions = Vec::with_capacity(program.functions.len());
    for function in &program.functions {
        match lower_function(function) {
            Some(function) => functions.push(function),
            None => {
                // Unreachable while the parser only accepts operands that match their table
                // row; reported rather than panicking.
                return Err(vec![Diagnostic::new(
                    function.span,
                    format!("internal error (please report): cannot lower `{}`", function.name.text),
                )]);
            }
        }
    }
    Ok(Program::new(functions))
}

/// Shows a diagnostic under the line it points at, with a caret under the offending token:
///
/// ```text
/// error: unknown instruction `ADDD`
///  --> 2:5
///   |
/// 2 |     ADDD r0, r0, r0
///   |     ^^^^
///   = help: did you mean `ADD`?
/// ```
///
/// `source` is the text that was assembled. A position outside it shows the message alone.
///
/// # Examples
///
/// ```
/// let source = "fn f() {\n    ADDD r0, r0, r0\n    RET r0\n}";
/// let diagnostics = stoffel::asm::assemble_diagnostics(source).unwrap_err();
/// let shown = stoffel::asm::render(source, &diagnostics[0]);
/// assert!(shown.contains("2 |     ADDD r0, r0, r0\n  |     ^^^^\n"));
/// ```
pub fn render(source: &str, diagnostic: &Diagnostic<LineCol>) -> String {
    let LineCol { line, column } = diagnostic.span;
    let mut out = format!("error: {}\n", diagnostic.message);
    let gutter = line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(out, "{pad}--> {line}:{column}");
    let text = source.split('\n').nth((line as usize).saturating_sub(1)).map(|l| l.trim_end_matches('\r'));
    if let Some(text) = text {
        let before: Vec<char> = text.chars().take((column as usize).saturating_sub(1)).collect();
        if before.len() + 1 == column as usize {
            // Keep tabs so that the caret lines up under the token however tabs are shown.
            let indent: String = before.iter().map(|&c| if c == '\t' { '\t' } else { ' ' }).collect();
            let rest: String = text.chars().skip(before.len()).collect();
            let width = token_width(&rest);
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{line} | {text}");
            let _ = writeln!(out, "{pad} | {indent}{}", "^".repeat(width));
        }
    }
    for (label, text) in [("help", &diagnostic.help), ("note", &diagnostic.note)] {
        if let Some(text) = text {
            let _ = writeln!(out, "{pad} = {label}: {text}");
        }
    }
    out
}

/// How many characters of `rest` the token at its start spans: an identifier or number, a
/// string up to its closing quote on this line, a group opening (one character), else one.
fn token_width(rest: &str) -> usize {
    let mut chars = rest.chars();
    match chars.next() {
        None => 1,
        Some('"') => {
            let mut width = 1;
            let mut escaped = false;
            for c in chars {
                width += 1;
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => return width,
                    _ => escaped = false,
                }
            }
            width
        }
        Some(c) if c.is_alphanumeric() || c == '_' => {
            1 + chars.take_while(|&c| c.is_alphanumeric() || c == '_' || c == '.').count()
        }
        Some(_) => 1,
    }
}

fn lower_function(function: &Function<LineCol, Never>) -> Option<VMFunction> {
    let names =
        |names: &[stoffel_asm::ast::Name<LineCol>]| names.iter().map(|name| name.text.clone()).collect();
    let instructions = function.instructions().map(lower_instruction).collect::<Option<Vec<_>>>()?;
    Some(VMFunction::new(
        function.name.text.clone(),
        names(&function.params),
        names(&function.captures),
        None,
        function.register_count() as usize,
        instructions,
        function.label_positions(),
    ))
}

/// One operand as the field type of its table kind, or `None` when it is of another kind.
macro_rules! lower_operand {
    (Dst, $operand:expr) => {
        match $operand {
            Operand::Reg(index, _) => Some(*index as usize),
            _ => None,
        }
    };
    (Src, $operand:expr) => {
        lower_operand!(Dst, $operand)
    };
    (Stack, $operand:expr) => {
        match $operand {
            Operand::Stack(offset, _) => Some(*offset),
            _ => None,
        }
    };
    (Imm, $operand:expr) => {
        match $operand {
            Operand::Imm(literal, _) => Some(value(literal)),
            Operand::HostImm(never, _) => match *never {},
            _ => None,
        }
    };
    (Label, $operand:expr) => {
        match $operand {
            Operand::Label(label, _) => Some(label.clone()),
            _ => None,
        }
    };
    (Func, $operand:expr) => {
        match $operand {
            Operand::Func(name, _) => Some(name.clone()),
            Operand::HostFunc(never, _) => match *never {},
            _ => None,
        }
    };
    (Upvalue, $operand:expr) => {
        match $operand {
            Operand::Upvalue(name, _) => Some(name.clone()),
            _ => None,
        }
    };
}

/// `lower_instruction`, derived from the instruction table: each row's variant from its
/// operands, converted by kind.
macro_rules! define_lowering {
    ($($name:ident ( $($field:ident : $kind:ident),* ) $doc:literal;)*) => {
        fn lower_instruction(instr: &Instr<LineCol, Never>) -> Option<Instruction> {
            #[allow(unused_mut, unused_variables)]
            let mut operands = instr.operands.iter();
            let instruction = match instr.op.mnemonic {
                $( stringify!($name) => Instruction::$name($(lower_operand!($kind, operands.next()?)?),*), )*
                _ => return None,
            };
            operands.next().is_none().then_some(instruction)
        }
    };
}
stoffel_asm::for_each_instruction!(define_lowering);

fn value(literal: &Literal) -> Value {
    match literal {
        Literal::Int(value) => Value::Int(*value),
        Literal::Float(value) => Value::Float(*value),
        Literal::Bool(value) => Value::Bool(*value),
        Literal::Str(text) => Value::from(text.as_str()),
        Literal::Unit => Value::Unit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowers_every_instruction_form() {
        let program = assemble(
            "fn f(a, b) captures(c) registers(4) {\n\
             start:\n\
             \x20   LD r1, [sp-1]\n\
             \x20   LDI r2, -2.5\n\
             \x20   LDI r2, \"s\"\n\
             \x20   LDI r2, ()\n\
             \x20   LDI r2, true\n\
             \x20   MOV r3, r0\n\
             \x20   ADD r3, r0, r1\n\
             \x20   NOT r3, r0\n\
             \x20   CMP r0, r1\n\
             \x20   JMPNEQ start\n\
             \x20   PUSHARG r0\n\
             \x20   CALL \"odd name\"\n\
             \x20   RET r0\n\
             }",
        )
        .unwrap();
        let f = &program.functions()[0];
        assert_eq!((f.name.as_str(), f.parameters.len(), f.upvalues.len(), f.register_count), ("f", 2, 1, 4));
        assert_eq!(f.labels["start"], 0);
        assert_eq!(
            f.instructions,
            [
                Instruction::LD(1, -1),
                Instruction::LDI(2, Value::Float(-2.5)),
                Instruction::LDI(2, Value::from("s")),
                Instruction::LDI(2, Value::Unit),
                Instruction::LDI(2, Value::Bool(true)),
                Instruction::MOV(3, 0),
                Instruction::ADD(3, 0, 1),
                Instruction::NOT(3, 0),
                Instruction::CMP(0, 1),
                Instruction::JMPNEQ("start".into()),
                Instruction::PUSHARG(0),
                Instruction::CALL("odd name".into()),
                Instruction::RET(0),
            ]
        );
    }

    #[test]
    fn errors_list_every_diagnostic_with_its_position() {
        let error = assemble("fn f() {\n  ADDD r0, r0, r0\n  JMP nowhere\n}").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Assembly);
        assert_eq!(
            error.message(),
            "2:3: unknown instruction `ADDD`\n  help: did you mean `ADD`?\n3:7: undefined label `nowhere` in `f`"
        );
    }

    #[test]
    fn render_points_a_caret_at_the_token() {
        let source = "fn f() {\n\tLDI r0, \"a\\\"b\" JMP nowhere\n}";
        let diagnostics = assemble_diagnostics(source).unwrap_err();
        assert_eq!(
            render(source, &diagnostics[0]),
            "error: undefined label `nowhere` in `f`\n --> 2:21\n  |\n2 | \tLDI r0, \"a\\\"b\" JMP nowhere\n  | \t                   ^^^^^^^\n"
        );
        let string = Diagnostic::new(LineCol::new(2, 10), "bad").with_help("fix it");
        assert!(render(source, &string).ends_with("  | \t        ^^^^^^\n  = help: fix it\n"));
        let outside = Diagnostic::new(LineCol::new(99, 1), "far away");
        assert_eq!(render(source, &outside), "error: far away\n  --> 99:1\n");
    }
}
