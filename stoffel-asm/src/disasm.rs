//! The disassembler: writes programs as text that the parser reads back to an equal program,
//! and the formatting helpers the runtime's `Display` for `Program` and `Instruction` uses.
//!
//! Round trip: for a program `p` the parser accepted, parsing `p.to_string()` gives `p` again,
//! up to spans and to a `registers(N)` equal to the inferred count (printed only when it differs).

use std::fmt::{self, Write};

use crate::ast::{Function, Instr, Item, Literal, Operand, Program};
use crate::isa::lookup;
use crate::parser::register_index;

/// Words the parser reads specially somewhere, so a name spelled like one is quoted.
const KEYWORDS: &[&str] = &["fn", "captures", "registers", "true", "false", "nan", "inf", "sp", "_"];

/// Why `name` cannot be written bare (as an identifier) — `None` when it can.
///
/// A bare name must be an identifier (a letter or `_`, then letters, digits or `_`) that is
/// not a keyword of the assembler (`fn`, `captures`, `registers`, `true`, `false`, `nan`, `inf`,
/// `sp`, `_`), not a mnemonic (`ADD`) and not register-like (`r7`). Labels must be bare names;
/// function, parameter and capture names that are not are written as strings.
pub fn name_conflict(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    let valid_identifier = chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric());
    if !valid_identifier {
        Some("it is not an identifier")
    } else if register_index(name).is_some() {
        Some("it reads as a register")
    } else if lookup(name).is_some() {
        Some("it is an instruction")
    } else if KEYWORDS.contains(&name) {
        Some("it is a keyword of the assembler")
    } else {
        None
    }
}

/// A function, parameter or capture name as the parser reads it back: bare when it is a plain
/// identifier ([`name_conflict`] is `None`), else a quoted string (`CALL "odd name"`).
pub fn fmt_name(name: &str) -> String {
    match name_conflict(name) {
        None => name.to_string(),
        Some(_) => fmt_string_literal(name),
    }
}

/// A string literal in double quotes: `\\`, `\"`, `\n`, `\r`, `\t`, `\0` escaped, other
/// control, invisible and direction-changing characters as `\u{…}`, everything else as is.
pub fn fmt_string_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            ' '..='~' => out.push(c),
            // `escape_debug` leaves printable characters alone and writes the rest (controls,
            // bidi overrides, combining marks) as `\u{…}`, which rustc would otherwise reject
            // or warn about when the text is pasted into `bytecode!`.
            _ => out.extend(c.escape_debug()),
        }
    }
    out.push('"');
    out
}

/// A float that always reads as one: `1.0`, `2.5`, `1e300`, `-0.0`, `nan`, `inf`, `-inf`.
pub fn fmt_float(value: f64) -> String {
    if value.is_nan() {
        "nan".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        // Debug prints the shortest text that reads back to the same value, with a `.0` or an
        // exponent so that it is never mistaken for an integer.
        format!("{value:?}")
    }
}

/// A stack slot: `[sp+0]`, `[sp+2]`, `[sp-1]`.
pub fn fmt_stack(offset: i32) -> String {
    if offset >= 0 {
        format!("[sp+{offset}]")
    } else {
        format!("[sp{offset}]")
    }
}

/// A register: `r3`.
pub fn fmt_register(index: impl fmt::Display) -> String {
    format!("r{index}")
}

/// Writes a program: functions separated by a blank line.
///
/// Host payloads (`bytecode!`'s `{expr}`) are written as `{` payload `}`, so `H`'s `Display`
/// should give the expression without braces.
///
/// # Errors
///
/// Only the errors of `out`.
pub fn write_program<S, H: fmt::Display>(program: &Program<S, H>, out: &mut impl Write) -> fmt::Result {
    for (index, function) in program.functions.iter().enumerate() {
        if index > 0 {
            out.write_char('\n')?;
        }
        write_function(function, out)?;
    }
    Ok(())
}

