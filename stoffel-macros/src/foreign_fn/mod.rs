//! `#[foreign_fn]`: exposes an ordinary Rust function to the VM. Parse the options and the
//! signature, validate it (reporting every problem at once), then expand to the function plus
//! its companion module, or, on error, to the errors plus the function untouched.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;

use crate::diagnostic::Diagnostics;

/// The whole macro: `attr` is what stands in `#[foreign_fn(...)]`, `item` the function.
pub(crate) fn foreign_fn(attr: TokenStream, item: TokenStream) -> TokenStream {
    let diagnostics = Diagnostics::new();
    let function = parse::parse(attr, item.clone(), &diagnostics);
    if let Some(function) = &function {
        validate::validate(function, &diagnostics);
    }
    match diagnostics.check() {
        Ok(()) => expand::expand(function.as_ref().expect("a function parsed without errors")),
        Err(errors) => expand::fallback(function.as_ref(), item, errors.to_compile_error()),
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    #[test]
    fn errors_come_with_the_function_untouched() {
        let emitted = foreign_fn(
            quote!(nmae = "x"),
            quote!(
                async fn f() {}
            ),
        )
        .to_string();
        assert!(emitted.contains("compile_error ! { \"unknown option `nmae`"), "{emitted}");
        assert!(emitted.contains("`async fn`"), "{emitted}");
        assert!(emitted.contains("async fn f () { }"), "{emitted}");
    }

    #[test]
    fn anything_but_a_function_is_re_emitted_as_it_was() {
        let emitted = foreign_fn(
            TokenStream::new(),
            quote!(
                struct S;
            ),
        )
        .to_string();
        assert!(emitted.contains("applies to free functions"), "{emitted}");
        assert!(emitted.ends_with("struct S ;"), "{emitted}");
    }
}
