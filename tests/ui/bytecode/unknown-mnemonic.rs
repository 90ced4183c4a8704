use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn main() {
            LDI r0, 1
            ADDD r0, r0, r0
            RET r0
        }
    };
}
