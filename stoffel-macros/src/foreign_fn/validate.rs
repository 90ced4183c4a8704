//! Validate phase of `#[foreign_fn]`: every signature the wrapper cannot call correctly is an
//! error that says why and points at the offending token. All are reported, none stops the rest.

use syn::visit::Visit;
use syn::{FnArg, GenericParam, Pat, Signature, Type, WherePredicate};

use super::parse::{self, ForeignFn, ParamKind};
use crate::diagnostic::Diagnostics;

/// Types that convert from a VM value: behind a reference they are a mistake, not a foreign
/// object (`&i64` would look for a foreign object holding an `i64`).
const CONVERTED_TYPES: &[&str] = &[
    "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize", "f32", "f64",
    "bool", "char", "String", "Str", "Option", "Vec",
];

/// Records every reason `function` cannot be exposed.
pub(crate) fn validate(function: &ForeignFn, diagnostics: &Diagnostics) {
    validate_name(function, diagnostics);
    validate_signature(&function.function.sig, diagnostics);
    validate_params(function, diagnostics);
}

fn validate_name(function: &ForeignFn, diagnostics: &Diagnostics) {
    let Some(name) = &function.options.name else {
        return;
    };
    let value = name.value();
    if value.is_empty() {
        diagnostics.error(name.span(), "the VM name cannot be empty");
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        diagnostics.error(name.span(), "the VM name cannot contain whitespace or control characters");
    }
}

fn validate_signature(sig: &Signature, diagnostics: &Diagnostics) {
    if let Some(token) = &sig.asyncness {
        diagnostics.error_spanned_by(
            token,
            "`#[foreign_fn]` cannot expose an `async fn`: the VM calls foreign functions synchronously; \
             drive the future to completion inside a plain `fn`",
        );
    }
    if let Some(token) = &sig.unsafety {
        diagnostics.error_spanned_by(
            token,
            "`#[foreign_fn]` cannot expose an `unsafe fn`: VM programs cannot uphold its safety contract; \
             expose a safe `fn` that checks the contract and calls it",
        );
    }
    if let Some(abi) = &sig.abi {
        diagnostics.error_spanned_by(
            abi,
            "`#[foreign_fn]` cannot expose an `extern` function: a panic would abort the process instead of \
             becoming a VM error; remove the ABI, or expose a plain `fn` that calls this one",
        );
    }
    if let Some(variadic) = &sig.variadic {
        diagnostics.error_spanned_by(
            variadic,
            "`#[foreign_fn]` cannot expose a C-variadic function: take the remaining arguments as a final `&[Value]`",
        );
    }
    for param in &sig.generics.params {
        match param {
            // Lifetimes are inferred at the call, so they are supported.
            GenericParam::Lifetime(_) => {}
            GenericParam::Type(ty) => diagnostics.error_spanned_by(
                &ty.ident,
                format!(
                    "`#[foreign_fn]` cannot expose a generic function: the VM needs one concrete type per parameter; \
                     expose one `#[foreign_fn]` per type, each calling the generic `{}`",
                    sig.ident
                ),
            ),
            GenericParam::Const(constant) => diagnostics.error_spanned_by(
                constant,
                "`#[foreign_fn]` cannot expose a function with const generics: the VM needs one concrete function; \
                 expose a wrapper that fixes the constant",
            ),
        }
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        for predicate in &where_clause.predicates {
            if !matches!(predicate, WherePredicate::Lifetime(_)) {
                diagnostics.error_spanned_by(
                    predicate,
                    "`#[foreign_fn]` supports lifetime bounds only in a `where` clause",
                );
            }
        }
    }
}

