//! The token tree both front ends produce (shaped like `proc_macro`'s), and the Rust literal
//! rules they share (`parse_literal`).
//!
//! The text lexer ([`crate::lexer::lex`]) builds these tokens from a `&str`; `bytecode!`
//! converts its `proc_macro2::TokenStream` into them, calling [`parse_literal`] on each
//! literal's text so both front ends read literals by the same rules.

use std::fmt;

/// One token, with the span of its first character.
#[derive(Clone, Debug, PartialEq)]
pub struct Token<S, H> {
    /// What the token is.
    pub kind: TokenKind<S, H>,
    /// Where it is; for a group, the opening delimiter (or the whole group, as the macro's
    /// `Group::span` gives).
    pub span: S,
}

/// The kinds of token.
///
/// `S` is the span type; `H` the host payload of a brace group (the macro's
/// `proc_macro2::TokenStream`, [`Never`] in the text front end).
#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind<S, H> {
    /// An identifier or keyword: `fn`, `ADD`, `r1`, `done`, `true`, `nan`.
    Ident(String),
    /// An integer literal's magnitude. A leading `-` is a separate [`TokenKind::Punct`], so
    /// that `-9223372036854775808` (magnitude 2^63) works once the parser applies the sign.
    Int(u128),
    /// A float literal (a fraction or an exponent: `2.5`, `1e-5`), always finite and
    /// non-negative.
    Float(f64),
    /// A string literal, escapes already resolved.
    Str(String),
    /// One punctuation character: `,` `:` `;` `+` `-` and the others Rust knows.
    Punct(char),
    /// A delimited group: `( … )`, `[ … ]`, `{ … }`.
    Group(Group<S, H>),
    /// A token the front end could not read as Stoffel, kept so that the mistake is reported
    /// only if the parser reads it as part of the program. `bytecode!` converts the inside of
    /// every brace group before it knows which braces are function bodies and which are Rust
    /// expressions, so a literal valid in Rust but not here (`'a'`, `1u8`) becomes `Invalid`
    /// with [`parse_literal`]'s message. The text lexer makes one for each malformed literal
    /// too, spanned at the exact position of the problem, after reporting it.
    Invalid {
        /// The token's source text, for messages: `'a'`.
        text: String,
        /// Why it cannot be read: ``literal suffix `u8` is not supported; …``.
        message: String,
    },
}

/// A delimited group of tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct Group<S, H> {
    /// Which delimiters enclose it.
    pub delimiter: Delimiter,
    /// The tokens between the delimiters.
    pub tokens: Vec<Token<S, H>>,
    /// The span of the closing delimiter (errors about a missing operand at the end of a
    /// group point here).
    pub close_span: S,
    /// For a brace group written by the host program, its contents as the host reads them
    /// (in `bytecode!`, the Rust expression `{limit * 2}`). The parser uses it when the brace
    /// group stands in operand position; the text front end always leaves it `None`, and then
    /// a brace group in operand position is an error.
    pub host: Option<H>,
}

/// The delimiter of a [`Group`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Delimiter {
    /// `( … )`
    Paren,
    /// `[ … ]`
    Bracket,
    /// `{ … }`
    Brace,
}

impl Delimiter {
    /// The opening character.
    pub fn open(self) -> char {
        match self {
            Delimiter::Paren => '(',
            Delimiter::Bracket => '[',
            Delimiter::Brace => '{',
        }
    }

    /// The closing character.
    pub fn close(self) -> char {
        match self {
            Delimiter::Paren => ')',
            Delimiter::Bracket => ']',
            Delimiter::Brace => '}',
        }
    }
}

/// The host payload of the text front end: it has no values, so a text program can never hold
/// a host expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Never {}

impl fmt::Display for Never {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

impl<S, H> Token<S, H> {
    /// A token from its kind and span.
    pub fn new(kind: TokenKind<S, H>, span: S) -> Self {
        Token { kind, span }
    }

    /// A group token.
    pub fn group(
        delimiter: Delimiter,
        tokens: Vec<Token<S, H>>,
        span: S,
        close_span: S,
        host: Option<H>,
    ) -> Self {
        Token { kind: TokenKind::Group(Group { delimiter, tokens, close_span, host }), span }
    }

    /// The identifier's text, if the token is one.
    pub fn ident(&self) -> Option<&str> {
        match &self.kind {
            TokenKind::Ident(name) => Some(name),
            _ => None,
        }
    }

    /// Whether the token is the punctuation character `c`.
    pub fn is_punct(&self, c: char) -> bool {
        matches!(self.kind, TokenKind::Punct(p) if p == c)
    }

