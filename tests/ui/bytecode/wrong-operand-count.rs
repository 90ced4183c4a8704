use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn main() {
            LDI r0, 1
            ADD r0, r0
            RET r0
        }
    };
}
