//! The text lexer: assembler text to a token tree with `line:column` spans, reading literals by
//! the same rules as `bytecode!` ([`crate::token::parse_literal`]).

use crate::diagnostic::{Diagnostic, LineCol};
use crate::token::{parse_literal, Delimiter, LiteralError, Token, TokenKind};

/// How deep delimiters may nest. The grammar never needs more than three levels; the limit keeps
/// a hostile input (a million `(`) from exhausting the stack when the token tree is dropped.
pub const MAX_NESTING: usize = 64;

/// The punctuation characters Rust's tokenizer knows (`proc_macro::Punct`); anything else
/// outside literals, identifiers and comments is an error.
const PUNCTUATION: &str = "=<>!~+-*/%^&|@.,;:#$?";

/// Splits assembler text into tokens.
///
/// Reads `//` line comments and (nesting) `/* … */` block comments, identifiers (letters,
/// digits and `_`, not starting with a digit; `true`, `false`, `nan` and `inf` are identifiers
/// too), Rust literals as [`parse_literal`] describes, the punctuation characters of Rust and
/// matched `()`, `[]`, `{}` groups. Brace groups carry no host payload (`host: None`): a text
/// program cannot hold Rust expressions.
///
/// # Errors
///
/// Every problem found, each at its `line:column`: an unexpected character, a malformed or
/// out-of-range literal, an unterminated string or comment, an unclosed or unexpected
/// delimiter, nesting deeper than [`MAX_NESTING`].
pub fn lex<H>(source: &str) -> Result<Vec<Token<LineCol, H>>, Vec<Diagnostic<LineCol>>> {
    let lexed = lex_recovering(source);
    if lexed.diagnostics.is_empty() {
        Ok(lexed.tokens)
    } else {
        Err(lexed.diagnostics)
    }
}

/// What [`lex_recovering`] found: the tokens it could make (a bad literal becomes a neutral
/// placeholder so that parsing can go on) and every diagnostic.
pub(crate) struct Lexed<H> {
    pub tokens: Vec<Token<LineCol, H>>,
    pub diagnostics: Vec<Diagnostic<LineCol>>,
    /// Whether the group structure itself is broken (unbalanced delimiters, runaway string or
    /// comment); then parsing the tokens would only report echoes of the same mistake.
    pub structure_broken: bool,
}

/// Lexes everything, reporting every mistake instead of stopping at the first.
pub(crate) fn lex_recovering<H>(source: &str) -> Lexed<H> {
    let mut lexer = Lexer {
        source,
        offset: 0,
        position: LineCol::START,
        open_groups: Vec::new(),
        tokens: Vec::new(),
        diagnostics: Vec::new(),
        structure_broken: false,
        stopped_early: false,
    };
    lexer.run();
    Lexed { tokens: lexer.tokens, diagnostics: lexer.diagnostics, structure_broken: lexer.structure_broken }
}

/// A group whose closing delimiter has not been seen yet.
struct OpenGroup<H> {
    delimiter: Delimiter,
    open_span: LineCol,
    /// The tokens of the enclosing level, put back when this group closes.
    outer_tokens: Vec<Token<LineCol, H>>,
}

struct Lexer<'a, H> {
    source: &'a str,
    /// Byte offset of the next character.
    offset: usize,
    /// Position of the next character.
    position: LineCol,
    open_groups: Vec<OpenGroup<H>>,
    /// The tokens of the innermost open level.
    tokens: Vec<Token<LineCol, H>>,
    diagnostics: Vec<Diagnostic<LineCol>>,
    structure_broken: bool,
    /// Set when a runaway string or comment (or too deep nesting) swallowed the rest of the
    /// input: the groups still open at the end are then echoes, not mistakes of their own.
    stopped_early: bool,
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// The position reached after reading `text` from `start`.
fn advance(mut position: LineCol, text: &str) -> LineCol {
    for c in text.chars() {
        if c == '\n' {
            position.line = position.line.saturating_add(1);
            position.column = 1;
        } else {
            position.column = position.column.saturating_add(1);
        }
    }
    position
}