    /// The token for messages: ``identifier `foo` ``, ``integer `5` ``, `` `,` ``.
    pub fn describe(&self) -> String {
        match &self.kind {
            TokenKind::Ident(name) => format!("identifier `{name}`"),
            TokenKind::Int(value) => format!("integer `{value}`"),
            TokenKind::Float(value) => format!("float `{}`", crate::disasm::fmt_float(*value)),
            TokenKind::Str(text) => {
                format!("string `{}`", crate::disasm::fmt_string_literal(text))
            }
            TokenKind::Punct(c) => format!("`{c}`"),
            TokenKind::Invalid { text, .. } => format!("`{text}`"),
            TokenKind::Group(group) => {
                let (open, close) = (group.delimiter.open(), group.delimiter.close());
                if group.tokens.is_empty() {
                    format!("`{open}{close}`")
                } else {
                    format!("`{open}…{close}`")
                }
            }
        }
    }
}

/// Why a literal's text is not a literal Stoffel accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiteralError {
    /// What is wrong.
    pub message: String,
    /// The byte offset in the literal's text where the problem starts (the text front end
    /// turns it into a `line:column`; the macro points at the whole literal).
    pub offset: usize,
}

impl LiteralError {
    /// An error at a byte offset of the literal's text.
    pub fn at(offset: usize, message: impl Into<String>) -> Self {
        LiteralError { message: message.into(), offset }
    }
}

/// Reads the source text of one Rust literal, as `proc_macro2::Literal::to_string` gives it.
///
/// Accepted, as Rust writes them:
/// - integers: `42`, `1_000_000`, `0x2A`, `0o52`, `0b101010` → [`TokenKind::Int`] (magnitude
///   up to `u128::MAX`; the parser checks that it fits where it is used);
/// - floats, with a fraction or an exponent: `2.5`, `2.`, `1e-5`, `1.0e+10` → [`TokenKind::Float`]
///   (a value too large for `f64` is an error, as rustc's `overflowing_literals` makes it);
/// - strings in double quotes with the escapes `\n \r \t \\ \" \' \0 \xHH` (up to `\x7F`),
///   `\u{…}` (a Unicode scalar value: no surrogates, at most `10FFFF`) and `\` before a newline
///   (skips the line break and the next line's leading whitespace) → [`TokenKind::Str`].
///
/// Rejected with a message: literal suffixes (`5i64`, `2.5f32`), characters (`'a'`), byte,
/// raw and C strings.
///
/// # Errors
///
/// A [`LiteralError`] saying what is wrong and where in `text`.
pub fn parse_literal<S, H>(text: &str) -> Result<TokenKind<S, H>, LiteralError> {
    let first = text.chars().next();
    match first {
        Some('"') => parse_string(text).map(TokenKind::Str),
        Some(c) if c.is_ascii_digit() => parse_number(text),
        Some('\'') => {
            Err(LiteralError::at(0, "character literals are not supported; use a string in double quotes"))
        }
        Some('b' | 'r' | 'c') if text.contains('"') || text.contains('\'') => Err(LiteralError::at(
            0,
            "byte, raw and C string literals are not supported; use a plain string in double quotes",
        )),
        _ => Err(LiteralError::at(0, format!("`{text}` is not a literal"))),
    }
}

fn parse_number<S, H>(text: &str) -> Result<TokenKind<S, H>, LiteralError> {
    let radix = match text.get(..2) {
        Some("0x") => Some((16, "hexadecimal")),
        Some("0o") => Some((8, "octal")),
        Some("0b") => Some((2, "binary")),
        _ => None,
    };
    if let Some((radix, radix_name)) = radix {
        return parse_radix_int(text, radix, radix_name);
    }

    let bytes = text.as_bytes();
    let mut end = 0;
    let skip_digits = |mut at: usize| {
        while at < bytes.len() && (bytes[at].is_ascii_digit() || bytes[at] == b'_') {
            at += 1;
        }
        at
    };
    end = skip_digits(end);
    let mut is_float = false;
    if bytes.get(end) == Some(&b'.') {
        is_float = true;
        end = skip_digits(end + 1);
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        is_float = true;
        let exponent_start = end;
        end += 1;
        if matches!(bytes.get(end), Some(b'+' | b'-')) {
            end += 1;
        }
        let digits_start = end;
        end = skip_digits(end);
        if !bytes[digits_start..end].iter().any(u8::is_ascii_digit) {
            return Err(LiteralError::at(exponent_start, "expected at least one digit in the exponent"));
        }
    }
    if end < bytes.len() {
        let suffix = text.get(end..).unwrap_or("");
        return Err(LiteralError::at(
            end,
            format!("literal suffix `{suffix}` is not supported; write the plain number"),
        ));
    }

    let digits: String = text.chars().filter(|&c| c != '_').collect();
    if is_float {
        match digits.parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(TokenKind::Float(value)),
            Ok(_) => Err(LiteralError::at(0, format!("float literal `{text}` is out of range for f64"))),
            Err(_) => Err(LiteralError::at(0, format!("invalid float literal `{text}`"))),
        }
    } else {
        let mut value: u128 = 0;
        for digit in digits.bytes() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u128::from(digit - b'0')))
                .ok_or_else(|| LiteralError::at(0, format!("integer literal `{text}` is too large")))?;
        }
        Ok(TokenKind::Int(value))
    }
}

