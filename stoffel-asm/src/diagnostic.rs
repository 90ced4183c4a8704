//! Diagnostics: one message at one span, generic over the span type, and the `line:column`
//! position the text front end uses.

use std::fmt;

/// One error, pointing at the token that caused it.
///
/// `S` is the span type of the front end: [`LineCol`] for the text assembler,
/// `proc_macro2::Span` for `bytecode!`. The macro turns each diagnostic into a `syn::Error`
/// at `span`; the text front end prints it with [`Display`](fmt::Display) as
/// `line:column: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic<S> {
    /// Where the mistake is.
    pub span: S,
    /// What is wrong, lower case, no final period: ``unknown instruction `ADDD` ``.
    pub message: String,
    /// A suggestion to fix it: ``did you mean `ADD`?``.
    pub help: Option<String>,
    /// Extra context that is not a fix.
    pub note: Option<String>,
}

impl<S> Diagnostic<S> {
    /// A diagnostic with a message and no help or note.
    pub fn new(span: S, message: impl Into<String>) -> Self {
        Diagnostic { span, message: message.into(), help: None, note: None }
    }

    /// Adds a suggestion.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// Converts the span, keeping the texts.
    pub fn map_span<T>(self, convert: impl FnOnce(S) -> T) -> Diagnostic<T> {
        Diagnostic { span: convert(self.span), message: self.message, help: self.help, note: self.note }
    }

    /// The message with its help and note appended, for front ends that show one string per
    /// span (such as a `syn::Error`): `message` then `help: …` and `note: …` on lines of their own.
    pub fn full_message(&self) -> String {
        let mut text = self.message.clone();
        if let Some(help) = &self.help {
            text.push_str("\n  help: ");
            text.push_str(help);
        }
        if let Some(note) = &self.note {
            text.push_str("\n  note: ");
            text.push_str(note);
        }
        text
    }
}

/// Renders `span: message`, then `help: …` and `note: …` on indented lines of their own.
///
/// With a [`LineCol`] span this reads `3:5: unknown instruction `ADDD``.
impl<S: fmt::Display> fmt::Display for Diagnostic<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.span, self.full_message())
    }
}

/// A position in assembler text: 1-based line and column, the column counted in characters
/// (Unicode scalar values, a tab counts as one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LineCol {
    /// The line, starting at 1.
    pub line: u32,
    /// The column, starting at 1.
    pub column: u32,
}

impl LineCol {
    /// The position of the first character of a text.
    pub const START: LineCol = LineCol { line: 1, column: 1 };

    /// A position from its line and column (both 1-based).
    pub fn new(line: u32, column: u32) -> Self {
        LineCol { line, column }
    }
}

/// Renders `line:column`.
impl fmt::Display for LineCol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_line_column_and_help() {
        let plain = Diagnostic::new(LineCol::new(3, 5), "unknown instruction `ADDD`");
        assert_eq!(plain.to_string(), "3:5: unknown instruction `ADDD`");
        let helped = plain.clone().with_help("did you mean `ADD`?");
        assert_eq!(helped.to_string(), "3:5: unknown instruction `ADDD`\n  help: did you mean `ADD`?");
        let noted = helped.with_note("mnemonics are upper case");
        assert!(noted.to_string().ends_with("\n  note: mnemonics are upper case"));
        assert_eq!(noted.map_span(|_| ()).span, ());
    }

    #[test]
    fn line_col_orders_by_line_then_column() {
        assert!(LineCol::new(1, 9) < LineCol::new(2, 1));
        assert!(LineCol::new(2, 1) < LineCol::new(2, 3));
        assert_eq!(LineCol::START.to_string(), "1:1");
    }
}
