//! The Stoffel instruction table and the assembler shared by `bytecode!` (compile time) and
//! `stoffel::asm::assemble` (run time): one grammar, one parser, one set of checks.
//!
//! The pipeline is [`lexer`] (text only) → [`token`] trees → [`parser`] (into the [`ast`],
//! operands matched against the [`isa`] table) → [`check`](mod@check) → [`disasm`] (back to text).
//! Everything after the lexer is generic over the span type `S` — [`LineCol`] for text,
//! `proc_macro2::Span` in the macro — and over the host payload `H` of `{…}` groups — `Never`
//! for text, the Rust expression's tokens in the macro. Every stage reports all the mistakes it
//! finds as [`Diagnostic`]s instead of stopping at the first, and none panics on any input.
//!
//! ```
//! let program = stoffel_asm::assemble_text("fn main() { LDI r0, 42 RET r0 }").unwrap();
//! assert_eq!(program.functions[0].register_count(), 1);
//! assert_eq!(program.to_string(), "fn main() {\n    LDI r0, 42\n    RET r0\n}\n");
//!
//! let errors = stoffel_asm::assemble_text("fn main() {\n  ADDD r0, r0, r0\n}").unwrap_err();
//! assert_eq!(errors[0].to_string(), "2:3: unknown instruction `ADDD`\n  help: did you mean `ADD`?");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ast;
pub mod check;
pub mod diagnostic;
pub mod disasm;
pub mod isa;
pub mod lexer;
pub mod parser;
pub mod token;

use std::fmt::Debug;

pub use ast::Program;
pub use check::{check, CallSite, FunctionInfo, ProgramInfo};
pub use diagnostic::{Diagnostic, LineCol};
pub use isa::{lookup, OpSpec, OperandKind, OPS};
pub use token::{Delimiter, Group, Never, Token, TokenKind};

/// A program that passed every check, with what the checks learned.
#[derive(Clone, Debug, PartialEq)]
pub struct Assembled<S, H> {
    /// The program.
    pub program: Program<S, H>,
    /// Register counts and call sites, parallel to `program.functions`.
    pub info: ProgramInfo,
}

/// Parses and checks a token tree (the macro's entry point).
///
/// # Errors
///
/// Every parse and check diagnostic: the checks run on whatever parsed, so independent
/// mistakes of one input are reported together; parse diagnostics come first.
pub fn assemble<S: Clone + Debug, H>(
    tokens: Vec<Token<S, H>>,
) -> Result<Assembled<S, H>, Vec<Diagnostic<S>>> {
    let (program, mut diagnostics) = parser::parse(tokens);
    match check::check(&program) {
        Ok(info) if diagnostics.is_empty() => Ok(Assembled { program, info }),
        Ok(_) => Err(diagnostics),
        Err(check_diagnostics) => {
            diagnostics.extend(check_diagnostics);
            Err(diagnostics)
        }
    }
}