impl<H> Lexer<'_, H> {
    fn peek(&self) -> Option<char> {
        self.source.get(self.offset..)?.chars().next()
    }

    fn peek_nth(&self, n: usize) -> Option<char> {
        self.source.get(self.offset..)?.chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.offset += c.len_utf8();
        if c == '\n' {
            self.position.line = self.position.line.saturating_add(1);
            self.position.column = 1;
        } else {
            self.position.column = self.position.column.saturating_add(1);
        }
        Some(c)
    }

    fn bump_while(&mut self, keep: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
    }

    fn error(&mut self, span: LineCol, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::new(span, message));
    }

    fn push(&mut self, kind: TokenKind<LineCol, H>, span: LineCol) {
        self.tokens.push(Token::new(kind, span));
    }

    fn run(&mut self) {
        while let Some(c) = self.peek() {
            let start = self.position;
            let start_offset = self.offset;
            match c {
                _ if c.is_whitespace() => {
                    self.bump();
                }
                '/' if self.peek_nth(1) == Some('/') => self.bump_while(|c| c != '\n'),
                '/' if self.peek_nth(1) == Some('*') => self.block_comment(start),
                _ if is_ident_start(c) => {
                    self.bump_while(is_ident_continue);
                    let name = self.source.get(start_offset..self.offset).unwrap_or("");
                    self.push(TokenKind::Ident(name.to_string()), start);
                }
                _ if c.is_ascii_digit() => self.number(start, start_offset),
                '"' => self.string(start, start_offset),
                '\'' => {
                    self.bump();
                    // Take a simple `'x'` whole so that it reports once.
                    if self.peek_nth(1) == Some('\'') && self.peek() != Some('\n') {
                        self.bump();
                        self.bump();
                    }
                    let text = self.source.get(start_offset..self.offset).unwrap_or("'");
                    let message = "character literals are not supported; use a string in double quotes";
                    self.invalid_literal(start, text, LiteralError::at(0, message));
                }
                '(' | '[' | '{' => {
                    self.bump();
                    self.open(c, start);
                    if self.open_groups.len() > MAX_NESTING {
                        self.error(start, format!("delimiters nested more than {MAX_NESTING} deep"));
                        self.structure_broken = true;
                        self.stopped_early = true;
                        break;
                    }
                }
                ')' | ']' | '}' => {
                    self.bump();
                    self.close(c, start);
                }
                _ if PUNCTUATION.contains(c) => {
                    self.bump();
                    self.push(TokenKind::Punct(c), start);
                }
                _ => {
                    self.bump();
                    let message = match c {
                        '`' => "unexpected character '`'".to_string(),
                        '\\' => "unexpected character `\\`".to_string(),
                        _ => format!("unexpected character `{}`", c.escape_debug()),
                    };
                    self.error(start, message);
                }
            }
        }
        self.close_all_at_end();
    }

    fn block_comment(&mut self, start: LineCol) {
        self.bump();
        self.bump();
        let mut depth = 1usize;
        while depth > 0 {
            match self.bump() {
                Some('*') if self.peek() == Some('/') => {
                    self.bump();
                    depth -= 1;
                }
                Some('/') if self.peek() == Some('*') => {
                    self.bump();
                    depth += 1;
                }
                Some(_) => {}
                None => {
                    self.error(start, "unterminated block comment");
                    self.structure_broken = true;
                    self.stopped_early = true;
                    return;
                }
            }
        }
    }

    /// Scans the extent of a number the way rustc does, then reads it with [`parse_literal`].
    fn number(&mut self, start: LineCol, start_offset: usize) {
        let first = self.bump();
        let radix_prefix = first == Some('0') && matches!(self.peek(), Some('x' | 'o' | 'b'));
        if !radix_prefix {
            self.bump_while(|c| c.is_ascii_digit() || c == '_');
            let after_dot = self.peek_nth(1);
            if self.peek() == Some('.') && after_dot != Some('.') && !after_dot.is_some_and(is_ident_start) {
                self.bump();
                self.bump_while(|c| c.is_ascii_digit() || c == '_');
            }
            if matches!(self.peek(), Some('e' | 'E')) {
                self.bump();
                if matches!(self.peek(), Some('+' | '-')) {
                    self.bump();
                }
                self.bump_while(|c| c.is_ascii_digit() || c == '_');
            }
        }
        // Everything glued to the number is part of it (a suffix, hex digits), as in Rust.
        self.bump_while(is_ident_continue);
        let text = self.source.get(start_offset..self.offset).unwrap_or("");
        match parse_literal(text) {
            Ok(kind) => self.push(kind, start),
            Err(error) => self.invalid_literal(start, text, error),
        }
    }

    fn string(&mut self, start: LineCol, start_offset: usize) {
        self.bump();
        loop {
            match self.bump() {
                Some('"') => break,
                Some('\\') => {
                    self.bump();
                }
                Some(_) => {}
                None => {
                    self.error(start, "unterminated string");
                    self.structure_broken = true;
                    self.stopped_early = true;
                    return;
                }
            }
        }
        let text = self.source.get(start_offset..self.offset).unwrap_or("");
        match parse_literal(text) {
            Ok(kind) => self.push(kind, start),
            Err(error) => self.invalid_literal(start, text, error),
        }
    }

    /// Reports a malformed literal at the exact position of the problem and keeps it as an
    /// [`TokenKind::Invalid`] token at that position, so that parsing goes on without inventing
    /// a value (the parser reports the same diagnostic again where it reads the token;
    /// [`crate::assemble_text`] drops the duplicate).
    fn invalid_literal(&mut self, start: LineCol, text: &str, error: LiteralError) {
        let at = advance(start, text.get(..error.offset).unwrap_or(""));
        self.error(at, error.message.clone());
        self.push(TokenKind::Invalid { text: text.to_string(), message: error.message }, at);
    }

    fn open(&mut self, c: char, span: LineCol) {
        let delimiter = match c {
            '(' => Delimiter::Paren,
            '[' => Delimiter::Bracket,
            _ => Delimiter::Brace,
        };
        let outer_tokens = std::mem::take(&mut self.tokens);
        self.open_groups.push(OpenGroup { delimiter, open_span: span, outer_tokens });
    }

    /// Closes the innermost group, which ends at `close_span`.
    fn finish_group(&mut self, close_span: LineCol) {
        if let Some(open) = self.open_groups.pop() {
            let inner = std::mem::replace(&mut self.tokens, open.outer_tokens);
            self.tokens.push(Token::group(open.delimiter, inner, open.open_span, close_span, None));
        }
    }

    fn close(&mut self, c: char, span: LineCol) {
        let matching = self.open_groups.iter().rposition(|open| open.delimiter.close() == c);
        let Some(index) = matching else {
            self.error(span, format!("unexpected closing delimiter `{c}`"));
            self.structure_broken = true;
            return;
        };
        // Groups opened after the matching one were never closed.
        while self.open_groups.len() > index + 1 {
            if let Some(open) = self.open_groups.last() {
                let (delimiter, open_span) = (open.delimiter, open.open_span);
                self.diagnostics.push(
                    Diagnostic::new(open_span, format!("unclosed delimiter `{}`", delimiter.open()))
                        .with_help(format!(
                            "`{c}` at {span} closes an outer group first; add `{}`",
                            delimiter.close()
                        )),
                );
            }
            self.structure_broken = true;
            self.finish_group(span);
        }
        self.finish_group(span);
    }

    fn close_all_at_end(&mut self) {
        let end = self.position;
        while let Some(open) = self.open_groups.last() {
            if !self.stopped_early {
                let message = format!("unclosed delimiter `{}`", open.delimiter.open());
                let span = open.open_span;
                self.error(span, message);
            }
            self.structure_broken = true;
            self.finish_group(end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Never;

    fn kinds(source: &str) -> Vec<TokenKind<LineCol, Never>> {
        lex::<Never>(source).unwrap_or_else(|e| panic!("{e:?}")).into_iter().map(|t| t.kind).collect()
    }

    fn errors(source: &str) -> Vec<String> {
        lex::<Never>(source).expect_err("expected a lex error").iter().map(ToString::to_string).collect()
    }

    fn ident(name: &str) -> TokenKind<LineCol, Never> {
        TokenKind::Ident(name.to_string())
    }

    #[test]
    fn literals() {
        assert_eq!(
            kinds("42 1_000_000 2.5 1e-5 1.0e+10 \"a\\n\" true nan"),
            vec![
                TokenKind::Int(42),
                TokenKind::Int(1_000_000),
                TokenKind::Float(2.5),
                TokenKind::Float(1e-5),
                TokenKind::Float(1.0e10),
                TokenKind::Str("a\n".into()),
                ident("true"),
                ident("nan"),
            ]
        );
        assert_eq!(kinds("-9223372036854775808"), vec![TokenKind::Punct('-'), TokenKind::Int(1 << 63)]);
        // `1..2` and `1.foo` are not floats, as in Rust.
        assert_eq!(
            kinds("1..2"),
            vec![TokenKind::Int(1), TokenKind::Punct('.'), TokenKind::Punct('.'), TokenKind::Int(2)]
        );
        assert_eq!(kinds("1.foo"), vec![TokenKind::Int(1), TokenKind::Punct('.'), ident("foo")]);
        assert_eq!(kinds("2."), vec![TokenKind::Float(2.0)]);
    }

    #[test]
    fn spans_are_line_and_column() {
        let tokens = lex::<Never>("fn main() {\n  LDI r0, 1 // one\n\tRET r0\n}").unwrap();
        assert_eq!(tokens[0].span, LineCol::new(1, 1));
        assert_eq!(tokens[1].span, LineCol::new(1, 4));
        let TokenKind::Group(body) = &tokens[3].kind else { panic!("{:?}", tokens[3]) };
        assert_eq!(tokens[3].span, LineCol::new(1, 11));
        assert_eq!(body.close_span, LineCol::new(4, 1));
        let spans: Vec<_> = body.tokens.iter().map(|t| t.span.to_string()).collect();
        assert_eq!(spans, ["2:3", "2:7", "2:9", "2:11", "3:2", "3:6"]);
    }

    #[test]
    fn comments_and_unicode() {
        assert_eq!(
            kinds("// ünïcødé comment\nx /* a /* nested */ 世界 */ y \"é😀\""),
            vec![ident("x"), ident("y"), TokenKind::Str("é😀".into())]
        );
        let tokens = lex::<Never>("\"é😀\" z").unwrap();
        assert_eq!(tokens[1].span, LineCol::new(1, 6));
    }

    #[test]
    fn groups() {
        let tokens = kinds("[sp+1] () {x}");
        assert_eq!(tokens.len(), 3);
        let TokenKind::Group(stack) = &tokens[0] else { panic!() };
        assert_eq!(stack.delimiter, Delimiter::Bracket);
        assert_eq!(stack.tokens.len(), 3);
        let TokenKind::Group(unit) = &tokens[1] else { panic!() };
        assert!(unit.tokens.is_empty() && unit.host.is_none());
    }

    #[test]
    fn errors_carry_positions() {
        assert_eq!(errors("x \"abc"), ["1:3: unterminated string"]);
        assert_eq!(errors("\n  `"), ["2:3: unexpected character '`'"]);
        assert_eq!(errors("a \\ b"), ["1:3: unexpected character `\\`"]);
        assert_eq!(
            errors("LDI r0, \"\\u{110000}\""),
            ["1:10: invalid unicode escape `\\u{110000}`: is above 10FFFF, not a Unicode scalar value"]
        );
        assert_eq!(errors("\"ab\\qc\""), ["1:4: unknown escape `\\q`"]);
        assert_eq!(
            errors("1 2 99999999999999999999999999999999999999999"),
            ["1:5: integer literal `99999999999999999999999999999999999999999` is too large"]
        );
        assert_eq!(errors("5i64"), ["1:2: literal suffix `i64` is not supported; write the plain number"]);
        assert_eq!(errors("1e400"), ["1:1: float literal `1e400` is out of range for f64"]);
        assert_eq!(
            errors("'a'"),
            ["1:1: character literals are not supported; use a string in double quotes"]
        );
        assert_eq!(errors("/* open"), ["1:1: unterminated block comment"]);
    }

    #[test]
    fn unbalanced_delimiters() {
        assert_eq!(errors("fn f() {\n  RET r0\n"), ["1:8: unclosed delimiter `{`"]);
        assert_eq!(errors("a )"), ["1:3: unexpected closing delimiter `)`"]);
        let mismatched = errors("{ ( }");
        assert_eq!(mismatched.len(), 1);
        assert!(mismatched[0].starts_with("1:3: unclosed delimiter `(`"));
        assert_eq!(errors("[ ]]"), ["1:4: unexpected closing delimiter `]`"]);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let source = "(".repeat(100_000);
        let found = errors(&source);
        assert!(found[0].contains("nested more than"), "{found:?}");
    }

    #[test]
    fn recovery_keeps_lexing() {
        let lexed = lex_recovering::<Never>("1e400 ` \"\\q\" ok");
        assert_eq!(lexed.diagnostics.len(), 3);
        assert!(!lexed.structure_broken);
        assert_eq!(lexed.tokens.len(), 3);
    }
}
