//! Expand phase of `#[foreign_fn]`: the function untouched, a `#[doc(hidden)]` companion module
//! of the same name and visibility holding its descriptor (`NAME`, `MIN_ARITY`, `MAX_ARITY`,
//! `PARAMETER_TYPES`, `foreign_function()`), and the wrapper that converts the VM's arguments,
//! calls the function and converts its result.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Ident, ItemFn, ReturnType, Type};

use super::parse::{self, ForeignFn, ParamKind};

/// The annotated function plus its companion module and wrapper.
pub(crate) fn expand(function: &ForeignFn) -> TokenStream {
    let item = &function.function;
    let ident = &item.sig.ident;
    let arity = Arity::of(function);
    let companion = companion_module(item, &vm_name(function), arity.min, arity.max, Companion::Descriptor);
    let cfgs = cfg_attributes(item);
    let parameter_types = function.params.iter().filter_map(|param| parameter_type(&param.kind));
    let wrapper = wrapper(function, &arity);
    quote! {
        #item

        #companion

        // Written here rather than in the module: this scope sees the function and the types of
        // its signature even inside a function body, where the module's `super` would not.
        #(#cfgs)*
        #[allow(deprecated, dead_code, unused_qualifications, clippy::all, clippy::pedantic)]
        impl #ident::Descriptor {
            const PARAMETER_TYPES: &'static [&'static ::core::primitive::str] = &[#(#parameter_types),*];

            fn foreign_function() -> ::stoffel::ForeignFunction {
                #wrapper
            }
        }
    }
}

