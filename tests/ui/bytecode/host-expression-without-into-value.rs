use stoffel::bytecode;

struct Point {
    x: i64,
    y: i64,
}

fn main() {
    let origin = Point { x: 0, y: 0 };
    let _ = bytecode! {
        fn main() {
            LDI r0, {origin}
            RET r0
        }
    };
}