fn validate_params(function: &ForeignFn, diagnostics: &Diagnostics) {
    let last = function.params.len().saturating_sub(1);
    for (index, param) in function.params.iter().enumerate() {
        if let FnArg::Typed(typed) = &param.arg {
            if let Some(attr) = typed.attrs.first() {
                diagnostics
                    .error_spanned_by(attr, "`#[foreign_fn]` does not support attributes on parameters");
            }
            validate_pattern(&typed.pat, diagnostics);
            let mut finder = ImplTraitFinder { found: None };
            finder.visit_type(&typed.ty);
            if let Some(impl_trait) = finder.found {
                diagnostics.error_spanned_by(
                    impl_trait,
                    "`#[foreign_fn]` cannot take an `impl Trait` parameter: it is generic, and the VM needs one \
                     concrete type per parameter; name the type",
                );
                continue;
            }
        }
        let ty = param.ty();
        match &param.kind {
            ParamKind::Receiver => diagnostics.error_spanned_by(
                &param.arg,
                "`#[foreign_fn]` cannot expose a method: `self` is no VM value; write a free function that \
                 takes the object as `&T` or `&mut T` (a foreign object)",
            ),
            ParamKind::Context { by_reference: false } => diagnostics
                .error_spanned_by(ty, "take the context by reference: `ctx: &mut ForeignFunctionContext`"),
            ParamKind::Context { by_reference: true } if index != 0 => diagnostics.error_spanned_by(
                ty,
                "the `&mut ForeignFunctionContext` parameter must be the first parameter",
            ),
            ParamKind::Rest { mutable: true, .. } => diagnostics.error_spanned_by(
                ty,
                "the arguments are read-only: take the remaining arguments as `&[Value]`",
            ),
            ParamKind::Rest { .. } if index != last => diagnostics.error_spanned_by(
                ty,
                "a slice parameter takes all the remaining arguments, so it must be the last parameter",
            ),
            ParamKind::Object { ty: object, mutable } => validate_object(ty, object, *mutable, diagnostics),
            _ => {}
        }
    }
}

/// A parameter is a plain name (`a`, `mut a`) or `_`: the wrapper passes arguments
/// positionally, and a destructuring pattern would hide what each argument is.
fn validate_pattern(pat: &Pat, diagnostics: &Diagnostics) {
    match pat {
        Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {}
        Pat::Wild(_) => {}
        other => diagnostics.error_spanned_by(
            other,
            "`#[foreign_fn]` parameters must be plain names: each one receives one VM argument; \
             take the value whole and destructure it in the body",
        ),
    }
}

/// `&T` / `&mut T` is a foreign object, unless `T` is a type that converts by value.
fn validate_object(written: Option<&Type>, object: &Type, mutable: bool, diagnostics: &Diagnostics) {
    let message = if parse::is_ident(object, "str") {
        "a VM string is immutable: take `&str` or `String`".to_owned()
    } else if parse::ends_with(object, "Value") {
        "the arguments are read-only: take `Value` (objects and arrays still alias) or `&Value`".to_owned()
    } else if let Some(name) = CONVERTED_TYPES.iter().find(|name| parse::ends_with(object, name)) {
        let reference = if mutable { "&mut " } else { "&" };
        let shown = parse::display_type(object);
        format!(
            "`{reference}{shown}` would be a foreign object holding a `{name}`; take `{shown}` by value \
             (it converts from a VM value{})",
            if *name == "String" { ", or take `&str`" } else { "" }
        )
    } else {
        return;
    };
    diagnostics.error_spanned_by(written, message);
}

/// Finds the first `impl Trait` anywhere in a type (`Vec<impl Into<i64>>` too).
struct ImplTraitFinder<'ast> {
    found: Option<&'ast syn::TypeImplTrait>,
}

