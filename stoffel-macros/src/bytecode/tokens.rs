//! The macro's input as the shared assembler reads it: a `proc_macro2::TokenStream` converted
//! to `stoffel_asm` tokens spanned by `Span`, brace groups carrying their Rust tokens.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use stoffel_asm::token::parse_literal;
use stoffel_asm::{Group, Token, TokenKind};

/// One token of the macro's input.
pub(crate) type AsmToken = Token<Span, TokenStream>;

/// Converts the tokens inside `bytecode! { … }`.
///
/// Identifiers lose a raw `r#` prefix; literals are read by the assembler's own rules
/// (`parse_literal`), a literal it rejects (`'a'`, `1u8`) becoming [`TokenKind::Invalid`] so that
/// it is reported only where the assembler reads it, not inside a Rust expression; an invisible
/// group (what a `macro_rules!` fragment arrives as) is flattened; every brace group also keeps
/// its contents as Rust tokens, for `{expr}` immediates and `CALL {path}`.
pub(crate) fn convert(stream: TokenStream) -> Vec<AsmToken> {
    let mut tokens = Vec::new();
    push_stream(stream, &mut tokens);
    tokens
}

fn push_stream(stream: TokenStream, tokens: &mut Vec<AsmToken>) {
    for tree in stream {
        match tree {
            TokenTree::Ident(ident) => {
                let text = ident.to_string();
                let text = text.strip_prefix("r#").map(str::to_string).unwrap_or(text);
                tokens.push(Token::new(TokenKind::Ident(text), ident.span()));
            }
            TokenTree::Punct(punct) => {
                tokens.push(Token::new(TokenKind::Punct(punct.as_char()), punct.span()))
            }
            TokenTree::Literal(literal) => {
                let span = literal.span();
                let text = literal.to_string();
                // A literal built by another macro may carry its sign (`Literal::i32_suffixed(-1)`);
                // the assembler reads the sign as a separate token.
                let unsigned = match text.strip_prefix('-') {
                    Some(rest) => {
                        tokens.push(Token::new(TokenKind::Punct('-'), span));
                        rest
                    }
                    None => &text,
                };
                let kind = parse_literal(unsigned).unwrap_or_else(|error| TokenKind::Invalid {
                    text: unsigned.to_string(),
                    message: error.message,
                });
                tokens.push(Token::new(kind, span));
            }
            TokenTree::Group(group) => {
                let delimiter = match group.delimiter() {
                    Delimiter::Parenthesis => stoffel_asm::Delimiter::Paren,
                    Delimiter::Bracket => stoffel_asm::Delimiter::Bracket,
                    Delimiter::Brace => stoffel_asm::Delimiter::Brace,
                    Delimiter::None => {
                        push_stream(group.stream(), tokens);
                        continue;
                    }
                };
                let host = (delimiter == stoffel_asm::Delimiter::Brace).then(|| group.stream());
                let inner = convert(group.stream());
                tokens.push(Token::new(
                    TokenKind::Group(Group {
                        delimiter,
                        tokens: inner,
                        close_span: group.span_close(),
                        host,
                    }),
                    group.span(),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn kinds(stream: TokenStream) -> Vec<String> {
        convert(stream)
            .iter()
            .map(|token| match &token.kind {
                TokenKind::Group(group) => {
                    let inner: Vec<String> = group.tokens.iter().map(Token::describe).collect();
                    let host = group.host.as_ref().map(ToString::to_string);
                    format!(
                        "{}{}{} host={host:?}",
                        group.delimiter.open(),
                        inner.join(" "),
                        group.delimiter.close()
                    )
                }
                _ => token.describe(),
            })
            .collect()
    }

    #[test]
    fn literals_identifiers_and_punctuation() {
        assert_eq!(
            kinds(quote!(LDI r#r0, -7 ; 2.5 "a\tb" true ())),
            [
                "identifier `LDI`",
                "identifier `r0`",
                "`,`",
                "`-`",
                "integer `7`",
                "`;`",
                "float `2.5`",
                "string `\"a\\tb\"`",
                "identifier `true`",
                "() host=None",
            ]
        );
    }

    #[test]
    fn rejected_literals_become_invalid_tokens() {
        let tokens = convert(quote!('a' 1u8));
        assert!(matches!(&tokens[0].kind, TokenKind::Invalid { text, .. } if text == "'a'"));
        assert!(
            matches!(&tokens[1].kind, TokenKind::Invalid { message, .. } if message.contains("suffix `u8`"))
        );
    }

    #[test]
    fn brace_groups_keep_their_rust_tokens() {
        assert_eq!(
            kinds(quote!({ limit * 2 })),
            ["{identifier `limit` `*` integer `2`} host=Some(\"limit * 2\")"]
        );
        assert_eq!(kinds(quote!([sp - 1])), ["[identifier `sp` `-` integer `1`] host=None"]);
    }

    #[test]
    fn signed_literals_and_invisible_groups_are_split_and_flattened() {
        let negative = TokenTree::Literal(proc_macro2::Literal::i32_unsuffixed(-5));
        let invisible = proc_macro2::Group::new(Delimiter::None, quote!(r1, #negative));
        let stream: TokenStream = [TokenTree::Group(invisible)].into_iter().collect();
        assert_eq!(kinds(stream), ["identifier `r1`", "`,`", "`-`", "integer `5`"]);
    }
}
