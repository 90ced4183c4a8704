use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn main() registers(4) {
            LDI r0, 1
            MOV r4, r0
            RET r0
        }
    };
}