/// Writes one function: its header, `label:` lines at the left margin and instructions
/// indented by four spaces, then `}` and a newline.
///
/// # Errors
///
/// Only the errors of `out`.
pub fn write_function<S, H: fmt::Display>(function: &Function<S, H>, out: &mut impl Write) -> fmt::Result {
    let names = |names: &[crate::ast::Name<S>]| {
        names.iter().map(|name| fmt_name(&name.text)).collect::<Vec<_>>().join(", ")
    };
    write!(out, "fn {}({})", fmt_name(&function.name.text), names(&function.params))?;
    if !function.captures.is_empty() {
        write!(out, " captures({})", names(&function.captures))?;
    }
    if let Some((count, _)) = &function.registers {
        if *count != function.inferred_register_count() {
            write!(out, " registers({count})")?;
        }
    }
    out.write_str(" {\n")?;
    for item in &function.body {
        match item {
            Item::Label(name, _) => writeln!(out, "{name}:")?,
            Item::Instr(instr) => writeln!(out, "    {instr}")?,
        }
    }
    out.write_str("}\n")
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Int(value) => write!(f, "{value}"),
            Literal::Float(value) => f.write_str(&fmt_float(*value)),
            Literal::Bool(value) => write!(f, "{value}"),
            Literal::Str(text) => f.write_str(&fmt_string_literal(text)),
            Literal::Unit => f.write_str("()"),
        }
    }
}

impl<S, H: fmt::Display> fmt::Display for Operand<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Reg(index, _) => write!(f, "r{index}"),
            Operand::Stack(offset, _) => f.write_str(&fmt_stack(*offset)),
            Operand::Imm(literal, _) => write!(f, "{literal}"),
            Operand::HostImm(host, _) | Operand::HostFunc(host, _) => write!(f, "{{{host}}}"),
            Operand::Label(name, _) => f.write_str(name),
            Operand::Func(name, _) | Operand::Upvalue(name, _) => f.write_str(&fmt_name(name)),
        }
    }
}

/// `ADD r2, r0, r1`.
impl<S, H: fmt::Display> fmt::Display for Instr<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.op.mnemonic)?;
        for (index, operand) in self.operands.iter().enumerate() {
            f.write_str(if index == 0 { " " } else { ", " })?;
            write!(f, "{operand}")?;
        }
        Ok(())
    }
}

/// The function as [`write_function`] writes it.
impl<S, H: fmt::Display> fmt::Display for Function<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_function(self, f)
    }
}

