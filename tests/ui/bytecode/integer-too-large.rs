use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn main() {
            LDI r0, 9223372036854775808
            RET r0
        }
    };
}
