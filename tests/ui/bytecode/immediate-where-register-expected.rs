use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn main() {
            ADD r0, 5, r1
            RET r0
        }
    };
}
