//! Parse phase of `#[foreign_fn]`: the attribute's options and the function's parameters, read
//! into a typed AST that keeps the user's tokens (and so their spans). Only what cannot be read
//! at all is an error here; `validate` decides what is supported.

use proc_macro2::TokenStream;
use syn::punctuated::Punctuated;
use syn::{Expr, FnArg, GenericArgument, Ident, ItemFn, Lit, LitStr, Meta, PathArguments, Token, Type};

use crate::diagnostic::Diagnostics;

/// An annotated function: the item exactly as written, the options, the classified parameters.
pub(crate) struct ForeignFn {
    /// Re-emitted untouched: the function stays callable from Rust.
    pub(crate) function: ItemFn,
    pub(crate) options: Options,
    pub(crate) params: Vec<Param>,
}

/// `#[foreign_fn(name = "vm_name")]`.
#[derive(Default)]
pub(crate) struct Options {
    /// The name the VM calls the function by; the Rust name when absent.
    pub(crate) name: Option<LitStr>,
}

/// One parameter of the function, as written, and what it stands for.
pub(crate) struct Param {
    pub(crate) arg: FnArg,
    pub(crate) kind: ParamKind,
}

/// What a parameter receives, decided by its syntax alone (a proc macro sees no types):
/// `&str`, `&Value` and `&[..]` are special-cased, every other reference is a foreign object.
pub(crate) enum ParamKind {
    /// `self`, `&self`, `&mut self`: not supported.
    Receiver,
    /// A `ForeignFunctionContext` (any path ending so): VM access, consumes no argument.
    /// `by_reference` is false for one taken by value, which validation rejects.
    Context { by_reference: bool },
    /// Any type converted with `FromValue` (including `&str`). `optional` when it is spelled
    /// `Option<..>`: the caller may leave it out if no required parameter follows.
    Converted { ty: Type, optional: bool },
    /// `&Value`: the argument itself, borrowed without a clone.
    Borrowed,
    /// `&[Value]` (`raw`) or `&[T]`: the remaining arguments, each converted to `T`.
    Rest { elem: Type, raw: bool, mutable: bool },
    /// `&T` / `&mut T`: a foreign object of type `T`, locked for the duration of the call.
    Object { ty: Type, mutable: bool },
    /// `Arc<Mutex<T>>`: the foreign object's shared handle, not locked.
    SharedObject { ty: Type },
}

impl ParamKind {
    /// Whether the parameter consumes a VM argument (all but the context and `self`).
    pub(crate) fn takes_argument(&self) -> bool {
        !matches!(self, ParamKind::Receiver | ParamKind::Context { .. })
    }
}

impl Param {
    /// The type as written (`None` for a receiver).
    pub(crate) fn ty(&self) -> Option<&Type> {
        match &self.arg {
            FnArg::Typed(typed) => Some(&typed.ty),
            FnArg::Receiver(_) => None,
        }
    }
}

/// Reads the attribute arguments and the item. `None` when the item is not a function; the
/// error is then recorded and the caller re-emits the item as it was.
pub(crate) fn parse(attr: TokenStream, item: TokenStream, diagnostics: &Diagnostics) -> Option<ForeignFn> {
    let options = parse_options(attr, diagnostics);
    let function = match syn::parse2::<syn::Item>(item) {
        Ok(syn::Item::Fn(function)) => function,
        Ok(other) => {
            diagnostics.error_spanned_by(
                other,
                "`#[foreign_fn]` applies to free functions: write `fn name(..) { .. }` and register it with `foreign!(name)`",
            );
            return None;
        }
        Err(error) => {
            diagnostics.push(error);
            return None;
        }
    };
    let params =
        function.sig.inputs.iter().map(|arg| Param { arg: arg.clone(), kind: classify(arg) }).collect();
    Some(ForeignFn { function, options, params })
}

