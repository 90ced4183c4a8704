use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn main() {
            CALL {1 + 2}
            RET r0
        }
    };
}