/// Lexes, parses and checks assembler text (the run-time assembler's entry point).
///
/// The text uses the same syntax as `bytecode!` except `{…}` Rust expressions, which are
/// rejected. Register counts come from [`ast::Function::register_count`], label positions
/// from [`ast::Function::label_positions`].
///
/// # Errors
///
/// Every diagnostic, sorted by position; each renders as `line:column: message`. When the
/// delimiters do not balance, only the lexer's diagnostics are given (the rest would be
/// echoes of the broken structure).
pub fn assemble_text(source: &str) -> Result<Program<LineCol, Never>, Vec<Diagnostic<LineCol>>> {
    let lexed = lexer::lex_recovering::<Never>(source);
    let mut diagnostics = lexed.diagnostics;
    if !lexed.structure_broken {
        match assemble(lexed.tokens) {
            Ok(assembled) if diagnostics.is_empty() => return Ok(assembled.program),
            Ok(_) => {}
            Err(more) => diagnostics.extend(more),
        }
    }
    diagnostics.sort_by_key(|diagnostic| diagnostic.span);
    // A malformed literal is reported by the lexer and again by the parser where it reads the
    // token, at the same position with the same message.
    let mut unique: Vec<Diagnostic<LineCol>> = Vec::with_capacity(diagnostics.len());
    for diagnostic in diagnostics {
        let repeated = unique
            .iter()
            .rev()
            .take_while(|kept| kept.span == diagnostic.span)
            .any(|kept| kept.message == diagnostic.message);
        if !repeated {
            unique.push(diagnostic);
        }
    }
    Err(unique)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(source: &str) -> Vec<String> {
        assemble_text(source).expect_err("expected errors").iter().map(ToString::to_string).collect()
    }

    #[test]
    fn three_mistakes_three_diagnostics() {
        let found = messages(
            "fn main() {\n\
             \x20 LDI r0, 1\n\
             \x20 ADDD r1, r0, r0\n\
             \x20 JMPLT nowhere\n\
             \x20 LDI r1, \"bad \\q escape\"\n\
             \x20 RET r0\n\
             }",
        );
        assert_eq!(
            found,
            [
                "3:3: unknown instruction `ADDD`\n  help: did you mean `ADD`?",
                "4:9: undefined label `nowhere` in `main`",
                "5:16: unknown escape `\\q`",
            ]
        );
    }

    #[test]
    fn mixed_stages_sorted_by_position() {
        let found = messages("fn f() registers(2) {\n  MOV r5, r0\n  JMP r1\n}\nfn f() { LDI r0, 1 }");
        assert_eq!(
            found,
            [
                "2:7: register `r5` is out of range: `f` declares registers(2), so `r0` to `r1`",
                "3:7: `JMP` expects a label, found register `r1`",
                "5:4: duplicate function `f`\n  note: functions of one program share one namespace; rename one of them",
                "5:10: `f` can run past its last instruction, `LDI`\n  help: end the function with `RET rA` or `JMP label`",
            ]
        );
    }

    #[test]
    fn malformed_literals_report_once_and_invent_no_value() {
        assert_eq!(
            messages("fn f() registers(99999999999999999999999999999999999999999) { RET r0 }"),
            ["1:18: integer literal `99999999999999999999999999999999999999999` is too large"]
        );
        assert_eq!(
            messages("fn f() {\n  LDI r0, 5u8\n  LDI r1, 'c'\n  LD r2, [sp+1i32]\n  RET r0\n}"),
            [
                "2:12: literal suffix `u8` is not supported; write the plain number",
                "3:11: character literals are not supported; use a string in double quotes",
                "4:15: literal suffix `i32` is not supported; write the plain number",
            ]
        );
    }

    #[test]
    fn broken_structure_reports_only_the_lexer() {
        assert_eq!(messages("fn f() {\n  ADDD r0\n  LDI r0, \"open\n}"), ["3:11: unterminated string"]);
        assert_eq!(messages("fn f() {\n  RET r0\n\nfn g() { RET r0 }"), ["1:8: unclosed delimiter `{`"]);
    }

    /// A tiny deterministic pseudo-random generator (xorshift64*).
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }

        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.below(items.len())]
        }
    }

    const PIECES: &[&str] = &[
        "fn",
        "main",
        "fib",
        "f",
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
        "sp",
        "+",
        "-",
        ",",
        ":",
        ";",
        "r0",
        "r1",
        "r7",
        "r65535",
        "r65536",
        "r99999999999",
        "LD",
        "LDI",
        "MOV",
        "ADD",
        "SUB",
        "NOT",
        "CMP",
        "JMP",
        "JMPEQ",
        "JMPLT",
        "PUSHARG",
        "CALL",
        "RET",
        "add",
        "ADDD",
        "42",
        "0",
        "9223372036854775808",
        "99999999999999999999999999999999999999999",
        "2.5",
        "1e400",
        "1e",
        "0x",
        "0b102",
        "5i64",
        "nan",
        "inf",
        "true",
        "false",
        "()",
        "\"str\"",
        "\"\\u{110000}\"",
        "\"\\u{D800}\"",
        "\"unterminated",
        "\\",
        "// c\n",
        "/*",
        "*/",
        "captures",
        "registers",
        "done",
        "loop",
        "é",
        "😀",
        "\n",
        " ",
        " ",
        " ",
        "'a'",
        "#",
        "`",
        "\"odd name\"",
        "[sp+1]",
        "[sp-2147483648]",
        "[sp+2147483648]",
        "registers(0)",
        "registers(70000)",
        "{x}",
        "\r",
        "\t",
        "\"\\q\"",
    ];

    const VALID: &[&str] = &[
        "fn main() {\n    LDI r0, 30\n    PUSHARG r0\n    CALL fib\n    RET r0\n}\n\
         fn fib(n) {\n    LDI r1, 2\n    CMP r0, r1\n    JMPLT done\n    MOV r3, r0\n\
         \x20   SUB r2, r3, r1\n    PUSHARG r2\n    CALL fib\n    ADD r0, r0, r3\ndone:\n    RET r0\n}\n",
        "fn sum(n) captures(total) registers(8) {\n    LDI r1, 0\nloop:\n    CMP r0, r1\n\
         \x20   JMPEQ end\n    LD r2, [sp-1]\n    JMP loop\nend:\n    RET r1\n}\n",
        "fn \"odd name\"(a, \"b c\") {\n    LDI r2, \"tab\\t \\u{1F600}\"\n    LDI r3, -inf\n\
         \x20   LDI r4, nan\n    LDI r5, -9223372036854775808\n    LDI r6, ()\n    CALL \"ADD\"\n    RET r0\n}\n",
    ];

    /// Runs every stage on `source`; on success, the printed program must read back equal.
    /// Returns whether the source was accepted.
    fn exercise(source: &str) -> bool {
        let _ = lexer::lex::<Never>(source);
        let lexed = lexer::lex_recovering::<Never>(source);
        let (partial, _) = parser::parse(lexed.tokens);
        let _ = check::check(&partial);
        let _ = ProgramInfo::of(&partial);
        let _ = partial.to_string();
        if let Ok(program) = assemble_text(source) {
            let text = program.to_string();
            let reread = assemble_text(&text)
                .unwrap_or_else(|errors| panic!("{source:?} printed as {text:?}: {errors:?}"));
            assert_eq!(reread.to_string(), text, "from {source:?}");
            let code = |program: Program<LineCol, Never>| {
                let mut program = program.map_spans(|_| ());
                for function in &mut program.functions {
                    if function.registers.as_ref().map(|r| r.0) == Some(function.inferred_register_count()) {
                        function.registers = None;
                    }
                }
                program
            };
            assert_eq!(code(reread), code(program), "from {source:?}");
            return true;
        }
        false
    }

    #[test]
    fn random_inputs_never_panic() {
        let mut rng = XorShift(0x5EED_CAFE_F00D_1234);
        let mut accepted_mutants = 0;
        let alphabet: Vec<char> =
            "abrRsp019_ ,:;+-()[]{}\"\\/*\n\r\téé😀\u{0}\u{202e}#`'.eE".chars().collect();
        for _ in 0..1500 {
            // Random bytes, read lossily as text.
            let bytes: Vec<u8> = (0..rng.below(80)).map(|_| rng.next() as u8).collect();
            exercise(&String::from_utf8_lossy(&bytes));
            // Random characters from the grammar's alphabet.
            let chars: String = (0..rng.below(80)).map(|_| *rng.pick(&alphabet)).collect();
            exercise(&chars);
            // Token soup.
            let soup: Vec<&str> = (0..rng.below(40)).map(|_| *rng.pick(PIECES)).collect();
            exercise(&soup.join(" "));
            exercise(&format!("fn f(a) {{ {} }}", soup.join(" ")));
            // Mutations of valid programs.
            let mut program: Vec<char> = rng.pick(VALID).chars().collect();
            for _ in 0..=rng.below(3) {
                let at = rng.below(program.len() + 1);
                match rng.below(4) {
                    0 => {
                        let end = (at + rng.below(6)).min(program.len());
                        program.drain(at..end);
                    }
                    1 => {
                        let piece: Vec<char> = rng.pick(PIECES).chars().collect();
                        program.splice(at..at, piece);
                    }
                    2 => {
                        let end = (at + rng.below(12)).min(program.len());
                        let copy: Vec<char> = program[at..end].to_vec();
                        program.splice(at..at, copy);
                    }
                    _ => {
                        if at < program.len() {
                            program[at] = *rng.pick(&alphabet);
                        }
                    }
                }
            }
            if exercise(&program.into_iter().collect::<String>()) {
                accepted_mutants += 1;
            }
        }
        assert!(accepted_mutants > 100, "{accepted_mutants}");
        for valid in VALID {
            assert!(assemble_text(valid).is_ok(), "{valid}");
        }
    }

    #[test]
    fn random_token_trees_with_host_payloads_never_panic() {
        // Token trees as the macro builds them: spans are numbers, host payloads are bytes.
        fn tree(rng: &mut XorShift, depth: usize, span: &mut u32) -> Vec<Token<u32, u8>> {
            let mut tokens = Vec::new();
            for _ in 0..rng.below(12) {
                *span += 1;
                let kind = match rng.below(10) {
                    0 => TokenKind::Ident(rng.pick(PIECES).to_string()),
                    1 => TokenKind::Ident(
                        rng.pick(&["fn", "r0", "r3", "ADD", "CALL", "LDI", "RET", "x", "sp"]).to_string(),
                    ),
                    2 => TokenKind::Int(u128::from(rng.next()) << rng.below(80)),
                    3 => TokenKind::Float(f64::from_bits(rng.next())),
                    4 => TokenKind::Str(rng.pick(PIECES).to_string()),
                    5 => TokenKind::Punct(*rng.pick(&[',', ':', ';', '-', '+', '#'])),
                    6 => TokenKind::Invalid {
                        text: "'a'".into(),
                        message: "character literals are not supported".into(),
                    },
                    _ if depth < 3 => {
                        let delimiter = *rng.pick(&[Delimiter::Paren, Delimiter::Bracket, Delimiter::Brace]);
                        let inner = tree(rng, depth + 1, span);
                        let host =
                            (delimiter == Delimiter::Brace && rng.below(2) == 0).then(|| rng.next() as u8);
                        *span += 1;
                        TokenKind::Group(Group { delimiter, tokens: inner, close_span: *span, host })
                    }
                    _ => TokenKind::Punct(','),
                };
                tokens.push(Token::new(kind, *span));
            }
            tokens
        }
        let mut rng = XorShift(0xDEC0_DE00_1234_5678);
        let mut accepted = 0;
        for _ in 0..3000 {
            let mut span = 0;
            let mut tokens = tree(&mut rng, 0, &mut span);
            if rng.below(2) == 0 {
                // Wrap some in a function so that bodies get exercised.
                let body = std::mem::take(&mut tokens);
                tokens = vec![
                    Token::new(TokenKind::Ident("fn".into()), 0),
                    Token::new(TokenKind::Ident("f".into()), 0),
                    Token::group(Delimiter::Paren, vec![], 0, 0, None),
                    Token::group(Delimiter::Brace, body, 0, span + 1, Some(0)),
                ];
            }
            let (partial, _) = parser::parse(tokens.clone());
            let _ = ProgramInfo::of(&partial);
            let _ = partial.to_string();
            if assemble(tokens).is_ok() {
                accepted += 1;
            }
        }
        // Host payloads: `{…}` immediates and `CALL {…}` targets parse in the generic parser.
        let host_program = vec![
            Token::new(TokenKind::Ident("fn".into()), 1),
            Token::new(TokenKind::Ident("f".into()), 2),
            Token::group(Delimiter::Paren, vec![], 3, 4, None),
            Token::group(
                Delimiter::Brace,
                vec![
                    Token::new(TokenKind::Ident("LDI".into()), 6),
                    Token::new(TokenKind::Ident("r0".into()), 7),
                    Token::new(TokenKind::Punct(','), 8),
                    Token::group(Delimiter::Brace, vec![], 9, 10, Some(7u8)),
                    Token::new(TokenKind::Ident("PUSHARG".into()), 11),
                    Token::new(TokenKind::Ident("r0".into()), 12),
                    Token::new(TokenKind::Ident("CALL".into()), 13),
                    Token::group(Delimiter::Brace, vec![], 14, 15, Some(9u8)),
                    Token::new(TokenKind::Ident("RET".into()), 16),
                    Token::new(TokenKind::Ident("r0".into()), 17),
                ],
                5,
                18,
                Some(0),
            ),
        ];
        let assembled = assemble(host_program).unwrap();
        let body = &assembled.program.functions[0].body;
        let ast::Item::Instr(ldi) = &body[0] else { panic!() };
        assert_eq!(ldi.operands[1], ast::Operand::HostImm(7, 9));
        let ast::Item::Instr(call) = &body[2] else { panic!() };
        assert_eq!(call.operands[0], ast::Operand::HostFunc(9, 14));
        assert_eq!(assembled.info.functions[0].calls[0].pending_args, Some(1));
        assert_eq!(
            assembled.program.to_string(),
            "fn f() {\n    LDI r0, {7}\n    PUSHARG r0\n    CALL {9}\n    RET r0\n}\n"
        );
        assert!(accepted < 3000);
    }

    #[test]
    fn token_entry_point_gives_info() {
        let tokens = lexer::lex::<Never>("fn f(a) { PUSHARG r0 CALL f RET r2 }").unwrap();
        let assembled = assemble(tokens).unwrap();
        assert_eq!(assembled.info.functions[0].register_count, 3);
        assert_eq!(assembled.info.functions[0].calls[0].pending_args, Some(1));
    }
}
