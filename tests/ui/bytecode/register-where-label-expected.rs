use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn main() {
            LDI r0, 1
            JMP r0
            RET r0
        }
    };
}