/// What is emitted when validation failed: the errors, the function untouched (so its own
/// body still type-checks) and, where a module may stand, a stand-in companion so that
/// `foreign!(name)` elsewhere adds no second error.
pub(crate) fn fallback(function: Option<&ForeignFn>, item: TokenStream, errors: TokenStream) -> TokenStream {
    let Some(function) = function else {
        return quote!(#errors #item);
    };
    // A receiver or `Self` means the function sits in an `impl` or a trait, where no module
    // may stand.
    let in_impl = function.params.iter().any(|param| matches!(param.kind, ParamKind::Receiver))
        || mentions_self(&function.function.sig);
    if in_impl {
        return quote!(#errors #item);
    }
    let companion =
        companion_module(&function.function, &vm_name(function), 0, usize::MAX, Companion::StandIn);
    if function.function.sig.variadic.is_some() {
        // Stable Rust rejects a C-variadic definition on its own; without the `...` the
        // function adds no errors of its own to ours.
        let mut without_variadic = function.function.clone();
        without_variadic.sig.variadic = None;
        return quote!(#errors #without_variadic #companion);
    }
    quote!(#errors #item #companion)
}

/// What the companion module's items delegate to.
enum Companion {
    /// The `impl Descriptor` written beside the function.
    Descriptor,
    /// Nothing: validation failed, and the module only keeps other code from erring too.
    StandIn,
}

/// The `#[doc(hidden)]` module named and scoped like the function.
fn companion_module(item: &ItemFn, name: &str, min: usize, max: usize, companion: Companion) -> TokenStream {
    let ident = &item.sig.ident;
    let vis = &item.vis;
    let cfgs = cfg_attributes(item);
    let (parameter_types, body) = match companion {
        Companion::Descriptor => {
            (quote!(Descriptor::PARAMETER_TYPES), quote!(Descriptor::foreign_function()))
        }
        Companion::StandIn => {
            (quote!(&[]), quote!(::stoffel::ForeignFunction::new(NAME, |_| ::core::unreachable!())))
        }
    };
    let doc_name = format!(" The name the VM calls `{ident}` by.");
    // Spelled, not computed: `usize::MAX` differs between targets.
    let max = if max == usize::MAX { quote!(::core::primitive::usize::MAX) } else { quote!(#max) };
    quote! {
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(
            dead_code,
            missing_docs,
            missing_debug_implementations,
            non_snake_case,
            unreachable_pub,
            clippy::all,
            clippy::pedantic
        )]
        #vis mod #ident {
            #[doc = #doc_name]
            pub const NAME: &::core::primitive::str = #name;
            /// The fewest arguments a call may pass: trailing `Option` parameters may be left out.
            pub const MIN_ARITY: ::core::primitive::usize = #min;
            /// The most arguments a call may pass; `usize::MAX` when a final slice takes the rest.
            pub const MAX_ARITY: ::core::primitive::usize = #max;
            /// The parameter type names, as `ForeignFunction::signature` shows them.
            pub const PARAMETER_TYPES: &[&::core::primitive::str] = #parameter_types;

            /// The foreign function to register: `vm.register_foreign(foreign!(name))`.
            pub fn foreign_function() -> ::stoffel::ForeignFunction {
                #body
            }

            /// Carries the wrapper, which is written in the function's own scope.
            pub struct Descriptor;
        }
    }
}

/// `MIN_ARITY` and `MAX_ARITY`: every argument up to the last required one is required; a
/// final slice lifts the maximum.
struct Arity {
    min: usize,
    max: usize,
}

impl Arity {
    fn of(function: &ForeignFn) -> Arity {
        let arguments: Vec<&ParamKind> =
            function.params.iter().map(|param| &param.kind).filter(|kind| kind.takes_argument()).collect();
        let required = |kind: &&ParamKind| {
            !matches!(kind, ParamKind::Converted { optional: true, .. } | ParamKind::Rest { .. })
        };
        let min = arguments.iter().rposition(required).map_or(0, |last| last + 1);
        let variadic = arguments.iter().any(|kind| matches!(kind, ParamKind::Rest { .. }));
        Arity { min, max: if variadic { usize::MAX } else { arguments.len() } }
    }
}

/// The name the VM calls the function by: the `name` option, else the Rust name (unraw).
fn vm_name(function: &ForeignFn) -> String {
    function
        .options
        .name
        .as_ref()
        .map_or_else(|| function.function.sig.ident.unraw().to_string(), |name| name.value())
}

/// The `#[cfg]`s of the function, repeated on everything generated beside it.
fn cfg_attributes(item: &ItemFn) -> Vec<&syn::Attribute> {
    item.attrs.iter().filter(|attr| attr.path().is_ident("cfg")).collect()
}

/// The entry of `PARAMETER_TYPES` for one parameter (`None`: it takes no argument).
fn parameter_type(kind: &ParamKind) -> Option<TokenStream> {
    Some(match kind {
        ParamKind::Receiver | ParamKind::Context { .. } => return None,
        ParamKind::Converted { ty, .. } => {
            // Spelled exactly as in the wrapper, so that a type without `FromValue` gets one
            // error (rustc drops the identical second one), not two.
            let ty = with_inferred_lifetimes(ty);
            quote_spanned!(ty.span()=> <#ty as ::stoffel::FromValue<'_>>::EXPECTED)
        }
        ParamKind::Borrowed => quote!(<::stoffel::Value as ::stoffel::FromValue<'_>>::EXPECTED),
        ParamKind::Rest { .. } => quote!("..."),
        ParamKind::Object { ty, .. } | ParamKind::SharedObject { ty } => {
            let shown = format!("foreign {}", parse::display_type(ty));
            quote!(#shown)
        }
    })
}

/// The body of `Descriptor::foreign_function`: builds the `ForeignFunction` whose closure
/// converts each argument, locks the foreign objects, calls the function, converts the result.
fn wrapper(function: &ForeignFn, arity: &Arity) -> TokenStream {
    let ident = &function.function.sig.ident;
    let name = quote!(#ident::NAME);
    // Mixed-site names: the user's tokens can neither see nor shadow them.
    let ctx = Ident::new("ctx", Span::mixed_site());
    let args = Ident::new("args", Span::mixed_site());
    let value = Ident::new("value", Span::mixed_site());
    let result = Ident::new("result", Span::mixed_site());

    let mut conversions = Vec::new();
    let mut borrows = Vec::new();
    let mut call_args = Vec::new();
    let mut index = 0usize;
    for (param_index, param) in function.params.iter().enumerate() {
        let local = format_ident!("arg{}", param_index, span = Span::mixed_site());
        let position = index + 1;
        match &param.kind {
            ParamKind::Receiver => unreachable!("validation rejects receivers"),
            ParamKind::Context { .. } => {
                call_args.push(quote!(#ctx));
                continue;
            }
            ParamKind::Converted { ty, .. } => {
                let ty = with_inferred_lifetimes(ty);
                let from_arg = quote_spanned!(ty.span()=> <#ty as ::stoffel::FromValue<'_>>::from_arg);
                let missing = quote_spanned!(ty.span()=> <#ty as ::stoffel::FromValue<'_>>::missing);
                conversions.push(if index < arity.min {
                    quote! {
                        let #local = #from_arg(::stoffel::__private::argument(#args, #index, #name)?, #position, #name)?;
                    }
                } else {
                    quote! {
                        let #local = match #args.get(#index) {
                            ::core::option::Option::Some(#value) => #from_arg(#value, #position, #name)?,
                            ::core::option::Option::None => ::stoffel::__private::omitted(#missing(), #position, #name)?,
                        };
                    }
                });
                call_args.push(quote!(#local));
            }
            ParamKind::Borrowed => {
                conversions.push(quote! {
                    let #local: &::stoffel::Value = ::stoffel::__private::argument(#args, #index, #name)?;
                });
                call_args.push(quote!(#local));
            }
            ParamKind::Rest { raw: true, .. } => {
                conversions.push(quote! {
                    let #local: &[::stoffel::Value] = ::stoffel::__private::rest_values(#args, #index);
                });
                call_args.push(quote!(#local));
            }
            ParamKind::Rest { elem, .. } => {
                let elem = with_inferred_lifetimes(elem);
                let rest = quote_spanned!(elem.span()=> ::stoffel::__private::rest::<#elem>);
                conversions.push(quote! {
                    let #local = #rest(#args, #index, #name)?;
                });
                call_args.push(quote!(#local.as_slice()));
            }
            ParamKind::Object { ty, mutable } => {
                let ty = with_inferred_lifetimes(ty);
                let foreign_object = quote_spanned!(ty.span()=> ::stoffel::__private::foreign_object::<#ty>);
                let guard = format_ident!("borrow{}", param_index, span = Span::mixed_site());
                conversions.push(quote! {
                    let #local = #foreign_object(#args, #index, #name)?;
                });
                // Locked only once every argument converted: a bad argument holds no lock.
                if *mutable {
                    borrows.push(quote! {
                        let mut #guard = ::stoffel::__private::borrow(&#local, #position, #name)?;
                    });
                    call_args.push(quote!(&mut *#guard));
                } else {
                    borrows.push(quote! {
                        let #guard = ::stoffel::__private::borrow(&#local, #position, #name)?;
                    });
                    call_args.push(quote!(&*#guard));
                }
            }
            ParamKind::SharedObject { ty } => {
                let ty = with_inferred_lifetimes(ty);
                let foreign_object = quote_spanned!(ty.span()=> ::stoffel::__private::foreign_object::<#ty>);
                conversions.push(quote! {
                    let #local = #foreign_object(#args, #index, #name)?;
                });
                call_args.push(quote!(#local));
            }
        }
        index += 1;
    }

    let read_args = (index > 0).then(|| quote!(let #args: &[::stoffel::Value] = #ctx.args;));
    let call = quote!(#ident(#(#call_args),*));
    let ret = match &function.function.sig.output {
        ReturnType::Default => quote! {
            #call;
            ::core::result::Result::Ok(::stoffel::Value::Unit)
        },
        ReturnType::Type(_, ty) => {
            // Naming the type blames it (whole) when it cannot be returned; an `impl Trait`
            // cannot be named, so then the trait call is spanned at it instead.
            let into_result = if contains_impl_trait(ty) {
                quote_spanned!(ty.span()=> ::stoffel::IntoResult::into_result)
            } else {
                let ty = with_inferred_lifetimes(ty);
                quote_spanned!(ty.span()=> <#ty as ::stoffel::IntoResult>::into_result)
            };
            quote! {
                let #result = #call;
                #into_result(#result)
            }
        }
    };
    let ctx_pattern = if call_args.is_empty() { quote!(_) } else { quote!(#ctx) };
    let max = if arity.max == usize::MAX {
        quote!(::core::option::Option::None)
    } else {
        quote!(::core::option::Option::Some(#ident::MAX_ARITY))
    };
    quote! {
        ::stoffel::ForeignFunction::new(#name, |#ctx_pattern: &mut ::stoffel::ForeignFunctionContext<'_>| {
            #read_args
            #(#conversions)*
            #(#borrows)*
            #ret
        })
        .with_arity(#ident::MIN_ARITY, #max)
        .with_parameter_types(<[&'static ::core::primitive::str]>::to_vec(Self::PARAMETER_TYPES))
    }
}

/// Rewrites the signature's named lifetimes to `'_`: the wrapper and the constants are outside
/// the function's generics, and the lifetimes are inferred at the call anyway.
struct InferLifetimes;

impl VisitMut for InferLifetimes {
    fn visit_lifetime_mut(&mut self, lifetime: &mut syn::Lifetime) {
        if lifetime.ident != "static" {
            lifetime.ident = Ident::new("_", lifetime.ident.span());
        }
    }
}

fn with_inferred_lifetimes(ty: &Type) -> Type {
    let mut ty = ty.clone();
    InferLifetimes.visit_type_mut(&mut ty);
    ty
}

fn contains_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    syn::visit::Visit::visit_type(&mut finder, ty);
    finder.0
}

/// Whether the signature names `Self` (so the function is an associated one).
fn mentions_self(sig: &syn::Signature) -> bool {
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_ident(&mut self, ident: &'ast Ident) {
            self.0 |= ident == "Self";
        }
    }
    let mut finder = Finder(false);
    syn::visit::Visit::visit_signature(&mut finder, sig);
    finder.0
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;
    use crate::diagnostic::Diagnostics;

    fn parsed(attr: TokenStream, item: TokenStream) -> ForeignFn {
        let diagnostics = Diagnostics::new();
        let function = parse::parse(attr, item, &diagnostics).unwrap();
        diagnostics.check().unwrap();
        function
    }

    fn arity(item: TokenStream) -> (usize, usize) {
        let Arity { min, max } = Arity::of(&parsed(TokenStream::new(), item));
        (min, max)
    }

    #[test]
    fn arity_counts_trailing_options_and_rest() {
        assert_eq!(
            arity(quote!(
                fn f() {}
            )),
            (0, 0)
        );
        assert_eq!(
            arity(quote!(
                fn f(a: i64, b: i64) {}
            )),
            (2, 2)
        );
        assert_eq!(
            arity(quote!(
                fn f(ctx: &mut ForeignFunctionContext, a: i64) {}
            )),
            (1, 1)
        );
        assert_eq!(
            arity(quote!(
                fn f(a: i64, b: Option<i64>, c: Option<&str>) {}
            )),
            (1, 3)
        );
        assert_eq!(
            arity(quote!(
                fn f(a: Option<i64>, b: i64) {}
            )),
            (2, 2)
        );
        assert_eq!(
            arity(quote!(
                fn f(a: i64, rest: &[Value]) {}
            )),
            (1, usize::MAX)
        );
        assert_eq!(
            arity(quote!(
                fn f(a: Option<i64>, rest: &[i64]) {}
            )),
            (0, usize::MAX)
        );
        assert_eq!(
            arity(quote!(
                fn f(c: &mut Counter, o: Option<i64>) {}
            )),
            (1, 2)
        );
    }

    #[test]
    fn names_default_to_the_rust_name() {
        assert_eq!(
            vm_name(&parsed(
                TokenStream::new(),
                quote!(
                    fn r#match() {}
                )
            )),
            "match"
        );
        assert_eq!(
            vm_name(&parsed(
                quote!(name = "vm.add"),
                quote!(
                    fn add() {}
                )
            )),
            "vm.add"
        );
    }

    #[test]
    fn expansion_keeps_the_function_and_adds_the_companion() {
        let expanded = expand(&parsed(
            TokenStream::new(),
            quote!(
                /// Adds.
                pub fn add(a: i64, b: i64) -> i64 {
                    a + b
                }
            ),
        ))
        .to_string();
        assert!(
            expanded.starts_with("# [doc = r\" Adds.\"] pub fn add (a : i64 , b : i64) -> i64 { a + b }"),
            "{expanded}"
        );
        assert!(expanded.contains("pub mod add"), "{expanded}");
        assert!(expanded.contains("pub const NAME : & :: core :: primitive :: str = \"add\""), "{expanded}");
        assert!(
            expanded.contains("pub const MIN_ARITY : :: core :: primitive :: usize = 2usize"),
            "{expanded}"
        );
        assert!(expanded.contains("impl add :: Descriptor"), "{expanded}");
        // The expansion is valid Rust.
        syn::parse2::<syn::File>(expand(&parsed(
            TokenStream::new(),
            quote!(
                fn f(c: &mut C, r: &[i64]) {}
            ),
        )))
        .unwrap();
    }

    #[test]
    fn lifetimes_are_rewritten_outside_the_signature() {
        let ty: Type = syn::parse_quote!(&'a Wrapper<'b, &'static str>);
        let rewritten = with_inferred_lifetimes(&ty);
        assert_eq!(quote!(#rewritten).to_string(), "& '_ Wrapper < '_ , & 'static str >");
    }

    #[test]
    fn fallback_drops_a_c_variadic() {
        let item = quote!(
            fn sum(first: i64, ...) -> i64 {
                first
            }
        );
        let function = parsed(TokenStream::new(), item.clone());
        let emitted = fallback(Some(&function), item, TokenStream::new()).to_string();
        assert!(emitted.starts_with("fn sum (first : i64 ,) -> i64 { first }"), "{emitted}");
    }

    #[test]
    fn fallback_has_no_module_inside_impls() {
        let function = parsed(
            TokenStream::new(),
            quote!(
                fn new() -> Self {
                    Self
                }
            ),
        );
        let emitted = fallback(
            Some(&function),
            quote!(
                fn new() -> Self {
                    Self
                }
            ),
            TokenStream::new(),
        )
        .to_string();
        assert!(!emitted.contains("mod"), "{emitted}");
        let function = parsed(
            TokenStream::new(),
            quote!(
                fn f<T>(t: T) {}
            ),
        );
        let emitted = fallback(
            Some(&function),
            quote!(
                fn f<T>(t: T) {}
            ),
            TokenStream::new(),
        )
        .to_string();
        assert!(emitted.starts_with("fn f < T > (t : T) { }"), "{emitted}");
        assert!(emitted.contains("mod f"), "{emitted}");
        assert!(emitted.contains("unreachable"), "{emitted}");
    }
}
