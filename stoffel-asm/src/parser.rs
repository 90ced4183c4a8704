//! The parser: a token tree to a [`Program`], each instruction's operands matched against its
//! table row, reporting every syntax error and recovering at the next plausible item.
//!
//! Grammar (whitespace-insensitive, since `bytecode!` cannot see line breaks):
//!
//! ```text
//! program  := function*
//! function := "fn" NAME "(" [NAME ("," NAME)* [","]] ")"
//!             ["captures" "(" [NAME ("," NAME)* [","]] ")"]
//!             ["registers" "(" INT ")"]
//!             "{" item* "}"
//! item     := IDENT ":"                              (a label)
//!           | MNEMONIC [operand ("," operand)*] [";"]
//!           | ";"
//! operand  := "r" DIGITS                             (register)
//!           | "[" "sp" [("+" | "-") INT] "]"         (stack slot)
//!           | ["-"] INT | ["-"] FLOAT | "true" | "false" | STRING | "(" ")"
//!           | "nan" | ["-"] "inf"                    (float immediates, see below)
//!           | "{" … "}"                              (host expression, `bytecode!` only)
//!           | IDENT                                  (label or function name)
//! NAME     := IDENT | STRING
//! ```
//!
//! An instruction ends where its last operand ends: the next token that is a mnemonic, an
//! identifier followed by `:`, a `;` or the end of the body starts the next item.
//!
//! Extension: `nan`, `inf` and `-inf` are float immediates (and `-nan`, the same NaN), so that
//! the disassembler can print every float and read it back.

use std::fmt::Debug;

use crate::ast::{Function, Instr, Item, Literal, Name, Operand, Program, MAX_REGISTERS};
use crate::diagnostic::Diagnostic;
use crate::disasm::{fmt_float, fmt_stack, fmt_string_literal, name_conflict};
use crate::isa::{lookup, OpSpec, OperandKind, OPS};
use crate::token::{Delimiter, Group, Token, TokenKind};

/// The message for a brace group in operand position when the front end has no host language.
pub const HOST_EXPRESSION_IN_TEXT: &str = "`{...}` Rust expressions are only allowed in `bytecode!`";

/// Parses a whole program.
///
/// Returns the program as far as it could be read — malformed instructions and headers are
/// left out and their functions marked [`Function::incomplete`] — together with every
/// diagnostic. The program is only meaningful when the diagnostics are empty; it is returned
/// anyway so that [`crate::check::check`] can report the independent mistakes of the same input
/// in one go.
pub fn parse<S: Clone + Debug, H>(tokens: Vec<Token<S, H>>) -> (Program<S, H>, Vec<Diagnostic<S>>) {
    let mut parser = Parser { diagnostics: Vec::new() };
    let functions = match end_span(&tokens) {
        Some(end) => parser.program(Cursor::new(tokens, end, "the end of the input")),
        None => Vec::new(),
    };
    (Program { functions }, parser.diagnostics)
}

/// The span just past the last token: its own span, or for a group its closing delimiter.
fn end_span<S: Clone, H>(tokens: &[Token<S, H>]) -> Option<S> {
    tokens.last().map(|token| match &token.kind {
        TokenKind::Group(group) => group.close_span.clone(),
        _ => token.span.clone(),
    })
}

/// The index of a register name: `r0` → `Some(Some(0))`; `r99999999999` → `Some(None)` (too
/// large); `x`, `r`, `r1a` → `None`.
pub fn register_index(name: &str) -> Option<Option<u32>> {
    let digits = name.strip_prefix('r')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse::<u32>().ok())
}

/// The nearest mnemonic to a misspelled one: the same letters in another case, else the
/// closest by edit distance, else one that extends it (`PUSH` → `PUSHARG`).
pub fn suggest_mnemonic(name: &str) -> Option<&'static str> {
    if name.len() > 32 {
        return None;
    }
    let upper = name.to_ascii_uppercase();
    if let Some(op) = lookup(&upper) {
        return Some(op.mnemonic);
    }
    let limit = (upper.chars().count() / 3).max(1);
    let closest = OPS
        .iter()
        .map(|op| (edit_distance(&upper, op.mnemonic), op.mnemonic))
        .min_by_key(|&(distance, _)| distance)
        .filter(|&(distance, _)| distance <= limit)
        .map(|(_, mnemonic)| mnemonic);
    closest.or_else(|| {
        OPS.iter().map(|op| op.mnemonic).find(|mnemonic| upper.len() >= 3 && mnemonic.starts_with(&upper))
    })
}

/// The Levenshtein distance between two strings, by characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// Tokens of one level, read front to back (stored reversed so that taking one is a `pop`).
struct Cursor<S, H> {
    reversed: Vec<Token<S, H>>,
    /// Where "found the end" errors point: the closing delimiter, or the last token.
    end: S,
    /// How messages name the end: "`}`", "the end of the input".
    end_description: &'static str,
}

impl<S: Clone, H> Cursor<S, H> {
    fn new(mut tokens: Vec<Token<S, H>>, end: S, end_description: &'static str) -> Self {
        tokens.reverse();
        Cursor { reversed: tokens, end, end_description }
    }

    fn of_group(group: Group<S, H>) -> Self {
        let end_description = match group.delimiter {
            Delimiter::Paren => "`)`",
            Delimiter::Bracket => "`]`",
            Delimiter::Brace => "`}`",
        };
        Cursor::new(group.tokens, group.close_span, end_description)
    }

    fn peek(&self) -> Option<&Token<S, H>> {
        self.reversed.last()
    }

    fn peek_second(&self) -> Option<&Token<S, H>> {
        let index = self.reversed.len().checked_sub(2)?;
        self.reversed.get(index)
    }

    fn next(&mut self) -> Option<Token<S, H>> {
        self.reversed.pop()
    }

    fn peek_is_punct(&self, c: char) -> bool {
        self.peek().is_some_and(|token| token.is_punct(c))
    }

    /// The span of the next token, or the end.
    fn here(&self) -> S {
        self.peek().map_or_else(|| self.end.clone(), |token| token.span.clone())
    }

    /// The next token for messages, or the end.
    fn describe_next(&self) -> String {
        self.peek().map_or_else(|| self.end_description.to_string(), Token::describe)
    }

