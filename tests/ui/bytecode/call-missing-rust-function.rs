use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn main() {
            CALL {missing}
            RET r0
        }
    };
}