/// The program as [`write_program`] writes it.
impl<S, H: fmt::Display> fmt::Display for Program<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_program(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::LineCol;
    use crate::token::Never;

    fn assemble(source: &str) -> Program<LineCol, Never> {
        crate::assemble_text(source).unwrap_or_else(|errors| {
            panic!("{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
        })
    }

    /// The program without spans and with a `registers(N)` equal to the inferred count
    /// dropped, as the printer drops it.
    fn normalized(program: Program<LineCol, Never>) -> Program<(), Never> {
        let mut program = program.map_spans(|_| ());
        for function in &mut program.functions {
            if function
                .registers
                .as_ref()
                .is_some_and(|(count, _)| *count == function.inferred_register_count())
            {
                function.registers = None;
            }
        }
        program
    }

    /// Prints, reads back, prints again: the programs and the texts agree.
    fn round_trip(source: &str) -> String {
        let program = assemble(source);
        let text = program.to_string();
        let reread = assemble(&text);
        assert_eq!(reread.to_string(), text);
        assert_eq!(normalized(reread), normalized(program), "{text}");
        text
    }

    #[test]
    fn helpers() {
        assert_eq!(fmt_float(1.0), "1.0");
        assert_eq!(fmt_float(2.5), "2.5");
        assert_eq!(fmt_float(1e300), "1e300");
        assert_eq!(fmt_float(-0.0), "-0.0");
        assert_eq!(fmt_float(f64::NAN), "nan");
        assert_eq!(fmt_float(f64::INFINITY), "inf");
        assert_eq!(fmt_float(f64::NEG_INFINITY), "-inf");
        assert_eq!(fmt_stack(0), "[sp+0]");
        assert_eq!(fmt_stack(-1), "[sp-1]");
        assert_eq!(fmt_stack(i32::MIN), "[sp-2147483648]");
        assert_eq!(fmt_register(7), "r7");
        assert_eq!(fmt_name("fib"), "fib");
        assert_eq!(fmt_name("odd name"), "\"odd name\"");
        assert_eq!(fmt_name("r1"), "\"r1\"");
        assert_eq!(fmt_name("ADD"), "\"ADD\"");
        assert_eq!(fmt_name("add"), "add");
        assert_eq!(fmt_name("fn"), "\"fn\"");
        assert_eq!(fmt_name(""), "\"\"");
        assert_eq!(fmt_name("1x"), "\"1x\"");
        assert_eq!(
            fmt_string_literal("a\"b\\c\n\r\t\0é\u{7}\u{202e}"),
            "\"a\\\"b\\\\c\\n\\r\\t\\0é\\u{7}\\u{202e}\""
        );
    }

    #[test]
    fn fib_round_trips() {
        let text = round_trip(
            "fn main() { LDI r0, 30 PUSHARG r0 CALL fib RET r0 }
             fn fib(n) registers(4) {
                LDI r1, 2
                CMP r0, r1
                JMPLT done
                MOV r3, r0
                LDI r1, 1
                SUB r2, r3, r1
                PUSHARG r2
                CALL fib
                MOV r2, r0
                LDI r1, 2
                SUB r1, r3, r1
                PUSHARG r1
                CALL fib
                ADD r0, r2, r0
            done:
                RET r0
            }",
        );
        assert!(text.starts_with("fn main() {\n    LDI r0, 30\n    PUSHARG r0\n"));
        assert!(text.contains("\nfn fib(n) {\n"), "{text}");
        assert!(text.contains("\ndone:\n    RET r0\n}\n"), "{text}");
    }

    #[test]
    fn loops_headers_and_declared_registers_round_trip() {
        let text = round_trip(
            "fn sum(n) captures(total, step) registers(16) {
                LDI r1, 0
                LDI r2, 1
            loop:
                CMP r0, r1
                JMPEQ end
                ADD r1, r1, r2
                LD r3, [sp-1]
                LD r4, [sp]
                JMP loop
            end:
                RET r1
            }",
        );
        assert!(text.starts_with("fn sum(n) captures(total, step) registers(16) {\n"));
        assert!(text.contains("LD r3, [sp-1]\n    LD r4, [sp+0]\n"));
    }

    #[test]
    fn literals_round_trip() {
        let text = round_trip(
            r#"fn f() {
                LDI r0, "tab\there \"quoted\" back\\slash\nnew line \u{1F600} é \u{202E} \0"
                LDI r1, 2.5
                LDI r2, -0.0
                LDI r3, 1e300
                LDI r4, nan
                LDI r5, inf
                LDI r6, -inf
                LDI r7, -9223372036854775808
                LDI r8, true
                LDI r9, ()
                LDI r10, 5e-324
                LDI r11, 1.0
                RET r0
            }"#,
        );
        assert!(text.contains("LDI r4, nan\n    LDI r5, inf\n    LDI r6, -inf\n"));
        assert!(text.contains("LDI r11, 1.0\n"));
    }

    #[test]
    fn odd_names_round_trip() {
        let text = round_trip(
            r#"fn "odd name"("a b", ok) { PUSHARG r0 PUSHARG r1 CALL "odd name" CALL "ADD" CALL "r1" CALL plain RET r0 }
               fn main() { PUSHARG r0 PUSHARG r0 CALL "odd name" RET r0 }"#,
        );
        assert!(text.starts_with("fn \"odd name\"(\"a b\", ok) {\n"));
        assert!(text.contains("CALL \"ADD\"\n    CALL \"r1\"\n    CALL plain\n"));
    }
}