    /// Whether the next token starts an item (or the body ends): a mnemonic, `name:`, `;`.
    fn at_item_start(&self) -> bool {
        let Some(token) = self.peek() else {
            return true;
        };
        if token.is_punct(';') {
            return true;
        }
        match token.ident() {
            Some(name) if lookup(name).is_some() => true,
            Some(_) => self.peek_second().is_some_and(|next| next.is_punct(':')),
            None => false,
        }
    }

    /// Whether the next token ends the instruction before it: an item start, or any other
    /// identifier that is not an operand word (`r1`, `true`, `nan`, …). Without line breaks,
    /// `LDI r0, 1 ADDD r1, r0, r0` must read `ADDD` as the next (unknown) instruction, not as
    /// a missing comma.
    fn at_item_boundary(&self) -> bool {
        if self.at_item_start() {
            return true;
        }
        self.peek().and_then(Token::ident).is_some_and(|name| {
            register_index(name).is_none() && !matches!(name, "true" | "false" | "nan" | "inf")
        })
    }

    fn skip_to_item_boundary(&mut self) {
        while !self.at_item_boundary() {
            self.next();
        }
    }
}

/// An operand as written, before it is matched against the kind its field wants.
enum RawOperand<S, H> {
    Reg(u32, S),
    Stack(i32, S),
    Int(i64, S),
    Float(f64, S),
    Str(String, S),
    Unit(S),
    Ident(String, S),
    Host(H, S),
}

impl<S, H> RawOperand<S, H> {
    fn span(&self) -> &S {
        match self {
            RawOperand::Reg(_, span)
            | RawOperand::Stack(_, span)
            | RawOperand::Int(_, span)
            | RawOperand::Float(_, span)
            | RawOperand::Str(_, span)
            | RawOperand::Unit(span)
            | RawOperand::Ident(_, span)
            | RawOperand::Host(_, span) => span,
        }
    }

    fn describe(&self) -> String {
        match self {
            RawOperand::Reg(index, _) => format!("register `r{index}`"),
            RawOperand::Stack(offset, _) => format!("stack slot `{}`", fmt_stack(*offset)),
            RawOperand::Int(value, _) => format!("integer `{value}`"),
            RawOperand::Float(value, _) => format!("float `{}`", fmt_float(*value)),
            RawOperand::Str(text, _) => format!("string `{}`", fmt_string_literal(text)),
            RawOperand::Unit(_) => "`()`".to_string(),
            RawOperand::Ident(name, _) if matches!(name.as_str(), "true" | "false") => {
                format!("`{name}`")
            }
            RawOperand::Ident(name, _) => format!("identifier `{name}`"),
            RawOperand::Host(..) => "a Rust expression `{…}`".to_string(),
        }
    }
}

/// Reports why a part could not be read; the caller skips ahead to recover.
struct Reported;

struct Parser<S> {
    diagnostics: Vec<Diagnostic<S>>,
}

