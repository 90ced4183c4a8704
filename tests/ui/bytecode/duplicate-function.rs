use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn helper() {
            LDI r0, 1
            RET r0
        }
        fn helper() {
            LDI r0, 2
            RET r0
        }
    };
}