/// Reads `name = "..."`, reporting every malformed or unknown option.
pub(crate) fn parse_options(attr: TokenStream, diagnostics: &Diagnostics) -> Options {
    let mut options = Options::default();
    let metas = match syn::parse::Parser::parse2(Punctuated::<Meta, Token![,]>::parse_terminated, attr) {
        Ok(metas) => metas,
        Err(error) => {
            diagnostics.push(error);
            return options;
        }
    };
    for meta in metas {
        if !meta.path().is_ident("name") {
            let option = meta.path();
            let shown =
                option.get_ident().map_or_else(|| quote::quote!(#option).to_string(), Ident::to_string);
            diagnostics.error_spanned_by(
                option,
                format!("unknown option `{shown}`: `#[foreign_fn]` accepts `name = \"vm_name\"`"),
            );
            continue;
        }
        let value = match meta {
            Meta::NameValue(name_value) => name_value.value,
            other => {
                diagnostics.error_spanned_by(other, "expected `name = \"vm_name\"`");
                continue;
            }
        };
        let Expr::Lit(syn::ExprLit { lit: Lit::Str(name), .. }) = value else {
            diagnostics.error_spanned_by(
                value,
                "the name must be a string literal: `#[foreign_fn(name = \"vm_name\")]`",
            );
            continue;
        };
        if options.name.is_some() {
            diagnostics.error(name.span(), "the option `name` is given twice");
            continue;
        }
        options.name = Some(name);
    }
    options
}

/// Decides what a parameter stands for from its syntax.
pub(crate) fn classify(arg: &FnArg) -> ParamKind {
    let ty = match arg {
        FnArg::Receiver(_) => return ParamKind::Receiver,
        FnArg::Typed(typed) => ungroup(&typed.ty),
    };
    match ty {
        Type::Reference(reference) => {
            let mutable = reference.mutability.is_some();
            let target = ungroup(&reference.elem);
            if ends_with(target, "ForeignFunctionContext") {
                return ParamKind::Context { by_reference: true };
            }
            if let Type::Slice(slice) = target {
                let elem = ungroup(&slice.elem);
                return ParamKind::Rest { elem: elem.clone(), raw: ends_with(elem, "Value"), mutable };
            }
            if !mutable && (is_ident(target, "str")) {
                return ParamKind::Converted { ty: ty.clone(), optional: false };
            }
            if !mutable && ends_with(target, "Value") {
                return ParamKind::Borrowed;
            }
            ParamKind::Object { ty: target.clone(), mutable }
        }
        _ if ends_with(ty, "ForeignFunctionContext") => ParamKind::Context { by_reference: false },
        _ => {
            if let Some(object) = arc_mutex_inner(ty) {
                return ParamKind::SharedObject { ty: object.clone() };
            }
            ParamKind::Converted { ty: ty.clone(), optional: generic_argument(ty, "Option").is_some() }
        }
    }
}

/// Looks through invisible groups (types passed through `macro_rules!`) and parentheses.
pub(crate) fn ungroup(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => ungroup(&group.elem),
        Type::Paren(paren) => ungroup(&paren.elem),
        other => other,
    }
}

/// The last path segment of a plain path type.
pub(crate) fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ungroup(ty) {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        _ => None,
    }
}

/// Whether `ty` is a path whose last segment is `name` (`Value`, `stoffel::Value`).
pub(crate) fn ends_with(ty: &Type, name: &str) -> bool {
    last_segment(ty).is_some_and(|segment| segment.ident == name)
}

/// Whether `ty` is exactly the single identifier `name` (`str`, `i64`).
pub(crate) fn is_ident(ty: &Type, name: &str) -> bool {
    match ungroup(ty) {
        Type::Path(path) => path.qself.is_none() && path.path.is_ident(name),
        _ => false,
    }
}

/// A type as a user writes it: `Vec<i64>`, `std::sync::Arc<Counter>`, `&'a str`.
pub(crate) fn display_type(ty: &Type) -> String {
    let spaced = quote::ToTokens::to_token_stream(ty).to_string();
    let mut shown = String::with_capacity(spaced.len());
    let mut chars = spaced.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let drop_space = c == ' '
            && (matches!(next, Some('<' | '>' | ',' | ':'))
                || shown.ends_with(['<', '&', '\'', ':'])
                || (shown.ends_with('>') && next == Some('>')));
        if !drop_space {
            shown.push(c);
        }
    }
    shown
}

