//! Compile-fail UI tests: each `tests/ui/<macro>/<mistake>.rs` must fail to compile with
//! exactly the checked-in `.stderr` (written for stable Rust 1.95).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/foreign_fn/*.rs");
    cases.compile_fail("tests/ui/bytecode/*.rs");
}
