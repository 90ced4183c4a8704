//! `bytecode! { … }`: VM functions written as assembler text in Rust source, checked at compile
//! time. The tokens are converted to the shared assembler's (`tokens`), parsed and checked by
//! `stoffel_asm` — the same grammar and checks as `stoffel::asm::assemble` — then lowered to
//! the Rust that builds the `Program` (`expand`), or, on errors, to every error at once plus a
//! stand-in `Program`.

mod expand;
mod tokens;

use proc_macro2::TokenStream;

use crate::diagnostic::Diagnostics;

/// The whole macro: `input` is what stands between the braces of `bytecode! { … }`.
pub(crate) fn bytecode(input: TokenStream) -> TokenStream {
    let diagnostics = Diagnostics::new();
    let expansion = match stoffel_asm::assemble(tokens::convert(input)) {
        Ok(assembled) => expand::expand(&assembled, &diagnostics),
        Err(found) => {
            for diagnostic in found {
                diagnostics.error(diagnostic.span, diagnostic.full_message());
            }
            None
        }
    };
    match (diagnostics.check(), expansion) {
        (Ok(()), Some(expansion)) => expansion,
        (Err(errors), _) => expand::fallback(errors.to_compile_error()),
        (Ok(()), None) => unreachable!("expansion failed without reporting why"),
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn expand(input: TokenStream) -> String {
        bytecode(input).to_string()
    }

    #[test]
    fn a_program_becomes_vm_functions() {
        let expanded = expand(quote! {
            fn main() {
                LDI r0, 30
                PUSHARG r0
                CALL fib
                RET r0
            }
            fn fib(n) registers(4) {
                LDI r1, -2
                CMP r0, r1
                JMPLT done
                LD r2, [sp-1]
            done:
                RET r0
            }
        });
        assert!(expanded.contains(":: stoffel :: VMFunction :: new (\"main\""), "{expanded}");
        assert!(expanded
            .contains(":: stoffel :: Instruction :: LDI (0usize , :: stoffel :: Value :: Int (30i64))"));
        assert!(expanded
            .contains(":: stoffel :: Instruction :: CALL (:: std :: string :: String :: from (\"fib\"))"));
        assert!(expanded.contains(":: stoffel :: Value :: Int (- 2i64)"), "{expanded}");
        assert!(expanded.contains(":: stoffel :: Instruction :: LD (2usize , - 1i32)"), "{expanded}");
        assert!(expanded.contains("(:: std :: string :: String :: from (\"done\") , 4usize)"), "{expanded}");
        assert!(expanded.contains("None , 4usize"), "{expanded}");
        assert!(!expanded.contains("compile_error"), "{expanded}");
    }

    #[test]
    fn host_expressions_and_foreign_calls() {
        let expanded = expand(quote! {
            fn main() {
                LDI r0, {limit * 2}
                PUSHARG r0
                CALL {math::add}
                CALL {math::add}
                RET r0
            }
        });
        assert!(expanded.contains(":: stoffel :: IntoValue :: into_value (limit * 2)"), "{expanded}");
        assert!(expanded.contains(":: std :: string :: String :: from (math :: add :: NAME)"), "{expanded}");
        // One check per call with a known count, one registration per path.
        assert_eq!(expanded.matches("const _ : () =").count(), 2, "{expanded}");
        assert!(expanded.contains("if 1usize < math :: add :: MIN_ARITY"), "{expanded}");
        assert!(expanded.contains("if 0usize < math :: add :: MIN_ARITY"), "{expanded}");
        assert_eq!(expanded.matches(":: foreign_function as fn").count(), 1, "{expanded}");
    }

    #[test]
    fn errors_are_all_reported_with_a_stand_in_program() {
        let expanded = expand(quote! {
            fn main() {
                ADDD r0, r0, r0
                JMP nowhere
                LDI r0, 1
            }
            fn main() { RET r0 }
        });
        assert_eq!(expanded.matches("compile_error").count(), 3, "{expanded}");
        assert!(expanded.contains("unknown instruction `ADDD`"), "{expanded}");
        assert!(expanded.contains("duplicate function `main`"), "{expanded}");
        assert!(
            expanded.ends_with(":: stoffel :: Program :: new (:: std :: vec :: Vec :: new ()) }"),
            "{expanded}"
        );
    }

    #[test]
    fn call_of_something_that_is_no_path() {
        let expanded = expand(quote! { fn main() { CALL {1 + 2} RET r0 } });
        assert!(expanded.contains("takes the path of a `#[foreign_fn]` function"), "{expanded}");
        assert!(expanded.contains(":: stoffel :: Program :: new"), "{expanded}");
    }
}
