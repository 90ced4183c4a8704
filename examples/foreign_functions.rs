//! Exposing ordinary Rust functions to the VM with `#[foreign_fn]`, then calling them from a
//! VM function written with `bytecode!` and from Rust.
//!
//! Run with `cargo run --example foreign_functions`.

use stoffel::{bytecode, foreign, foreign_fn, Value, VirtualMachine};

/// Adds two integers.
#[foreign_fn]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Greets `name`; the greeting word is optional.
#[foreign_fn]
fn greet(name: &str, greeting: Option<&str>) -> String {
    format!("{}, {name}!", greeting.unwrap_or("Hello"))
}

/// Divides; dividing by zero is an error the VM reports with this message.
#[foreign_fn]
fn divide(a: f64, b: f64) -> Result<f64, String> {
    if b == 0.0 {
        Err(format!("cannot divide {a} by zero"))
    } else {
        Ok(a / b)
    }
}

/// A host object the VM holds by reference.
struct Account {
    balance: i64,
}

/// Deposits `amount` into the account and returns the new balance.
#[foreign_fn]
fn deposit(account: &mut Account, amount: i64) -> i64 {
    account.balance += amount;
    account.balance
}

/// Sums any number of integers; the VM knows it as `sum`.
#[foreign_fn(name = "sum")]
fn sum_all(numbers: &[i64]) -> i64 {
    numbers.iter().sum()
}

fn main() -> Result<(), stoffel::Error> {
    let vm = VirtualMachine::new();
    vm.register_foreign(foreign!(add));
    vm.register_foreign(foreign!(greet));
    vm.register_foreign(foreign!(divide));
    vm.register_foreign(foreign!(deposit));
    vm.register_foreign(foreign!(sum_all));

    // `CALL {add}` names the Rust item: the compiler checks that it is a `#[foreign_fn]` and
    // that it accepts the arguments pushed before the call; the VM calls it by its VM name.
    let program = bytecode! {
        fn main(account) {
            MOV r3, r0                  // keep the account: every CALL writes its result to r0
            LDI r1, 40
            LDI r2, 2
            PUSHARG r1
            PUSHARG r2
            CALL {add}
            PUSHARG r0
            CALL print                  // 42
            LDI r1, "Ada"
            PUSHARG r1
            CALL {greet}                // the optional greeting left out
            PUSHARG r0
            CALL print
            LDI r1, 100
            PUSHARG r3
            PUSHARG r1
            CALL {deposit}              // the foreign object, then the amount
            PUSHARG r0
            CALL print
            LDI r1, 1
            LDI r2, 2
            PUSHARG r1
            PUSHARG r2
            PUSHARG r2
            CALL {sum_all}              // known to the VM as `sum`
            RET r0
        }
    };
    vm.load(program)?;

    let account = vm.register_foreign_object(Account { balance: 20 });
    let handle = vm.foreign_object::<Account>(&account)?; // the host's typed view of it
    let result = vm.call("main", &[account])?;
    println!("main returned {result}");
    println!("the host sees a balance of {}", handle.lock().unwrap().balance);

    // The same functions from Rust, through the VM, and the errors a program would see.
    println!("{}", vm.call("greet", &[Value::from("Grace"), Value::from("Welcome")])?);
    println!("{}", vm.call("divide", &[Value::Int(1), Value::Int(4)])?);
    for (name, args) in [
        ("divide", vec![Value::Int(1), Value::Int(0)]),
        ("add", vec![Value::Int(1), Value::from("two")]),
        ("greet", vec![]),
    ] {
        println!("{name}: {}", vm.call(name, &args).unwrap_err());
    }
    // And still plain Rust functions.
    println!("add(1, 2) in Rust = {}", add(1, 2));
    Ok(())
}