impl<S: Clone + Debug> Parser<S> {
    fn error(&mut self, span: S, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::new(span, message));
    }

    /// Reports an unexpected token: with its own message when it is
    /// [`TokenKind::Invalid`] (the real mistake), else with `message`.
    fn unexpected<H>(&mut self, token: &Token<S, H>, message: String) {
        let message = match &token.kind {
            TokenKind::Invalid { message, .. } => message.clone(),
            _ => message,
        };
        self.error(token.span.clone(), message);
    }

    fn program<H>(&mut self, mut cursor: Cursor<S, H>) -> Vec<Function<S, H>> {
        let mut functions = Vec::new();
        while let Some(token) = cursor.peek() {
            if token.ident() == Some("fn") {
                if let Some(function) = self.function(&mut cursor) {
                    functions.push(function);
                }
                continue;
            }
            let mut diagnostic =
                Diagnostic::new(token.span.clone(), format!("expected `fn`, found {}", token.describe()));
            if token.ident().is_some_and(|name| lookup(name).is_some()) {
                diagnostic =
                    diagnostic.with_help("instructions belong in a function body: `fn main() { … }`");
            }
            self.diagnostics.push(diagnostic);
            cursor.next();
            while cursor.peek().is_some_and(|t| t.ident() != Some("fn")) {
                cursor.next();
            }
        }
        functions
    }

    /// Parses `fn NAME(params) [captures(...)] [registers(N)] { body }`; the cursor is at `fn`.
    fn function<H>(&mut self, cursor: &mut Cursor<S, H>) -> Option<Function<S, H>> {
        let fn_span = cursor.next()?.span;
        let name = match cursor.peek().map(|t| &t.kind) {
            Some(TokenKind::Ident(_) | TokenKind::Str(_)) => {
                let token = cursor.next()?;
                let text = match token.kind {
                    TokenKind::Ident(text) | TokenKind::Str(text) => text,
                    _ => String::new(),
                };
                Name { text, span: token.span }
            }
            _ => {
                let found = cursor.describe_next();
                self.error(cursor.here(), format!("expected a function name after `fn`, found {found}"));
                self.skip_to_next_function(cursor);
                return None;
            }
        };
        let mut function = Function {
            name,
            params: Vec::new(),
            captures: Vec::new(),
            registers: None,
            body: Vec::new(),
            span: fn_span,
            incomplete: false,
        };

        match take_group(cursor, Delimiter::Paren) {
            Some(group) => match self.names(group, "parameter") {
                Ok(params) => function.params = params,
                Err(Reported) => function.incomplete = true,
            },
            None => {
                let found = cursor.describe_next();
                self.error(
                    cursor.here(),
                    format!("expected `(` and the parameters of `{}`, found {found}", function.name.text),
                );
                function.incomplete = true;
                return self.recover_body(cursor, function);
            }
        }

        let mut captures_seen = false;
        loop {
            let keyword = cursor.peek().and_then(Token::ident);
            let has_group = matches!(
                cursor.peek_second().map(|t| &t.kind),
                Some(TokenKind::Group(Group { delimiter: Delimiter::Paren, .. }))
            );
            match keyword {
                Some("captures") if has_group => {
                    let keyword_span = cursor.next()?.span;
                    if captures_seen {
                        self.error(keyword_span.clone(), "`captures(...)` is given twice");
                    } else if function.registers.is_some() {
                        self.error(keyword_span.clone(), "`captures(...)` must come before `registers(...)`");
                    }
                    captures_seen = true;
                    let group = take_group(cursor, Delimiter::Paren)?;
                    match self.names(group, "capture") {
                        Ok(names) => function.captures.extend(names),
                        Err(Reported) => function.incomplete = true,
                    }
                }
                Some("registers") if has_group => {
                    let keyword_span = cursor.next()?.span;
                    let group = take_group(cursor, Delimiter::Paren)?;
                    let count = self.register_count(group, keyword_span.clone());
                    if function.registers.is_some() {
                        self.error(keyword_span, "`registers(...)` is given twice");
                    } else if let Some(count) = count {
                        function.registers = Some(count);
                    }
                }
                _ => break,
            }
        }

        match take_group(cursor, Delimiter::Brace) {
            Some(group) => {
                let (body, incomplete) = self.items(Cursor::of_group(group));
                function.body = body;
                function.incomplete |= incomplete;
                Some(function)
            }
            None => {
                let found = cursor.describe_next();
                self.diagnostics.push(
                    Diagnostic::new(
                        cursor.here(),
                        format!("expected `{{` and the body of `{}`, found {found}", function.name.text),
                    )
                    .with_help("a header reads `fn name(params) captures(names) registers(N) { … }`"),
                );
                function.incomplete = true;
                self.recover_body(cursor, function)
            }
        }
    }

    /// After a broken header: skips to the body (a brace group) and parses it, or stops before
    /// the next `fn`.
    fn recover_body<H>(
        &mut self,
        cursor: &mut Cursor<S, H>,
        mut function: Function<S, H>,
    ) -> Option<Function<S, H>> {
        while let Some(token) = cursor.peek() {
            if token.ident() == Some("fn") {
                break;
            }
            if let Some(group) = take_group(cursor, Delimiter::Brace) {
                let (body, _) = self.items(Cursor::of_group(group));
                function.body = body;
                break;
            }
            cursor.next();
        }
        Some(function)
    }

    fn skip_to_next_function<H>(&mut self, cursor: &mut Cursor<S, H>) {
        while cursor.peek().is_some_and(|t| t.ident() != Some("fn")) {
            cursor.next();
        }
    }

    /// Reads `NAME ("," NAME)* [","]` inside a parenthesized group.
    fn names<H>(&mut self, group: Group<S, H>, what: &str) -> Result<Vec<Name<S>>, Reported> {
        let mut cursor = Cursor::of_group(group);
        let mut names = Vec::new();
        while let Some(token) = cursor.next() {
            match token.kind {
                TokenKind::Ident(text) | TokenKind::Str(text) => names.push(Name { text, span: token.span }),
                _ => {
                    let found = token.describe();
                    self.unexpected(&token, format!("expected a {what} name, found {found}"));
                    return Err(Reported);
                }
            }
            match cursor.next() {
                None => break,
                Some(comma) if comma.is_punct(',') => {}
                Some(other) => {
                    let found = other.describe();
                    self.error(other.span, format!("expected `,` or `)` after a {what} name, found {found}"));
                    return Err(Reported);
                }
            }
        }
        Ok(names)
    }

    /// Reads the `N` of `registers(N)`.
    fn register_count<H>(&mut self, group: Group<S, H>, keyword_span: S) -> Option<(u32, S)> {
        let mut cursor = Cursor::of_group(group);
        let first = cursor.next();
        let extra = cursor.next();
        match (first, extra) {
            (Some(Token { kind: TokenKind::Int(count), span }), None) => match u32::try_from(count) {
                Ok(count) => Some((count, span)),
                Err(_) => {
                    self.error(
                        span,
                        format!(
                            "`registers({count})` exceeds the maximum of {} registers",
                            thousands(u64::from(MAX_REGISTERS))
                        ),
                    );
                    None
                }
            },
            (Some(token @ Token { kind: TokenKind::Invalid { .. }, .. }), _) => {
                self.unexpected(&token, String::new());
                None
            }
            (first, _) => {
                let span = first.map_or(keyword_span, |token| token.span);
                self.diagnostics.push(
                    Diagnostic::new(span, "expected a register count")
                        .with_help("write the count as an integer: `registers(16)`"),
                );
                None
            }
        }
    }

    /// Parses a function body; returns the items and whether anything was dropped.
    fn items<H>(&mut self, mut cursor: Cursor<S, H>) -> (Vec<Item<S, H>>, bool) {
        let mut items = Vec::new();
        let mut incomplete = false;
        while let Some(token) = cursor.peek() {
            if token.is_punct(';') {
                cursor.next();
                continue;
            }
            let is_label = cursor.peek_second().is_some_and(|t| t.is_punct(':'));
            match &token.kind {
                TokenKind::Ident(_) if is_label => {
                    let Some(Token { kind: TokenKind::Ident(name), span }) = cursor.next() else {
                        break;
                    };
                    cursor.next();
                    if let Some(reason) = name_conflict(&name) {
                        self.diagnostics.push(
                            Diagnostic::new(
                                span.clone(),
                                format!("`{name}` cannot be a label name: {reason}"),
                            )
                            .with_help("choose another name, such as `done` or `loop_start`"),
                        );
                    }
                    items.push(Item::Label(name, span));
                }
                TokenKind::Ident(_) => match self.instruction(&mut cursor) {
                    Ok(instr) => items.push(Item::Instr(instr)),
                    Err(Reported) => {
                        incomplete = true;
                        cursor.skip_to_item_boundary();
                    }
                },
                _ => {
                    let found = token.describe();
                    self.unexpected(token, format!("expected an instruction or a label, found {found}"));
                    incomplete = true;
                    cursor.next();
                    cursor.skip_to_item_boundary();
                }
            }
        }
        (items, incomplete)
    }

    /// Parses `MNEMONIC operand, …` and matches the operands against the table row.
    fn instruction<H>(&mut self, cursor: &mut Cursor<S, H>) -> Result<Instr<S, H>, Reported> {
        let Some(Token { kind: TokenKind::Ident(mnemonic), span }) = cursor.next() else {
            return Err(Reported);
        };
        let operands = self.operand_list(cursor)?;
        let Some(op) = lookup(&mnemonic) else {
            let mut diagnostic = Diagnostic::new(span, format!("unknown instruction `{mnemonic}`"));
            if let Some(suggestion) = suggest_mnemonic(&mnemonic) {
                diagnostic = diagnostic.with_help(format!("did you mean `{suggestion}`?"));
            } else if operands.is_empty() && name_conflict(&mnemonic).is_none() {
                diagnostic = diagnostic.with_help(format!("to define a label, write `{mnemonic}:`"));
            }
            self.diagnostics.push(diagnostic);
            return Err(Reported);
        };
        self.match_operands(op, operands, span)
    }

    fn operand_list<H>(&mut self, cursor: &mut Cursor<S, H>) -> Result<Vec<RawOperand<S, H>>, Reported> {
        let mut operands = Vec::new();
        if cursor.at_item_start() {
            return Ok(operands);
        }
        loop {
            operands.push(self.operand(cursor)?);
            if cursor.peek_is_punct(',') {
                cursor.next();
                continue;
            }
            if cursor.at_item_boundary() {
                return Ok(operands);
            }
            let found = cursor.describe_next();
            self.diagnostics.push(
                Diagnostic::new(
                    cursor.here(),
                    format!("expected `,` or the next instruction, found {found}"),
                )
                .with_help("operands are separated by commas: `ADD r2, r0, r1`"),
            );
            return Err(Reported);
        }
    }

    fn operand<H>(&mut self, cursor: &mut Cursor<S, H>) -> Result<RawOperand<S, H>, Reported> {
        let ends_here = match cursor.peek() {
            None => true,
            Some(token) => token.is_punct(';') || token.ident().is_some_and(|name| lookup(name).is_some()),
        };
        if ends_here {
            // Only reachable after a comma: the operand list checks for an empty list itself.
            let found = match cursor.peek().and_then(Token::ident) {
                Some(mnemonic) => format!("the instruction `{mnemonic}`"),
                None => cursor.describe_next(),
            };
            self.error(cursor.here(), format!("expected an operand after `,`, found {found}"));
            return Err(Reported);
        }
        let Some(token) = cursor.next() else {
            return Err(Reported);
        };
        let span = token.span;
        match token.kind {
            TokenKind::Ident(name) => match register_index(&name) {
                Some(Some(index)) => Ok(RawOperand::Reg(index, span)),
                Some(None) => {
                    self.error(span, register_out_of_range(&name));
                    Err(Reported)
                }
                None => Ok(RawOperand::Ident(name, span)),
            },
            TokenKind::Int(magnitude) => {
                let value = self.int_value(magnitude, false, span.clone())?;
                Ok(RawOperand::Int(value, span))
            }
            TokenKind::Float(value) => Ok(RawOperand::Float(value, span)),
            TokenKind::Str(text) => Ok(RawOperand::Str(text, span)),
            TokenKind::Invalid { message, .. } => {
                self.error(span, message);
                Err(Reported)
            }
            TokenKind::Punct('-') => self.negative(cursor, span),
            TokenKind::Punct(c) => {
                self.error(span, format!("expected an operand, found `{c}`"));
                Err(Reported)
            }
            TokenKind::Group(group) => match group.delimiter {
                Delimiter::Paren if group.tokens.is_empty() => Ok(RawOperand::Unit(span)),
                Delimiter::Paren => {
                    self.diagnostics.push(
                        Diagnostic::new(span, "expected an operand, found `(…)`")
                            .with_help("the unit value is written `()`, with nothing inside"),
                    );
                    Err(Reported)
                }
                Delimiter::Bracket => self.stack_slot(group, span),
                Delimiter::Brace => match group.host {
                    Some(host) => Ok(RawOperand::Host(host, span)),
                    None => {
                        self.error(span, HOST_EXPRESSION_IN_TEXT);
                        Err(Reported)
                    }
                },
            },
        }
    }

    /// Reads what follows a `-` in operand position.
    fn negative<H>(
        &mut self,
        cursor: &mut Cursor<S, H>,
        minus_span: S,
    ) -> Result<RawOperand<S, H>, Reported> {
        let number = match cursor.peek().map(|t| &t.kind) {
            Some(TokenKind::Int(_) | TokenKind::Float(_) | TokenKind::Invalid { .. }) => cursor.next(),
            Some(TokenKind::Ident(name)) if name == "inf" || name == "nan" => cursor.next(),
            _ => None,
        };
        match number.map(|t| (t.kind, t.span)) {
            Some((TokenKind::Int(magnitude), span)) => {
                let value = self.int_value(magnitude, true, span)?;
                Ok(RawOperand::Int(value, minus_span))
            }
            Some((TokenKind::Float(value), _)) => Ok(RawOperand::Float(-value, minus_span)),
            Some((TokenKind::Ident(name), _)) if name == "inf" => {
                Ok(RawOperand::Float(f64::NEG_INFINITY, minus_span))
            }
            Some((TokenKind::Ident(_), _)) => Ok(RawOperand::Float(-f64::NAN, minus_span)),
            Some((TokenKind::Invalid { message, .. }, span)) => {
                self.error(span, message);
                Err(Reported)
            }
            _ => {
                let found = cursor.describe_next();
                self.error(cursor.here(), format!("expected a number after `-`, found {found}"));
                // The culprit belongs to this operand; recovery resumes after it.
                if !cursor.at_item_start() {
                    cursor.next();
                }
                Err(Reported)
            }
        }
    }

    /// Applies a sign to an integer literal's magnitude; reports values outside `i64`.
    fn int_value(&mut self, magnitude: u128, negative: bool, span: S) -> Result<i64, Reported> {
        let value =
            if negative { 0i128.checked_sub_unsigned(magnitude) } else { i128::try_from(magnitude).ok() };
        match value.and_then(|v| i64::try_from(v).ok()) {
            Some(value) => Ok(value),
            None => {
                let sign = if negative { "-" } else { "" };
                self.diagnostics.push(
                    Diagnostic::new(
                        span,
                        format!("integer `{sign}{magnitude}` does not fit in a 64-bit signed integer"),
                    )
                    .with_note(format!(
                        "integers range from {} to {}",
                        i64::MIN,
                        i64::MAX
                    )),
                );
                Err(Reported)
            }
        }
    }

    /// Reads the inside of `[sp+k]`, `[sp-k]` or `[sp]`.
    fn stack_slot<H>(&mut self, group: Group<S, H>, span: S) -> Result<RawOperand<S, H>, Reported> {
        let mut cursor = Cursor::of_group(group);
        let shape_error = |found: String| {
            Diagnostic::new(
                span.clone(),
                format!("expected a stack slot `[sp+k]`, `[sp-k]` or `[sp]`, found {found}"),
            )
        };
        if cursor.peek().and_then(Token::ident) != Some("sp") {
            let found = cursor.describe_next();
            self.diagnostics.push(shape_error(found));
            return Err(Reported);
        }
        cursor.next();
        let Some(sign) = cursor.next() else {
            return Ok(RawOperand::Stack(0, span));
        };
        let negative = sign.is_punct('-');
        if !negative && !sign.is_punct('+') {
            self.diagnostics.push(shape_error(sign.describe()));
            return Err(Reported);
        }
        let offset = cursor.next();
        let leftover = cursor.peek().map(Token::describe);
        let (magnitude, offset_span) = match offset {
            Some(Token { kind: TokenKind::Int(magnitude), span: offset_span }) if leftover.is_none() => {
                (magnitude, offset_span)
            }
            Some(token) if leftover.is_none() && matches!(token.kind, TokenKind::Invalid { .. }) => {
                self.unexpected(&token, String::new());
                return Err(Reported);
            }
            Some(token) => {
                let found = leftover.unwrap_or_else(|| token.describe());
                self.diagnostics.push(shape_error(found));
                return Err(Reported);
            }
            None => {
                self.diagnostics.push(shape_error("`]`".to_string()));
                return Err(Reported);
            }
        };
        let value =
            if negative { 0i128.checked_sub_unsigned(magnitude) } else { i128::try_from(magnitude).ok() };
        match value.and_then(|v| i32::try_from(v).ok()) {
            Some(offset) => Ok(RawOperand::Stack(offset, span)),
            None => {
                let sign = if negative { '-' } else { '+' };
                self.diagnostics.push(
                    Diagnostic::new(
                        offset_span,
                        format!("stack offset `{sign}{magnitude}` does not fit in 32 bits"),
                    )
                    .with_note(format!(
                        "offsets range from {} to {}",
                        i32::MIN,
                        i32::MAX
                    )),
                );
                Err(Reported)
            }
        }
    }

    /// Checks the operands against the table row (count first, then each kind).
    fn match_operands<H>(
        &mut self,
        op: &'static OpSpec,
        raw: Vec<RawOperand<S, H>>,
        span: S,
    ) -> Result<Instr<S, H>, Reported> {
        if raw.len() != op.operands.len() {
            let found = match raw.len() {
                0 => "found no operands".to_string(),
                1 => "found 1 operand".to_string(),
                n => format!("found {n} operands"),
            };
            self.error(span, format!("`{}` takes {}; {found}", op.mnemonic, op.form()));
            return Err(Reported);
        }
        let mut operands = Vec::with_capacity(raw.len());
        let mut all_match = true;
        for ((raw, &kind), field) in raw.into_iter().zip(op.operands).zip(op.fields) {
            match convert_operand(raw, kind) {
                Ok(operand) => operands.push(operand),
                Err(raw) => {
                    all_match = false;
                    let expected = match kind {
                        OperandKind::Dst | OperandKind::Src => {
                            format!("a register for {}", kind.placeholder(field))
                        }
                        OperandKind::Stack => "a stack slot `[sp+k]`".to_string(),
                        OperandKind::Imm => "an immediate".to_string(),
                        OperandKind::Label => "a label".to_string(),
                        OperandKind::Func => "a function name".to_string(),
                        OperandKind::Upvalue => "an upvalue name".to_string(),
                    };
                    let mut diagnostic = Diagnostic::new(
                        raw.span().clone(),
                        format!("`{}` expects {expected}, found {}", op.mnemonic, raw.describe()),
                    );
                    diagnostic = match (kind, &raw) {
                        (OperandKind::Imm, _) => diagnostic.with_note(
                            "an immediate is an integer, a float, `true`, `false`, a string or `()`",
                        ),
                        (OperandKind::Label, RawOperand::Str(..)) => {
                            diagnostic.with_help("labels are written as bare identifiers")
                        }
                        (OperandKind::Func, RawOperand::Reg(index, _)) => diagnostic.with_help(format!(
                            "a function named `r{index}` is written as a string: `CALL \"r{index}\"`"
                        )),
                        _ => diagnostic,
                    };
                    self.diagnostics.push(diagnostic);
                }
            }
        }
        if all_match {
            Ok(Instr { op, operands, span })
        } else {
            Err(Reported)
        }
    }
}

