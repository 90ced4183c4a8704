//! The error collector every macro shares: phases push errors and go on, `check` reports them
//! all at once (as serde_derive's `Ctxt`).

use std::cell::RefCell;
use std::fmt::Display;

use proc_macro2::Span;
use quote::ToTokens;

/// Collects the errors of one macro invocation.
///
/// Dropping it without calling [`Diagnostics::check`] panics: an error found and never reported
/// would let a broken invocation compile.
pub(crate) struct Diagnostics {
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Diagnostics {
    pub(crate) fn new() -> Diagnostics {
        Diagnostics { errors: RefCell::new(Some(Vec::new())) }
    }

    /// Records an error pointing at `span`.
    pub(crate) fn error(&self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records an error pointing at all of `tokens` (first to last token).
    pub(crate) fn error_spanned_by(&self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// Records an error that is already a `syn::Error` (e.g. from a failed parse).
    pub(crate) fn push(&self, error: syn::Error) {
        self.errors.borrow_mut().as_mut().expect("diagnostics used after check").push(error);
    }

    /// Consumes the collector: `Ok` when nothing went wrong, else every error combined into one
    /// (each keeps its own span, so each is shown at its token).
    pub(crate) fn check(self) -> Result<(), syn::Error> {
        let errors = self.errors.borrow_mut().take().expect("diagnostics checked twice");
        let mut errors = errors.into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }
}

impl Drop for Diagnostics {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("Diagnostics dropped without check()");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_combines_every_error() {
        let diagnostics = Diagnostics::new();
        diagnostics.error(Span::call_site(), "first");
        diagnostics.error_spanned_by(quote::quote!(a b), "second");
        let messages: Vec<String> =
            diagnostics.check().unwrap_err().into_iter().map(|error| error.to_string()).collect();
        assert_eq!(messages, ["first", "second"]);
    }

    #[test]
    fn check_is_ok_without_errors() {
        assert!(Diagnostics::new().check().is_ok());
    }

    #[test]
    #[should_panic(expected = "without check")]
    fn dropping_unchecked_panics() {
        let _diagnostics = Diagnostics::new();
    }
}
