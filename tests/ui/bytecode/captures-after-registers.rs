use stoffel::bytecode;

fn main() {
    let _ = bytecode! {
        fn counter() registers(4) captures(count) {
            RET r0
        }
    };
}