/// Converts an operand to the kind a field wants, or hands it back.
fn convert_operand<S, H>(
    raw: RawOperand<S, H>,
    kind: OperandKind,
) -> Result<Operand<S, H>, RawOperand<S, H>> {
    Ok(match (kind, raw) {
        (OperandKind::Dst | OperandKind::Src, RawOperand::Reg(index, span)) => Operand::Reg(index, span),
        (OperandKind::Stack, RawOperand::Stack(offset, span)) => Operand::Stack(offset, span),
        (OperandKind::Imm, RawOperand::Int(value, span)) => Operand::Imm(Literal::Int(value), span),
        (OperandKind::Imm, RawOperand::Float(value, span)) => Operand::Imm(Literal::Float(value), span),
        (OperandKind::Imm, RawOperand::Str(text, span)) => Operand::Imm(Literal::Str(text), span),
        (OperandKind::Imm, RawOperand::Unit(span)) => Operand::Imm(Literal::Unit, span),
        (OperandKind::Imm, RawOperand::Host(host, span)) => Operand::HostImm(host, span),
        (OperandKind::Imm, RawOperand::Ident(name, span)) => {
            let literal = match name.as_str() {
                "true" => Literal::Bool(true),
                "false" => Literal::Bool(false),
                "nan" => Literal::Float(f64::NAN),
                "inf" => Literal::Float(f64::INFINITY),
                _ => return Err(RawOperand::Ident(name, span)),
            };
            Operand::Imm(literal, span)
        }
        (OperandKind::Label, RawOperand::Ident(name, span)) => Operand::Label(name, span),
        (OperandKind::Func, RawOperand::Ident(name, span) | RawOperand::Str(name, span)) => {
            Operand::Func(name, span)
        }
        (OperandKind::Func, RawOperand::Host(host, span)) => Operand::HostFunc(host, span),
        (OperandKind::Upvalue, RawOperand::Ident(name, span) | RawOperand::Str(name, span)) => {
            Operand::Upvalue(name, span)
        }
        (_, raw) => return Err(raw),
    })
}

