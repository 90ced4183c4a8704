use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn main() {
            ADD r0 r0, r0
            RET r0
        }
    };
}