fn parse_radix_int<S, H>(text: &str, radix: u32, radix_name: &str) -> Result<TokenKind<S, H>, LiteralError> {
    let mut value: u128 = 0;
    let mut any_digit = false;
    for (index, c) in text.char_indices().skip(2) {
        if c == '_' {
            continue;
        }
        match c.to_digit(radix) {
            Some(digit) => {
                any_digit = true;
                value = value
                    .checked_mul(u128::from(radix))
                    .and_then(|v| v.checked_add(u128::from(digit)))
                    .ok_or_else(|| {
                    LiteralError::at(0, format!("integer literal `{text}` is too large"))
                })?;
            }
            None if c.is_ascii_digit() => {
                return Err(LiteralError::at(
                    index,
                    format!("invalid digit `{c}` in a {radix_name} literal"),
                ));
            }
            None => {
                let suffix = text.get(index..).unwrap_or("");
                return Err(LiteralError::at(
                    index,
                    format!("literal suffix `{suffix}` is not supported; write the plain number"),
                ));
            }
        }
    }
    if !any_digit {
        return Err(LiteralError::at(0, format!("no digits in the {radix_name} literal `{text}`")));
    }
    Ok(TokenKind::Int(value))
}

/// Reads a string literal with its quotes and resolves its escapes.
fn parse_string(text: &str) -> Result<String, LiteralError> {
    let body = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .filter(|_| text.len() >= 2)
        .ok_or_else(|| LiteralError::at(0, "unterminated string"))?;
    unescape(body, 1)
}

