use stoffel::bytecode;

fn helper() -> i64 {
    1
}

fn main() {
    let _ = helper();
    let _ = bytecode! {
        fn main() {
            CALL {helper}
            RET r0
        }
    };
}
