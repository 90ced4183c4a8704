//! Exposing ordinary Rust functions to the VM with `#[foreign_fn]`, then calling them from a
//! VM function (built here with the raw `VMFunction`/`Instruction` API) and from Rust.
//!
//! Run with `cargo run --example foreign_functions`.

use std::collections::HashMap;

use stoffel::Instruction::*;
use stoffel::{foreign, foreign_fn, VMFunction, Value, VirtualMachine};

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

    // fn main(account) { print(add(40, 2)); print(greet("Ada")); print(deposit(account, 100));
    //                    return sum(1, 2, 2) }
    let instructions = vec![
        MOV(3, 0), // keep the account: every CALL writes its result to r0
        LDI(1, Value::Int(40)),
        LDI(2, Value::Int(2)),
        PUSHARG(1),
        PUSHARG(2),
        CALL("add".into()),
        PUSHARG(0),
        CALL("print".into()),
        LDI(1, Value::from("Ada")),
        PUSHARG(1),
        CALL("greet".into()),
        PUSHARG(0),
        CALL("print".into()),
        LDI(1, Value::Int(100)),
        PUSHARG(3),
        PUSHARG(1),
        CALL("deposit".into()),
        PUSHARG(0),
        CALL("print".into()),
        LDI(1, Value::Int(1)),
        LDI(2, Value::Int(2)),
        PUSHARG(1),
        PUSHARG(2),
        PUSHARG(2),
        CALL("sum".into()),
        RET(0),
    ];
    let main = VMFunction::new("main", vec!["account".into()], vec![], None, 4, instructions, HashMap::new());
    vm.register_function(main)?;

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