/// Resolves the escapes of a string body; `base` is the body's offset in the literal.
fn unescape(body: &str, base: usize) -> Result<String, LiteralError> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        let at = base + index;
        match c {
            '\\' => {
                let Some((_, escape)) = chars.next() else {
                    return Err(LiteralError::at(at, "lone `\\` at the end of a string"));
                };
                match escape {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    '0' => out.push('\0'),
                    'x' => {
                        let mut value = 0u32;
                        for _ in 0..2 {
                            match chars.next().and_then(|(_, h)| h.to_digit(16)) {
                                Some(digit) => value = value * 16 + digit,
                                None => {
                                    return Err(LiteralError::at(
                                        at,
                                        "`\\x` takes exactly two hexadecimal digits",
                                    ))
                                }
                            }
                        }
                        match char::from_u32(value).filter(|_| value <= 0x7F) {
                            Some(ch) => out.push(ch),
                            None => {
                                return Err(LiteralError::at(
                                    at,
                                    "`\\x` escapes go up to `\\x7F`; use `\\u{…}` above",
                                ))
                            }
                        }
                    }
                    'u' => out.push(unicode_escape(&mut chars, at)?),
                    '\n' => skip_continuation(&mut chars),
                    '\r' if chars.peek().map(|&(_, n)| n) == Some('\n') => {
                        chars.next();
                        skip_continuation(&mut chars);
                    }
                    other => {
                        return Err(LiteralError::at(
                            at,
                            format!("unknown escape `\\{}`", other.escape_debug()),
                        ))
                    }
                }
            }
            '\r' => {
                if chars.peek().map(|&(_, n)| n) == Some('\n') {
                    // A CRLF line break inside a string reads as `\n`, as rustc normalizes it.
                    continue;
                }
                return Err(LiteralError::at(at, "bare carriage return in a string; write `\\r`"));
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

fn skip_continuation(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>) {
    while matches!(chars.peek(), Some((_, ' ' | '\t' | '\n' | '\r'))) {
        chars.next();
    }
}

/// Reads `{XXXX}` after `\u`; `at` is the backslash's offset.
fn unicode_escape(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    at: usize,
) -> Result<char, LiteralError> {
    let malformed = || LiteralError::at(at, "a unicode escape reads `\\u{…}` with 1 to 6 hex digits");
    if chars.next().map(|(_, c)| c) != Some('{') {
        return Err(malformed());
    }
    let mut value: u32 = 0;
    let mut digits = 0;
    loop {
        match chars.next().map(|(_, c)| c) {
            Some('}') => break,
            Some('_') if digits > 0 => {}
            Some(c) => match c.to_digit(16) {
                Some(digit) if digits < 6 => {
                    digits += 1;
                    value = value * 16 + digit;
                }
                _ => return Err(malformed()),
            },
            None => return Err(malformed()),
        }
    }
    if digits == 0 {
        return Err(malformed());
    }
    char::from_u32(value).ok_or_else(|| {
        let reason = if (0xD800..=0xDFFF).contains(&value) { "is a surrogate" } else { "is above 10FFFF" };
        LiteralError::at(
            at,
            format!("invalid unicode escape `\\u{{{value:X}}}`: {reason}, not a Unicode scalar value"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(text: &str) -> Result<TokenKind<(), Never>, LiteralError> {
        parse_literal(text)
    }

    #[test]
    fn integers() {
        assert_eq!(lit("42"), Ok(TokenKind::Int(42)));
        assert_eq!(lit("1_000_000"), Ok(TokenKind::Int(1_000_000)));
        assert_eq!(lit("9223372036854775808"), Ok(TokenKind::Int(1 << 63)));
        assert_eq!(lit("0x2A"), Ok(TokenKind::Int(42)));
        assert_eq!(lit("0o52"), Ok(TokenKind::Int(42)));
        assert_eq!(lit("0b10_1010"), Ok(TokenKind::Int(42)));
        assert_eq!(lit("340282366920938463463374607431768211455"), Ok(TokenKind::Int(u128::MAX)));
        assert!(lit("340282366920938463463374607431768211456").unwrap_err().message.contains("too large"));
        assert_eq!(lit("5i64").unwrap_err().offset, 1);
        assert!(lit("0b102").unwrap_err().message.contains("invalid digit `2`"));
        assert!(lit("0x").unwrap_err().message.contains("no digits"));
    }

    #[test]
    fn floats() {
        assert_eq!(lit("2.5"), Ok(TokenKind::Float(2.5)));
        assert_eq!(lit("2."), Ok(TokenKind::Float(2.0)));
        assert_eq!(lit("1e-5"), Ok(TokenKind::Float(1e-5)));
        assert_eq!(lit("1.0e+10"), Ok(TokenKind::Float(1.0e10)));
        assert_eq!(lit("1_000.5"), Ok(TokenKind::Float(1000.5)));
        assert_eq!(lit("1e-99999"), Ok(TokenKind::Float(0.0)));
        assert!(lit("1e400").unwrap_err().message.contains("out of range"));
        assert!(lit("1e").unwrap_err().message.contains("exponent"));
        assert!(lit("2.5f32").unwrap_err().message.contains("suffix `f32`"));
    }

    #[test]
    fn strings() {
        let s = |text| match lit(text) {
            Ok(TokenKind::Str(s)) => Ok(s),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(s(r#""a\n\r\t\\\"\'\0z""#).unwrap(), "a\n\r\t\\\"'\0z".to_string());
        assert_eq!(s(r#""\u{1F600}\u{4_1}\x41""#).unwrap(), "😀AA");
        assert_eq!(s("\"héllo 世界\"").unwrap(), "héllo 世界");
        assert_eq!(s("\"a\\\n    b\"").unwrap(), "ab");
        assert_eq!(s("\"a\r\nb\"").unwrap(), "a\nb");
        assert!(s("\"a\rb\"").unwrap_err().message.contains("carriage return"));
        let surrogate = s(r#""\u{D800}""#).unwrap_err();
        assert!(surrogate.message.contains("surrogate"), "{surrogate:?}");
        assert_eq!(surrogate.offset, 1);
        assert!(s(r#""\u{110000}""#).unwrap_err().message.contains("10FFFF"));
        assert!(s(r#""\u{1234567}""#).is_err());
        assert!(s(r#""\u{}""#).is_err());
        assert!(s(r#""\u12""#).is_err());
        assert!(s(r#""\x80""#).is_err());
        assert!(s(r#""\q""#).unwrap_err().message.contains("unknown escape `\\q`"));
        assert!(s("\"").is_err());
        assert!(s("\"abc\\\"").is_err());
    }

    #[test]
    fn rejected_literals() {
        assert!(lit("'a'").unwrap_err().message.contains("character"));
        assert!(lit("b\"x\"").unwrap_err().message.contains("raw"));
        assert!(lit("r#\"x\"#").is_err());
        assert!(lit("").is_err());
    }
}
