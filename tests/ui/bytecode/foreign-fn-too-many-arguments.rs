use stoffel::{bytecode, foreign_fn};

/// Adds two integers.
#[foreign_fn]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn main() {
    let _ = bytecode! {
        fn main() {
            LDI r0, 1
            PUSHARG r0
            PUSHARG r0
            PUSHARG r0
            CALL {add}
            RET r0
        }
    };
}