/// `T` when `ty` is `Wrapper<T>` with a last segment named `wrapper`.
pub(crate) fn generic_argument<'t>(ty: &'t Type, wrapper: &str) -> Option<&'t Type> {
    let segment = last_segment(ty).filter(|segment| segment.ident == wrapper)?;
    let PathArguments::AngleBracketed(arguments) = &segment.arguments else {
        return None;
    };
    let mut types = arguments.args.iter().filter_map(|argument| match argument {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    match (types.next(), types.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// `T` when `ty` is spelled `Arc<Mutex<T>>` (any paths ending so).
pub(crate) fn arc_mutex_inner(ty: &Type) -> Option<&Type> {
    generic_argument(ty, "Arc").and_then(|inner| generic_argument(inner, "Mutex"))
}

#[cfg(test)]
mod tests {
    use quote::{quote, ToTokens};

    use super::*;

    fn kind_of(param: TokenStream) -> ParamKind {
        classify(&syn::parse2(param).unwrap())
    }

    fn tokens(ty: &Type) -> String {
        ty.to_token_stream().to_string()
    }

    #[test]
    fn values_convert_and_options_are_optional() {
        assert!(matches!(kind_of(quote!(a: i64)), ParamKind::Converted { optional: false, .. }));
        assert!(matches!(kind_of(quote!(s: &str)), ParamKind::Converted { optional: false, .. }));
        assert!(matches!(kind_of(quote!(s: &'a str)), ParamKind::Converted { optional: false, .. }));
        assert!(matches!(kind_of(quote!(v: Vec<i64>)), ParamKind::Converted { optional: false, .. }));
        assert!(matches!(kind_of(quote!(v: Value)), ParamKind::Converted { optional: false, .. }));
        assert!(matches!(kind_of(quote!(o: Option<i64>)), ParamKind::Converted { optional: true, .. }));
        assert!(matches!(
            kind_of(quote!(o: core::option::Option<&str>)),
            ParamKind::Converted { optional: true, .. }
        ));
    }

    #[test]
    fn references_are_special_cased_or_foreign_objects() {
        assert!(matches!(kind_of(quote!(v: &Value)), ParamKind::Borrowed));
        assert!(matches!(kind_of(quote!(v: &stoffel::Value)), ParamKind::Borrowed));
        match kind_of(quote!(rest: &[Value])) {
            ParamKind::Rest { raw: true, mutable: false, .. } => {}
            _ => panic!("&[Value] is the raw rest"),
        }
        match kind_of(quote!(rest: &[i64])) {
            ParamKind::Rest { raw: false, elem, .. } => assert_eq!(tokens(&elem), "i64"),
            _ => panic!("&[i64] is a typed rest"),
        }
        match kind_of(quote!(c: &mut Counter)) {
            ParamKind::Object { ty, mutable: true } => assert_eq!(tokens(&ty), "Counter"),
            _ => panic!("&mut Counter is a foreign object"),
        }
        assert!(matches!(kind_of(quote!(c: &Counter)), ParamKind::Object { mutable: false, .. }));
        assert!(matches!(kind_of(quote!(c: &mut str)), ParamKind::Object { mutable: true, .. }));
        match kind_of(quote!(c: std::sync::Arc<std::sync::Mutex<Counter>>)) {
            ParamKind::SharedObject { ty } => assert_eq!(tokens(&ty), "Counter"),
            _ => panic!("Arc<Mutex<T>> is a shared foreign object"),
        }
    }

    #[test]
    fn types_display_as_written() {
        let shown = |ty: TokenStream| display_type(&syn::parse2(ty).unwrap());
        assert_eq!(shown(quote!(Vec<i64>)), "Vec<i64>");
        assert_eq!(
            shown(quote!(std::collections::HashMap<String, Vec<i64>>)),
            "std::collections::HashMap<String, Vec<i64>>"
        );
        assert_eq!(shown(quote!(&'a mut str)), "&'a mut str");
        assert_eq!(shown(quote!(Option<Vec<i64>>)), "Option<Vec<i64>>");
    }

    #[test]
    fn contexts_and_receivers() {
        assert!(matches!(
            kind_of(quote!(ctx: &mut ForeignFunctionContext)),
            ParamKind::Context { by_reference: true }
        ));
        assert!(matches!(
            kind_of(quote!(ctx: &mut stoffel::ForeignFunctionContext<'_>)),
            ParamKind::Context { by_reference: true }
        ));
        assert!(matches!(
            kind_of(quote!(ctx: ForeignFunctionContext)),
            ParamKind::Context { by_reference: false }
        ));
        assert!(matches!(kind_of(quote!(&self)), ParamKind::Receiver));
        assert!(!ParamKind::Receiver.takes_argument());
        assert!(ParamKind::Borrowed.takes_argument());
    }

    #[test]
    fn options_read_the_name() {
        let diagnostics = Diagnostics::new();
        let options = parse_options(quote!(name = "vm_add"), &diagnostics);
        assert_eq!(options.name.unwrap().value(), "vm_add");
        assert!(parse_options(TokenStream::new(), &diagnostics).name.is_none());
        diagnostics.check().unwrap();
    }

    #[test]
    fn every_bad_option_is_reported() {
        let diagnostics = Diagnostics::new();
        let options =
            parse_options(quote!(name = add, rename = "x", name, name = "a", name = "b"), &diagnostics);
        assert_eq!(options.name.unwrap().value(), "a");
        let messages: Vec<String> =
            diagnostics.check().unwrap_err().into_iter().map(|e| e.to_string()).collect();
        assert_eq!(
            messages,
            [
                "the name must be a string literal: `#[foreign_fn(name = \"vm_name\")]`",
                "unknown option `rename`: `#[foreign_fn]` accepts `name = \"vm_name\"`",
                "expected `name = \"vm_name\"`",
                "the option `name` is given twice",
            ]
        );
    }

    #[test]
    fn only_functions_are_accepted() {
        let diagnostics = Diagnostics::new();
        assert!(parse(
            TokenStream::new(),
            quote!(
                struct S;
            ),
            &diagnostics
        )
        .is_none());
        assert!(diagnostics.check().is_err());

        let diagnostics = Diagnostics::new();
        let parsed = parse(
            TokenStream::new(),
            quote!(
                fn add(a: i64, b: i64) -> i64 {
                    a + b
                }
            ),
            &diagnostics,
        )
        .unwrap();
        assert_eq!(parsed.params.len(), 2);
        diagnostics.check().unwrap();
    }
}
