use stoffel::bytecode;

mod math {
    use stoffel::foreign_fn;

    /// Adds two integers.
    #[foreign_fn]
    pub fn add(a: i64, b: i64) -> i64 {
        a + b
    }
}

fn main() {
    let _ = bytecode! {
        fn main() {
            LDI r0, 1
            PUSHARG r0
            CALL {math::add}
            RET r0
        }
    };
}