/// Takes the next token if it is a group with this delimiter.
fn take_group<S: Clone, H>(cursor: &mut Cursor<S, H>, delimiter: Delimiter) -> Option<Group<S, H>> {
    let is_match = matches!(
        cursor.peek().map(|t| &t.kind),
        Some(TokenKind::Group(group)) if group.delimiter == delimiter
    );
    if !is_match {
        return None;
    }
    match cursor.next()?.kind {
        TokenKind::Group(group) => Some(group),
        _ => None,
    }
}

/// The message for a register beyond `r65535`.
pub(crate) fn register_out_of_range(register: &str) -> String {
    format!(
        "register `{register}` is out of range: a function has at most {} registers (`r0` to `r{}`)",
        thousands(u64::from(MAX_REGISTERS)),
        MAX_REGISTERS - 1
    )
}

/// `65536` → `65,536`.
pub(crate) fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut groups = Vec::new();
    let mut end = digits.len();
    while end > 3 {
        groups.push(&digits[end - 3..end]);
        end -= 3;
    }
    groups.push(&digits[..end]);
    groups.reverse();
    groups.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::LineCol;
    use crate::lexer::lex;
    use crate::token::Never;

    fn parse_text(source: &str) -> (Program<LineCol, Never>, Vec<String>) {
        let tokens = lex::<Never>(source).unwrap_or_else(|e| panic!("lex: {e:?}"));
        let (program, diagnostics) = parse(tokens);
        (program, diagnostics.iter().map(ToString::to_string).collect())
    }

    fn parse_ok(source: &str) -> Program<LineCol, Never> {
        let (program, errors) = parse_text(source);
        assert!(errors.is_empty(), "{errors:#?}");
        program
    }

    fn errors(source: &str) -> Vec<String> {
        parse_text(source).1
    }

    /// The operands of the only instruction of `fn f() { <line> }`.
    fn operands(line: &str) -> Vec<Operand<(), Never>> {
        let program = parse_ok(&format!("fn f() {{ {line} }}")).map_spans(|_| ());
        match &program.functions[0].body[0] {
            Item::Instr(instr) => instr.operands.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_instruction_form() {
        let r = |i| Operand::Reg(i, ());
        assert_eq!(operands("LD r1, [sp+2]"), [r(1), Operand::Stack(2, ())]);
        assert_eq!(operands("LD r1, [sp-1]"), [r(1), Operand::Stack(-1, ())]);
        assert_eq!(operands("LD r1, [sp]"), [r(1), Operand::Stack(0, ())]);
        assert_eq!(operands("LD r1, [sp-2147483648]"), [r(1), Operand::Stack(i32::MIN, ())]);
        assert_eq!(operands("MOV r1, r0"), [r(1), r(0)]);
        for binary in ["ADD", "SUB", "MUL", "DIV", "MOD", "AND", "OR", "XOR", "SHL", "SHR"] {
            assert_eq!(operands(&format!("{binary} r2, r0, r1")), [r(2), r(0), r(1)]);
        }
        assert_eq!(operands("NOT r1, r0"), [r(1), r(0)]);
        assert_eq!(operands("CMP r0, r65535"), [r(0), r(65535)]);
        for jump in ["JMP", "JMPEQ", "JMPNEQ", "JMPLT", "JMPGT"] {
            assert_eq!(operands(&format!("{jump} done")), [Operand::Label("done".into(), ())]);
        }
        assert_eq!(operands("PUSHARG r3"), [r(3)]);
        assert_eq!(operands("CALL fib"), [Operand::Func("fib".into(), ())]);
        assert_eq!(operands("CALL \"odd name\""), [Operand::Func("odd name".into(), ())]);
        assert_eq!(operands("RET r0"), [r(0)]);
    }

    #[test]
    fn immediates() {
        let imm = |line: &str| match &operands(&format!("LDI r0, {line}"))[1] {
            Operand::Imm(literal, ()) => literal.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(imm("42"), Literal::Int(42));
        assert_eq!(imm("-7"), Literal::Int(-7));
        assert_eq!(imm("1_000_000"), Literal::Int(1_000_000));
        assert_eq!(imm("9223372036854775807"), Literal::Int(i64::MAX));
        assert_eq!(imm("-9223372036854775808"), Literal::Int(i64::MIN));
        assert_eq!(imm("2.5"), Literal::Float(2.5));
        assert_eq!(imm("-0.5"), Literal::Float(-0.5));
        assert_eq!(imm("-0.0"), Literal::Float(-0.0));
        assert_eq!(imm("1e-5"), Literal::Float(1e-5));
        assert_eq!(imm("1.0e+10"), Literal::Float(1e10));
        assert_eq!(imm("nan"), Literal::Float(f64::NAN));
        assert_eq!(imm("inf"), Literal::Float(f64::INFINITY));
        assert_eq!(imm("-inf"), Literal::Float(f64::NEG_INFINITY));
        assert_eq!(imm("true"), Literal::Bool(true));
        assert_eq!(imm("false"), Literal::Bool(false));
        assert_eq!(imm("\"hi\\n\""), Literal::Str("hi\n".into()));
        assert_eq!(imm("()"), Literal::Unit);
    }

    #[test]
    fn headers() {
        let program = parse_ok(
            "fn main() { RET r0 }\n\
             fn add(a, b,) registers(4) { RET r0 }\n\
             fn counter() captures(count) { RET r0 }\n\
             fn both(x) captures(y, z) registers(8) { RET r0 }\n\
             fn \"odd name\"(\"a b\") { RET r0 }",
        );
        let names: Vec<_> = program.functions.iter().map(|f| f.name.text.as_str()).collect();
        assert_eq!(names, ["main", "add", "counter", "both", "odd name"]);
        let add = &program.functions[1];
        assert_eq!(add.params.len(), 2);
        assert_eq!(add.registers, Some((4, LineCol::new(2, 25))));
        assert_eq!(program.functions[2].captures[0].text, "count");
        let both = &program.functions[3];
        assert_eq!((both.params.len(), both.captures.len()), (1, 2));
        assert_eq!(both.register_count(), 8);
        assert_eq!(program.functions[4].params[0].text, "a b");
        assert!(program.functions.iter().all(|f| !f.incomplete));
        assert_eq!(parse_ok("").functions.len(), 0);
        assert_eq!(parse_ok("// nothing").functions.len(), 0);
    }

    #[test]
    fn whitespace_insensitive_with_labels_and_semicolons() {
        let program = parse_ok(
            "fn f(n) { LDI r1, 2; CMP r0, r1 JMPLT done loop: SUB r0, r0, r1 JMP loop done: RET r0 }",
        );
        let body: Vec<String> = program.functions[0]
            .body
            .iter()
            .map(|item| match item {
                Item::Label(name, _) => format!("{name}:"),
                Item::Instr(instr) => instr.op.mnemonic.to_string(),
            })
            .collect();
        assert_eq!(body, ["LDI", "CMP", "JMPLT", "loop:", "SUB", "JMP", "done:", "RET"]);
        // An operand named like the next label is still an operand.
        let program = parse_ok("fn f() { JMP done done: RET r0 }");
        assert_eq!(program.functions[0].body.len(), 3);
    }

    #[test]
    fn operand_count_and_kind_errors() {
        assert_eq!(
            errors("fn f() {\n  ADD r1, r2\n  RET r0\n}"),
            ["2:3: `ADD` takes rD, rA, rB; found 2 operands"]
        );
        assert_eq!(errors("fn f() {\n  JMP r1\n}"), ["2:7: `JMP` expects a label, found register `r1`"]);
        assert_eq!(errors("fn f() { RET }"), ["1:10: `RET` takes rA; found no operands"]);
        assert_eq!(
            errors("fn f() { ADD r1, 5, r2 }"),
            ["1:18: `ADD` expects a register for rA, found integer `5`"]
        );
        assert_eq!(
            errors("fn f() { LD r1, r2 }"),
            ["1:17: `LD` expects a stack slot `[sp+k]`, found register `r2`"]
        );
        let imm = errors("fn f() { LDI r1, foo }");
        assert!(imm[0].starts_with("1:18: `LDI` expects an immediate, found identifier `foo`"));
        assert_eq!(
            errors("fn f() { CALL r1 }")[0],
            "1:15: `CALL` expects a function name, found register `r1`\n  help: a function named `r1` is written as a string: `CALL \"r1\"`"
        );
        // Two wrong kinds in one instruction: both are reported.
        assert_eq!(errors("fn f() { MOV 1, 2 }").len(), 2);
    }

    #[test]
    fn unknown_mnemonics_suggest() {
        assert_eq!(
            errors("fn f() {\n  ADDD r1, r2, r3\n}"),
            ["2:3: unknown instruction `ADDD`\n  help: did you mean `ADD`?"]
        );
        assert_eq!(
            errors("fn f() { add r1, r2, r3 }"),
            ["1:10: unknown instruction `add`\n  help: did you mean `ADD`?"]
        );
        assert_eq!(
            errors("fn f() { PUSH r1 }"),
            ["1:10: unknown instruction `PUSH`\n  help: did you mean `PUSHARG`?"]
        );
        assert_eq!(errors("fn f() { frobnicate r1 }"), ["1:10: unknown instruction `frobnicate`"]);
        assert_eq!(
            errors("fn f() { done RET r0 }"),
            ["1:10: unknown instruction `done`\n  help: to define a label, write `done:`"]
        );
        assert_eq!(suggest_mnemonic("jmpeq"), Some("JMPEQ"));
        assert_eq!(suggest_mnemonic("XX"), None);
    }

    #[test]
    fn syntax_errors_with_positions() {
        assert_eq!(
            errors("fn f() { ADD r1 r2, r3 }")[0],
            "1:17: expected `,` or the next instruction, found identifier `r2`\n  help: operands are separated by commas: `ADD r2, r0, r1`"
        );
        assert_eq!(
            errors("fn f() { ADD r1, r2,\n RET r0 }"),
            ["2:2: expected an operand after `,`, found the instruction `RET`"]
        );
        assert_eq!(
            errors("fn f() { LDI r0, 9223372036854775808 }")[0],
            "1:18: integer `9223372036854775808` does not fit in a 64-bit signed integer\n  note: integers range from -9223372036854775808 to 9223372036854775807"
        );
        assert!(errors("fn f() { LDI r0, -9223372036854775809 }")[0]
            .starts_with("1:19: integer `-9223372036854775809` does not fit"));
        assert!(errors("fn f() { LD r0, [sp+2147483648] }")[0]
            .starts_with("1:21: stack offset `+2147483648` does not fit in 32 bits"));
        assert_eq!(
            errors("fn f() { LD r0, [r1] }"),
            ["1:17: expected a stack slot `[sp+k]`, `[sp-k]` or `[sp]`, found identifier `r1`"]
        );
        assert_eq!(
            errors("fn f() { LD r0, [sp+] }"),
            ["1:17: expected a stack slot `[sp+k]`, `[sp-k]` or `[sp]`, found `]`"]
        );
        assert_eq!(
            errors("fn f() { LD r0, [sp+1 2] }"),
            ["1:17: expected a stack slot `[sp+k]`, `[sp-k]` or `[sp]`, found integer `2`"]
        );
        assert_eq!(
            errors("fn f() { LDI r0, {1 + 2} }"),
            ["1:18: `{...}` Rust expressions are only allowed in `bytecode!`"]
        );
        assert_eq!(
            errors("fn f() { CALL {g} }"),
            ["1:15: `{...}` Rust expressions are only allowed in `bytecode!`"]
        );
        assert_eq!(
            errors("fn f() { LDI r0, - x }"),
            ["1:20: expected a number after `-`, found identifier `x`"]
        );
        assert_eq!(
            errors("fn f() { MOV r99999999999, r0 }"),
            ["1:14: register `r99999999999` is out of range: a function has at most 65,536 registers (`r0` to `r65535`)"]
        );
        assert_eq!(errors("fn f() { RET r0, }"), ["1:18: expected an operand after `,`, found `}`"]);
        assert_eq!(
            errors("fn f() { LDI r0, (1) }")[0],
            "1:18: expected an operand, found `(…)`\n  help: the unit value is written `()`, with nothing inside"
        );
        assert_eq!(
            errors("fn f() { 42 RET r0 }"),
            ["1:10: expected an instruction or a label, found integer `42`"]
        );
        assert_eq!(
            errors("fn f() { r1: RET r0 }"),
            ["1:10: `r1` cannot be a label name: it reads as a register\n  help: choose another name, such as `done` or `loop_start`"]
        );
        assert_eq!(
            errors("fn f() { JMP \"x\" }")[0],
            "1:14: `JMP` expects a label, found string `\"x\"`\n  help: labels are written as bare identifiers"
        );
    }

    #[test]
    fn invalid_tokens_are_reported_only_when_read() {
        let invalid = |text: &str, span: u32| {
            Token::new(TokenKind::Invalid { text: text.into(), message: format!("bad `{text}`") }, span)
        };
        let ident = |name: &str, span: u32| Token::new(TokenKind::Ident(name.into()), span);
        let comma = |span: u32| Token::new(TokenKind::Punct(','), span);
        let body = vec![
            ident("LDI", 10),
            ident("r0", 11),
            comma(12),
            // A Rust expression holding a char literal: never read, never reported.
            Token::group(Delimiter::Brace, vec![invalid("'a'", 14)], 13, 15, Some(())),
            ident("LDI", 16),
            ident("r1", 17),
            comma(18),
            invalid("1u8", 19),
            ident("LDI", 20),
            ident("r1", 21),
            comma(22),
            Token::new(TokenKind::Punct('-'), 23),
            invalid("2u8", 24),
            ident("RET", 25),
            ident("r0", 26),
        ];
        let tokens = vec![
            ident("fn", 1),
            ident("f", 2),
            Token::group(Delimiter::Paren, vec![], 3, 4, None),
            Token::group(Delimiter::Brace, body, 5, 30, Some(())),
        ];
        let (_, diagnostics) = parse(tokens);
        let found: Vec<_> = diagnostics.iter().map(|d| (d.span, d.message.as_str())).collect();
        assert_eq!(found, [(19, "bad `1u8`"), (24, "bad `2u8`")]);
    }

    #[test]
    fn header_errors() {
        assert_eq!(
            errors("RET r0"),
            ["1:1: expected `fn`, found identifier `RET`\n  help: instructions belong in a function body: `fn main() { … }`"]
        );
        assert_eq!(errors("fn { RET r0 }"), ["1:4: expected a function name after `fn`, found `{…}`"]);
        assert_eq!(errors("fn f { RET r0 }"), ["1:6: expected `(` and the parameters of `f`, found `{…}`"]);
        assert_eq!(errors("fn f(1) { RET r0 }"), ["1:6: expected a parameter name, found integer `1`"]);
        assert_eq!(
            errors("fn f(a b) { RET r0 }"),
            ["1:8: expected `,` or `)` after a parameter name, found identifier `b`"]
        );
        assert_eq!(
            errors("fn f() registers(x) { RET r0 }")[0],
            "1:18: expected a register count\n  help: write the count as an integer: `registers(16)`"
        );
        assert_eq!(
            errors("fn f() registers(99999999999) { RET r0 }"),
            ["1:18: `registers(99999999999)` exceeds the maximum of 65,536 registers"]
        );
        assert_eq!(
            errors("fn f() registers(2) captures(x) { RET r0 }"),
            ["1:21: `captures(...)` must come before `registers(...)`"]
        );
        assert_eq!(
            errors("fn f() captres(x) { RET r0 }")[0],
            "1:8: expected `{` and the body of `f`, found identifier `captres`\n  help: a header reads `fn name(params) captures(names) registers(N) { … }`"
        );
        // The body after a broken header is still read.
        assert_eq!(errors("fn f() captres(x) { ADDD r0 }").len(), 2);
        assert_eq!(
            errors("fn f()"),
            ["1:6: expected `{` and the body of `f`, found the end of the input\n  help: a header reads `fn name(params) captures(names) registers(N) { … }`"]
        );
    }

    #[test]
    fn all_errors_at_once() {
        let found = errors(
            "fn main() {\n\
             \x20 ADDD r1, r2, r3\n\
             \x20 JMP r1\n\
             \x20 LDI r0, 99999999999999999999\n\
             \x20 MOV r0 r1\n\
             \x20 RET r0\n\
             }\n\
             fn g() { SUB r0 }",
        );
        assert_eq!(found.len(), 5, "{found:#?}");
        assert!(found[0].starts_with("2:3: unknown instruction `ADDD`"));
        assert!(found[1].starts_with("3:7: `JMP` expects a label"));
        assert!(found[2].starts_with("4:11: integer `99999999999999999999` does not fit"));
        assert!(found[3].starts_with("5:10: expected `,` or the next instruction"));
        assert!(found[4].starts_with("8:10: `SUB` takes rD, rA, rB; found 1 operand"));
        let (program, _) = parse_text("fn main() { ADDD r1 RET r0 } fn ok() { RET r0 }");
        assert!(program.functions[0].incomplete);
        assert!(!program.functions[1].incomplete);
        assert_eq!(program.functions[0].body.len(), 1);
    }

    #[test]
    fn helpers() {
        assert_eq!(register_index("r0"), Some(Some(0)));
        assert_eq!(register_index("r007"), Some(Some(7)));
        assert_eq!(register_index("r99999999999"), Some(None));
        assert_eq!(register_index("r"), None);
        assert_eq!(register_index("r1a"), None);
        assert_eq!(register_index("R1"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(thousands(65_536), "65,536");
        assert_eq!(thousands(100), "100");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
