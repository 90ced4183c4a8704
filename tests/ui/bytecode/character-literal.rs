use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn main() {
            LDI r0, 'x'
            RET r0
        }
    };
}