impl<'ast> Visit<'ast> for ImplTraitFinder<'ast> {
    fn visit_type_impl_trait(&mut self, impl_trait: &'ast syn::TypeImplTrait) {
        self.found.get_or_insert(impl_trait);
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::*;

    /// The validation messages for `item` annotated with `#[foreign_fn(attr)]`.
    fn errors(attr: TokenStream, item: TokenStream) -> Vec<String> {
        let diagnostics = Diagnostics::new();
        if let Some(function) = parse::parse(attr, item, &diagnostics) {
            validate(&function, &diagnostics);
        }
        match diagnostics.check() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|error| error.to_string()).collect(),
        }
    }

    fn first_error(item: TokenStream) -> String {
        errors(TokenStream::new(), item).into_iter().next().expect("an error")
    }

    #[test]
    fn supported_signatures_pass() {
        let supported = [
            quote!(
                fn f() {}
            ),
            quote!(
                pub fn add(a: i64, b: i64) -> i64 {
                    a + b
                }
            ),
            quote!(
                fn f(ctx: &mut ForeignFunctionContext<'_>, s: &str, o: Option<i64>, rest: &[Value]) {}
            ),
            quote!(
                fn f<'a>(s: &'a str) -> &'a str
                where
                    'a: 'a,
                {
                    s
                }
            ),
            quote!(
                fn f(c: &Counter, d: &mut Other, e: Arc<Mutex<Counter>>, v: &Value, _: i64, mut m: i64) {}
            ),
            quote!(
                const fn f(rest: &[i64]) -> impl IntoValue {
                    1
                }
            ),
            quote!(
                fn f() -> Result<i64, String> {
                    Ok(1)
                }
            ),
        ];
        for item in supported {
            assert_eq!(errors(TokenStream::new(), item.clone()), Vec::<String>::new(), "{item}");
        }
    }

    #[test]
    fn unsupported_signatures_say_why() {
        assert!(first_error(quote!(
            fn f<T>(t: T) {}
        ))
        .contains("generic function"));
        assert!(first_error(quote!(
            fn f<const N: usize>() {}
        ))
        .contains("const generics"));
        assert!(first_error(quote!(
            fn f()
            where
                i64: Copy,
            {
            }
        ))
        .contains("lifetime bounds only"));
        assert!(first_error(quote!(
            fn f(&self) {}
        ))
        .contains("cannot expose a method"));
        assert!(first_error(quote!(
            async fn f() {}
        ))
        .contains("`async fn`"));
        assert!(first_error(quote!(
            unsafe fn f() {}
        ))
        .contains("`unsafe fn`"));
        assert!(first_error(quote!(
            extern "C" fn f() {}
        ))
        .contains("`extern` function"));
        assert!(first_error(quote!(
            unsafe extern "C" fn f(a: i32, ...) {}
        ))
        .contains("`unsafe fn`"));
        assert!(first_error(quote!(
            fn f(a: impl Into<i64>) {}
        ))
        .contains("`impl Trait`"));
        assert!(first_error(quote!(
            fn f(a: Vec<impl Into<i64>>) {}
        ))
        .contains("`impl Trait`"));
        assert!(first_error(quote!(
            fn f((a, b): (i64, i64)) {}
        ))
        .contains("plain names"));
        assert!(first_error(quote!(
            fn f(ref a: i64) {}
        ))
        .contains("plain names"));
        assert!(first_error(quote!(
            fn f(#[cfg(x)] a: i64) {}
        ))
        .contains("attributes on parameters"));
        assert!(first_error(quote!(
            fn f(a: i64, ctx: &mut ForeignFunctionContext) {}
        ))
        .contains("first parameter"));
        assert!(first_error(quote!(
            fn f(ctx: ForeignFunctionContext) {}
        ))
        .contains("by reference"));
        assert!(first_error(quote!(
            fn f(rest: &[Value], a: i64) {}
        ))
        .contains("last parameter"));
        assert!(first_error(quote!(
            fn f(rest: &mut [Value]) {}
        ))
        .contains("read-only"));
        assert!(first_error(quote!(
            fn f(v: &mut Value) {}
        ))
        .contains("read-only"));
        assert!(first_error(quote!(
            fn f(s: &mut str) {}
        ))
        .contains("immutable"));
        assert_eq!(
            first_error(quote!(fn f(a: &i64) {})),
            "`&i64` would be a foreign object holding a `i64`; take `i64` by value (it converts from a VM value)"
        );
        assert_eq!(
            first_error(quote!(fn f(a: &mut Vec<i64>) {})),
            "`&mut Vec<i64>` would be a foreign object holding a `Vec`; take `Vec<i64>` by value (it converts from a VM value)"
        );
        assert!(first_error(quote!(
            fn f(a: &String) {}
        ))
        .contains("or take `&str`"));
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(
            errors(
                quote!(name = ""),
                quote!(
                    fn f() {}
                )
            ),
            ["the VM name cannot be empty"]
        );
        assert_eq!(
            errors(
                quote!(name = "two words"),
                quote!(
                    fn f() {}
                )
            ),
            ["the VM name cannot contain whitespace or control characters"]
        );
        assert!(errors(
            quote!(name = "math.add"),
            quote!(
                fn f() {}
            )
        )
        .is_empty());
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let messages = errors(
            quote!(nmae = "x"),
            quote!(
                async fn f<T>(&self, (a, b): (i64, i64), rest: &[Value], ctx: &mut ForeignFunctionContext) {}
            ),
        );
        assert_eq!(messages.len(), 7, "{messages:#?}");
    }
}
