//! Lowering a checked program to the Rust that builds it: one `VMFunction::new` per function,
//! `{expr}` immediates through `IntoValue`, and for `CALL {path}` the foreign function's name
//! plus a compile-time check of the argument count. On errors, a stand-in `Program`.

use std::collections::{HashMap, HashSet};

use proc_macro2::{Delimiter, Group, Literal as RustLiteral, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use stoffel_asm::ast::{Function, Instr, Literal, Operand};
use stoffel_asm::{Assembled, FunctionInfo};

use crate::diagnostic::Diagnostics;

/// The `Program` expression, or `None` when a `CALL {…}` does not name a path (reported).
pub(crate) fn expand(
    assembled: &Assembled<Span, TokenStream>,
    diagnostics: &Diagnostics,
) -> Option<TokenStream> {
    let mut foreign = ForeignCalls::default();
    let functions: Vec<TokenStream> = assembled
        .program
        .functions
        .iter()
        .zip(&assembled.info.functions)
        .map(|(function, info)| lower_function(function, info, &mut foreign, diagnostics))
        .collect::<Option<_>>()?;
    let ForeignCalls { assertions, paths, .. } = foreign;
    Some(quote! {
        {
            #(#assertions)*
            ::stoffel::__private::program(
                ::std::vec![#(#functions),*],
                &[#(#paths::foreign_function as fn() -> ::stoffel::ForeignFunction),*],
            )
        }
    })
}

/// What stands in for the program when the block has errors: the errors, then an empty
/// `Program`, so that the code around the macro type-checks and adds no errors of its own.
pub(crate) fn fallback(errors: TokenStream) -> TokenStream {
    quote! {
        {
            #errors
            ::stoffel::Program::new(::std::vec::Vec::new())
        }
    }
}

/// The `#[foreign_fn]` items that `CALL {path}` names.
#[derive(Default)]
struct ForeignCalls {
    /// One `const _` per call whose argument count is known.
    assertions: Vec<TokenStream>,
    /// Each path once, in order of first use.
    paths: Vec<syn::Path>,
    /// The paths' text, to keep `paths` free of repeats.
    seen: HashSet<String>,
}

impl ForeignCalls {
    /// The tokens naming the call's target, `path::NAME`, registering the path and (when
    /// `pending_args` is known) the arity assertion.
    fn call(
        &mut self,
        host: &TokenStream,
        span: Span,
        pending_args: Option<usize>,
        diagnostics: &Diagnostics,
    ) -> Option<TokenStream> {
        let Ok(path) = syn::parse::Parser::parse2(syn::Path::parse_mod_style, host.clone()) else {
            diagnostics.error(
                span,
                "`CALL {…}` takes the path of a `#[foreign_fn]` function, such as `CALL {add}` or \
                 `CALL {math::add}`",
            );
            return None;
        };
        let written = written_path(&path);
        if let Some(count) = pending_args {
            self.assertions.push(arity_assertion(&path, &written, count, span));
        }
        if self.seen.insert(written) {
            self.paths.push(path.clone());
        }
        Some(quote_spanned!(span=> ::std::string::String::from(#path::NAME)))
    }
}

/// The path as the user wrote it, for messages: `math::add`.
fn written_path(path: &syn::Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|segment| segment.ident.to_string()).collect();
    let leading = if path.leading_colon.is_some() { "::" } else { "" };
    format!("{leading}{}", segments.join("::"))
}

/// `const _: () = …;` failing to compile, at the user's `{path}`, when `count` arguments are
/// outside the function's `MIN_ARITY..=MAX_ARITY` (its companion module's constants).
fn arity_assertion(path: &syn::Path, written: &str, count: usize, span: Span) -> TokenStream {
    let too_few = format!(
        "`{written}` needs more arguments than the {count} this CALL passes (one per PUSHARG since \
         the previous CALL)"
    );
    let too_many = format!(
        "`{written}` takes fewer arguments than the {count} this CALL passes (one per PUSHARG since \
         the previous CALL)"
    );
    let count = RustLiteral::usize_suffixed(count);
    quote_spanned! {span=>
        const _: () = {
            if #count < #path::MIN_ARITY {
                ::core::panic!(#too_few);
            }
            if #count > #path::MAX_ARITY {
                ::core::panic!(#too_many);
            }
        };
    }
}

/// `::stoffel::VMFunction::new(...)` for one function.
fn lower_function(
    function: &Function<Span, TokenStream>,
    info: &FunctionInfo,
    foreign: &mut ForeignCalls,
    diagnostics: &Diagnostics,
) -> Option<TokenStream> {
    let name = &function.name.text;
    let strings = |names: &[stoffel_asm::ast::Name<Span>]| -> Vec<TokenStream> {
        names.iter().map(|name| string(&name.text)).collect()
    };
    let params = strings(&function.params);
    let captures = strings(&function.captures);
    let register_count = RustLiteral::usize_suffixed(info.register_count as usize);

    let pending_by_item: HashMap<usize, Option<usize>> =
        info.calls.iter().map(|call| (call.item, call.pending_args)).collect();
    let mut instructions = Vec::new();
    let mut failed = false;
    for (item, entry) in function.body.iter().enumerate() {
        let stoffel_asm::ast::Item::Instr(instr) = entry else { continue };
        let pending_args = pending_by_item.get(&item).copied().flatten();
        match lower_instruction(instr, pending_args, foreign, diagnostics) {
            Some(tokens) => instructions.push(tokens),
            None => failed = true,
        }
    }
    if failed {
        return None;
    }

    let mut labels: Vec<(String, usize)> = function.label_positions().into_iter().collect();
    labels.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    let labels = if labels.is_empty() {
        quote!(::std::collections::HashMap::new())
    } else {
        let entries = labels.iter().map(|(label, index)| {
            let label = string(label);
            let index = RustLiteral::usize_suffixed(*index);
            quote!((#label, #index))
        });
        quote!(::std::collections::HashMap::from([#(#entries),*]))
    };

    Some(quote! {
        ::stoffel::VMFunction::new(
            #name,
            ::std::vec![#(#params),*],
            ::std::vec![#(#captures),*],
            ::core::option::Option::None,
            #register_count,
            ::std::vec![#(#instructions),*],
            #labels,
        )
    })
}

/// `::stoffel::Instruction::MNEMONIC(operands…)`: the variant is the table row's mnemonic, each
/// operand lowered by its kind.
fn lower_instruction(
    instr: &Instr<Span, TokenStream>,
    pending_args: Option<usize>,
    foreign: &mut ForeignCalls,
    diagnostics: &Diagnostics,
) -> Option<TokenStream> {
    let variant = format_ident!("{}", instr.op.mnemonic, span = instr.span);
    let mut operands = Vec::with_capacity(instr.operands.len());
    for operand in &instr.operands {
        operands.push(match operand {
            Operand::Reg(index, _) => RustLiteral::usize_suffixed(*index as usize).into_token_stream(),
            Operand::Stack(offset, _) => signed(i64::from(*offset), "i32"),
            Operand::Imm(literal, _) => immediate(literal),
            Operand::HostImm(host, span) => host_value(host, *span),
            Operand::Label(label, _) | Operand::Func(label, _) | Operand::Upvalue(label, _) => string(label),
            Operand::HostFunc(host, span) => foreign.call(host, *span, pending_args, diagnostics)?,
        });
    }
    Some(quote!(::stoffel::Instruction::#variant(#(#operands),*)))
}

/// `::std::string::String::from("text")`.
fn string(text: &str) -> TokenStream {
    let literal = RustLiteral::string(text);
    quote!(::std::string::String::from(#literal))
}

/// An integer literal, suffixed with its type; a negative one as `-` before its magnitude (a
/// negative literal token is not portable), `MIN` spelled out (its magnitude has no literal).
fn signed(value: i64, ty: &str) -> TokenStream {
    let literal = |magnitude: i64| match ty {
        "i32" => RustLiteral::i32_suffixed(magnitude as i32),
        _ => RustLiteral::i64_suffixed(magnitude),
    };
    let min = if ty == "i32" { i64::from(i32::MIN) } else { i64::MIN };
    if value == min {
        let ty = format_ident!("{ty}");
        quote!(::core::primitive::#ty::MIN)
    } else if value < 0 {
        let magnitude = literal(-value);
        quote!(-#magnitude)
    } else {
        literal(value).into_token_stream()
    }
}

/// A literal immediate as a `::stoffel::Value`.
fn immediate(literal: &Literal) -> TokenStream {
    match literal {
        Literal::Int(value) => {
            let value = signed(*value, "i64");
            quote!(::stoffel::Value::Int(#value))
        }
        // The bits, so that every float (-0.0, NaN, infinities) arrives exactly as written.
        Literal::Float(value) => {
            let bits = RustLiteral::u64_suffixed(value.to_bits());
            quote!(::stoffel::Value::Float(::core::primitive::f64::from_bits(#bits)))
        }
        Literal::Bool(value) => quote!(::stoffel::Value::Bool(#value)),
        Literal::Str(text) => {
            let text = RustLiteral::string(text);
            quote!(::stoffel::Value::from(#text))
        }
        Literal::Unit => quote!(::stoffel::Value::Unit),
    }
}

/// `{expr}` converted with `IntoValue`, spanned at the user's braces so that a type without a
/// conversion is blamed there. A single expression is passed as it is (extra delimiters would
/// trip `unused_braces`); anything else keeps its braces and is checked by rustc as a block.
fn host_value(host: &TokenStream, span: Span) -> TokenStream {
    let value = match syn::parse2::<syn::Expr>(host.clone()) {
        Ok(_) => host.clone(),
        Err(_) => {
            let mut block = Group::new(Delimiter::Brace, host.clone());
            block.set_span(span);
            block.into_token_stream()
        }
    };
    quote_spanned!(span=> ::stoffel::IntoValue::into_value(#value))
}
