use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn main() {
            LDI r0, "a \q escape"
            RET r0
        }
    };
}
