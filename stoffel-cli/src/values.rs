//! Command-line arguments as VM values, read with the assembler's own literal syntax.
//!
//! | written                      | value                                               |
//! |------------------------------|-----------------------------------------------------|
//! | `42` `-7` `0xFF` `1_000`     | int (must fit in 64 bits)                           |
//! | `2.5` `-0.5` `1e-5`          | float                                               |
//! | `true` `false`               | bool                                                |
//! | `()`                         | unit                                                |
//! | `"text"`                     | string, escapes as in the assembler (`\n`, `\u{…}`) |
//! | any other word               | that word as a string                               |
//!
//! So a string that looks like a number or a keyword is quoted: `'"42"'`, `'"true"'` in a
//! shell. A word that starts like a number (a digit, or a sign or `.` and a digit) must be
//! one: `4O` is an error, not a string, since it is most likely a typo.

use stoffel::Value;
use stoffel_asm::{Never, TokenKind};

/// Reads one argument.
///
/// # Errors
/// A message saying why a number-like word or a quoted string is malformed.
pub fn parse(word: &str) -> Result<Value, String> {
    match word {
        "()" => return Ok(Value::Unit),
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        _ => {}
    }
    if word.starts_with('"') {
        return match literal(word)? {
            TokenKind::Str(text) => Ok(Value::from(text)),
            _ => Err(format!("`{word}` is not a string literal")),
        };
    }
    let (negative, magnitude) = match word.as_bytes().first() {
        Some(b'-') => (true, &word[1..]),
        Some(b'+') => (false, &word[1..]),
        _ => (false, word),
    };
    if !starts_like_a_number(magnitude) {
        return Ok(Value::from(word));
    }
    let not_a_number = |reason: String| format!("`{word}` is not a number: {reason}");
    if magnitude.starts_with('.') {
        return Err(not_a_number(format!("write a digit before the point (`0{magnitude}`)")));
    }
    match literal(magnitude).map_err(not_a_number)? {
        TokenKind::Int(value) => {
            let value = i128::try_from(value).ok().map(|value| if negative { -value } else { value });
            match value.and_then(|value| i64::try_from(value).ok()) {
                Some(value) => Ok(Value::Int(value)),
                None => Err(format!("`{word}` does not fit in a 64-bit int")),
            }
        }
        TokenKind::Float(value) => Ok(Value::Float(if negative { -value } else { value })),
        _ => Err(not_a_number("not a number literal".into())),
    }
}

/// Whether `text` starts with a digit, or a point and a digit.
fn starts_like_a_number(text: &str) -> bool {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) if c.is_ascii_digit() => true,
        Some('.') => chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// One literal, as the assembler reads it.
fn literal(text: &str) -> Result<TokenKind<(), Never>, String> {
    stoffel_asm::token::parse_literal(text).map_err(|error| error.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(word: &str) -> Value {
        parse(word).unwrap_or_else(|error| panic!("{word}: {error}"))
    }

    #[test]
    fn ints() {
        assert_eq!(ok("42"), Value::Int(42));
        assert_eq!(ok("-7"), Value::Int(-7));
        assert_eq!(ok("+7"), Value::Int(7));
        assert_eq!(ok("1_000_000"), Value::Int(1_000_000));
        assert_eq!(ok("0xFF"), Value::Int(255));
        assert_eq!(ok("-0b101"), Value::Int(-5));
        assert_eq!(ok("9223372036854775807"), Value::Int(i64::MAX));
        assert_eq!(ok("-9223372036854775808"), Value::Int(i64::MIN));
        assert_eq!(
            parse("9223372036854775808").unwrap_err(),
            "`9223372036854775808` does not fit in a 64-bit int"
        );
    }

    #[test]
    fn floats() {
        assert_eq!(ok("2.5"), Value::Float(2.5));
        assert_eq!(ok("-0.5"), Value::Float(-0.5));
        assert_eq!(ok("1e-5"), Value::Float(1e-5));
        assert_eq!(ok("1.0"), Value::Float(1.0));
        assert_eq!(ok("2."), Value::Float(2.0));
    }

    #[test]
    fn bools_unit_and_strings() {
        assert_eq!(ok("true"), Value::Bool(true));
        assert_eq!(ok("false"), Value::Bool(false));
        assert_eq!(ok("()"), Value::Unit);
        assert_eq!(ok("hello"), Value::from("hello"));
        assert_eq!(ok("hello world"), Value::from("hello world"));
        assert_eq!(ok(""), Value::from(""));
        assert_eq!(ok("-"), Value::from("-"));
        assert_eq!(ok("-x"), Value::from("-x"));
        assert_eq!(ok("inf"), Value::from("inf"));
    }

    #[test]
    fn quoted_strings_keep_what_looks_like_a_number_or_keyword() {
        assert_eq!(ok("\"42\""), Value::from("42"));
        assert_eq!(ok("\"true\""), Value::from("true"));
        assert_eq!(ok("\"()\""), Value::from("()"));
        assert_eq!(ok("\"\""), Value::from(""));
        assert_eq!(ok(r#""a\tb\u{e9}""#), Value::from("a\tb\u{e9}"));
        assert_eq!(parse("\"open").unwrap_err(), "unterminated string");
        assert_eq!(parse(r#""a\qb""#).unwrap_err(), "unknown escape `\\q`");
    }

    #[test]
    fn number_like_words_must_be_numbers() {
        assert_eq!(
            parse("4O").unwrap_err(),
            "`4O` is not a number: literal suffix `O` is not supported; write the plain number"
        );
        assert!(parse("1.2.3").is_err());
        assert!(parse("-1x").is_err());
        assert_eq!(parse(".5").unwrap_err(), "`.5` is not a number: write a digit before the point (`0.5`)");
    }
}
