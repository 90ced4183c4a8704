//! `#[foreign_fn]` and `foreign!`: every supported parameter and return kind, the errors a VM
//! program sees (arity, conversions, foreign objects, `Err`, panics), names, visibility, scope
//! and hygiene of the generated code.

mod common;

use std::slice::from_ref;
use std::sync::{Arc, Mutex};

use common::*;
use stoffel::Instruction::*;
use stoffel::{
    foreign, foreign_fn, ErrorKind, ForeignFunctionContext, FromValue, IntoValue, Value, VirtualMachine,
};

/// A VM with the given `#[foreign_fn]`s registered.
macro_rules! vm_with_foreign {
    ($($function:ident),* $(,)?) => {{
        let vm = VirtualMachine::new();
        $(vm.register_foreign(foreign!($function));)*
        vm
    }};
}

fn int(i: i64) -> Value {
    Value::Int(i)
}

/// The message of the error `name(args)` fails with.
fn error_message(vm: &VirtualMachine, name: &str, args: &[Value]) -> String {
    vm.call(name, args).expect_err("the call should fail").message().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Parameters and returns

/// Adds two integers.
#[foreign_fn]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[foreign_fn]
fn widths(a: i8, b: u16, c: i32, d: u64, e: usize) -> i64 {
    i64::from(a) + i64::from(b) + i64::from(c) + d as i64 + e as i64
}

#[foreign_fn]
fn small() -> u8 {
    200
}

#[foreign_fn]
fn huge() -> u64 {
    u64::MAX
}

#[test]
fn integers_of_several_widths_convert_and_out_of_range_is_an_error() {
    let vm = vm_with_foreign!(add, widths, small, huge);
    assert_eq!(vm.call("add", &[int(2), int(3)]).unwrap(), int(5));
    assert_eq!(vm.call("widths", &[int(-1), int(65535), int(-3), int(4), int(5)]).unwrap(), int(65540));
    assert_eq!(
        error_message(&vm, "widths", &[int(128), int(0), int(0), int(0), int(0)]),
        "argument 1 of `widths`: int 128 does not fit in i8"
    );
    assert_eq!(
        error_message(&vm, "widths", &[int(0), int(-1), int(0), int(0), int(0)]),
        "argument 2 of `widths`: int -1 does not fit in u16"
    );
    assert_eq!(
        error_message(&vm, "widths", &[int(0), int(0), int(0), int(-4), int(0)]),
        "argument 4 of `widths`: int -4 does not fit in u64"
    );
    assert_eq!(vm.call("small", &[]).unwrap(), int(200));
    // Beyond i64, integers come back as (rounded) floats.
    assert_eq!(vm.call("huge", &[]).unwrap(), Value::Float(u64::MAX as f64));
}

#[foreign_fn]
fn half(x: f64) -> f64 {
    x / 2.0
}

#[foreign_fn]
fn negate(b: bool) -> bool {
    !b
}

#[foreign_fn]
fn shout(text: &str) -> String {
    text.to_uppercase()
}

#[foreign_fn]
fn owned_length(text: String) -> usize {
    text.len()
}

#[foreign_fn]
fn nothing(unit: ()) {
    let () = unit;
}

#[foreign_fn]
fn type_of(value: Value) -> &'static str {
    value.type_name()
}

#[foreign_fn]
fn same(first: &Value, second: &Value) -> bool {
    first.same_reference(second)
}

#[test]
fn scalars_strings_unit_and_values() {
    let vm = vm_with_foreign!(half, negate, shout, owned_length, nothing, type_of, same);
    assert_eq!(vm.call("half", &[Value::Float(3.0)]).unwrap(), Value::Float(1.5));
    assert_eq!(vm.call("half", &[int(3)]).unwrap(), Value::Float(1.5), "ints widen to floats");
    assert_eq!(vm.call("negate", &[Value::Bool(true)]).unwrap(), Value::Bool(false));
    assert_eq!(vm.call("shout", &[Value::from("hi")]).unwrap(), Value::from("HI"));
    assert_eq!(vm.call("owned_length", &[Value::from("four")]).unwrap(), int(4));
    assert_eq!(vm.call("nothing", &[Value::Unit]).unwrap(), Value::Unit);
    assert_eq!(error_message(&vm, "nothing", &[int(1)]), "argument 1 of `nothing`: expected unit, found int");
    assert_eq!(vm.call("type_of", &[Value::Float(1.0)]).unwrap(), Value::from("float"));
    assert_eq!(vm.call("type_of", &[Value::Unit]).unwrap(), Value::from("unit"));
    let array = vec![1i64].into_value();
    assert_eq!(vm.call("same", &[array.clone(), array.clone()]).unwrap(), Value::Bool(true));
    assert_eq!(vm.call("same", &[array, vec![1i64].into_value()]).unwrap(), Value::Bool(false));
}

/// `a`, plus `b` when given.
#[foreign_fn]
fn plus_maybe(a: i64, b: Option<i64>) -> i64 {
    a + b.unwrap_or(0)
}

#[foreign_fn]
fn describe(a: Option<i64>, b: Option<&str>) -> String {
    format!("{a:?} {b:?}")
}

#[test]
fn trailing_options_may_be_omitted_or_unit() {
    let vm = vm_with_foreign!(plus_maybe, describe);
    assert_eq!(vm.call("plus_maybe", &[int(1)]).unwrap(), int(1), "omitted");
    assert_eq!(vm.call("plus_maybe", &[int(1), Value::Unit]).unwrap(), int(1), "unit");
    assert_eq!(vm.call("plus_maybe", &[int(1), int(2)]).unwrap(), int(3), "present");
    assert_eq!(
        error_message(&vm, "plus_maybe", &[int(1), Value::from("x")]),
        "argument 2 of `plus_maybe`: expected int, found string"
    );
    assert_eq!(vm.call("describe", &[]).unwrap(), Value::from("None None"));
    assert_eq!(vm.call("describe", &[int(1), Value::from("x")]).unwrap(), Value::from("Some(1) Some(\"x\")"));
    assert_eq!(plus_maybe::MIN_ARITY, 1);
    assert_eq!(plus_maybe::MAX_ARITY, 2);
}

#[foreign_fn]
fn sum(numbers: Vec<i64>) -> i64 {
    numbers.iter().sum()
}

#[foreign_fn]
fn range(n: i64) -> Vec<i64> {
    (0..n).collect()
}

#[test]
fn vectors_are_vm_arrays() {
    let vm = vm_with_foreign!(sum, range);
    assert_eq!(vm.call("sum", &[vec![1i64, 2, 3].into_value()]).unwrap(), int(6));
    let array = vm.call("range", &[int(3)]).unwrap();
    assert_eq!(array.to_string(), "[0, 1, 2]");
    assert_eq!(vm.call("sum", &[array]).unwrap(), int(3));
    assert_eq!(
        error_message(&vm, "sum", &[vec![Value::Int(1), Value::Bool(true)].into_value()]),
        "argument 1 of `sum`: element 1: expected int, found bool"
    );
    assert_eq!(error_message(&vm, "sum", &[int(1)]), "argument 1 of `sum`: expected array, found int");
}

/// How many arguments followed the first, and the first.
#[foreign_fn]
fn count_rest(first: i64, rest: &[Value]) -> String {
    format!("{first} then {}", rest.len())
}

#[foreign_fn]
fn sum_all(numbers: &[i64]) -> i64 {
    numbers.iter().sum()
}

#[foreign_fn]
fn join(separator: &str, parts: &[&str]) -> String {
    parts.join(separator)
}

#[test]
fn a_final_slice_takes_the_remaining_arguments() {
    let vm = vm_with_foreign!(count_rest, sum_all, join);
    assert_eq!(vm.call("count_rest", &[int(1)]).unwrap(), Value::from("1 then 0"));
    assert_eq!(
        vm.call("count_rest", &[int(1), Value::Unit, Value::from("x")]).unwrap(),
        Value::from("1 then 2")
    );
    assert_eq!(
        error_message(&vm, "count_rest", &[]),
        "`count_rest` takes at least 1 argument, but 0 were given"
    );
    assert_eq!(vm.call("sum_all", &[]).unwrap(), int(0));
    assert_eq!(vm.call("sum_all", &[int(1), int(2), int(3)]).unwrap(), int(6));
    assert_eq!(
        error_message(&vm, "sum_all", &[int(1), int(2), Value::from("3")]),
        "argument 3 of `sum_all`: expected int, found string"
    );
    assert_eq!(
        vm.call("join", &[Value::from("-"), Value::from("a"), Value::from("b")]).unwrap(),
        Value::from("a-b")
    );
    assert_eq!(count_rest::MAX_ARITY, usize::MAX);
    assert_eq!(count_rest::PARAMETER_TYPES, ["int", "..."]);
}

// ---------------------------------------------------------------------------------------------
// Foreign objects

#[derive(Debug)]
struct Account {
    balance: i64,
}

struct Logbook(Vec<String>);

#[foreign_fn]
fn balance(account: &Account) -> i64 {
    account.balance
}

#[foreign_fn]
fn deposit(account: &mut Account, amount: i64) -> i64 {
    account.balance += amount;
    account.balance
}

#[foreign_fn]
fn transfer(from: &mut Account, to: &mut Account, amount: i64) -> Result<(), String> {
    if from.balance < amount {
        return Err(format!("insufficient funds: {} < {amount}", from.balance));
    }
    from.balance -= amount;
    to.balance += amount;
    Ok(())
}

#[foreign_fn]
fn handle_count(account: Arc<Mutex<Account>>) -> usize {
    Arc::strong_count(&account)
}

#[foreign_fn]
fn log(book: &mut Logbook, account: &Account) -> usize {
    book.0.push(format!("balance {}", account.balance));
    book.0.len()
}

#[test]
fn foreign_objects_are_borrowed_for_the_call() {
    let vm = vm_with_foreign!(balance, deposit, transfer, handle_count, log);
    let checking = vm.register_foreign_object(Account { balance: 10 });
    let savings = vm.register_foreign_object(Account { balance: 0 });
    let book = vm.register_foreign_object(Logbook(Vec::new()));

    assert_eq!(vm.call("balance", from_ref(&checking)).unwrap(), int(10));
    assert_eq!(vm.call("deposit", &[checking.clone(), int(5)]).unwrap(), int(15));
    // The mutation is visible to the host afterwards.
    assert_eq!(vm.foreign_object::<Account>(&checking).unwrap().lock().unwrap().balance, 15);

    vm.call("transfer", &[checking.clone(), savings.clone(), int(7)]).unwrap();
    assert_eq!(vm.call("balance", from_ref(&checking)).unwrap(), int(8));
    assert_eq!(vm.call("balance", from_ref(&savings)).unwrap(), int(7));
    let error = vm.call("transfer", &[checking.clone(), savings.clone(), int(100)]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Foreign);
    assert_eq!(error.message(), "insufficient funds: 8 < 100");

    // The handle itself: the VM's reference, ours, and the one passed in.
    let handle = vm.foreign_object::<Account>(&checking).unwrap();
    assert_eq!(vm.call("handle_count", from_ref(&checking)).unwrap(), int(3));
    drop(handle);

    assert_eq!(vm.call("log", &[book.clone(), checking.clone()]).unwrap(), int(1));
    assert_eq!(vm.foreign_object::<Logbook>(&book).unwrap().lock().unwrap().0, ["balance 8"]);
}

#[test]
fn wrong_foreign_objects_are_type_errors_naming_the_argument() {
    let vm = vm_with_foreign!(deposit, log, handle_count);
    let book = vm.register_foreign_object(Logbook(Vec::new()));
    let error = vm.call("deposit", &[book.clone(), int(1)]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Type);
    assert_eq!(
        error.message(),
        "argument 1 of `deposit`: expected foreign object `foreign_fn::Account`, found foreign object `foreign_fn::Logbook`"
    );
    assert_eq!(
        error_message(&vm, "handle_count", &[int(3)]),
        "argument 1 of `handle_count`: expected foreign object `foreign_fn::Account`, found int"
    );
    // The first bad argument is the one reported, and nothing stays locked.
    assert_eq!(
        error_message(&vm, "log", &[book.clone(), int(1)]),
        "argument 2 of `log`: expected foreign object `foreign_fn::Account`, found int"
    );
    assert_eq!(vm.foreign_object::<Logbook>(&book).unwrap().lock().unwrap().0.len(), 0);
}

#[test]
fn one_object_for_two_borrowed_parameters_is_an_error_not_a_deadlock() {
    let vm = vm_with_foreign!(transfer, balance);
    let account = vm.register_foreign_object(Account { balance: 10 });
    let error = vm.call("transfer", &[account.clone(), account.clone(), int(1)]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Usage);
    assert_eq!(
        error.message(),
        "argument 2 of `transfer`: foreign object `foreign_fn::Account` is already borrowed as argument 1 of `transfer`"
    );
    // The first borrow ended with the failed call.
    assert_eq!(vm.call("balance", &[account]).unwrap(), int(10));
}

/// Deposits, then asks the VM to run `then` with the same account (which borrows it again).
#[foreign_fn]
fn deposit_then(
    ctx: &mut ForeignFunctionContext,
    account: &mut Account,
    then: &str,
) -> Result<Value, stoffel::Error> {
    account.balance += 1;
    let account_value = ctx.args[0].clone();
    ctx.call(then, &[account_value])
}

#[test]
fn borrowing_an_object_again_through_a_callback_is_an_error_not_a_deadlock() {
    let vm = vm_with_foreign!(deposit_then, balance, type_of);
    let account = vm.register_foreign_object(Account { balance: 0 });
    // Not borrowing the object again is fine.
    assert_eq!(
        vm.call("deposit_then", &[account.clone(), Value::from("type_of")]).unwrap(),
        Value::from("foreign")
    );
    assert_eq!(
        error_message(&vm, "deposit_then", &[account.clone(), Value::from("balance")]),
        "argument 1 of `balance`: foreign object `foreign_fn::Account` is already borrowed as argument 1 of `deposit_then`"
    );
    assert_eq!(vm.call("balance", &[account]).unwrap(), int(2));
}

#[foreign_fn]
fn deposit_and_panic(account: &mut Account) {
    account.balance += 1;
    panic!("lost the receipt");
}

#[test]
fn an_object_poisoned_by_a_panic_is_refused_until_cleared() {
    let vm = vm_with_foreign!(deposit_and_panic, balance);
    let account = vm.register_foreign_object(Account { balance: 0 });
    let error = vm.call("deposit_and_panic", from_ref(&account)).unwrap_err();
    assert_eq!(error.message(), "foreign function `deposit_and_panic` panicked: lost the receipt");
    let error = vm.call("balance", from_ref(&account)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Foreign);
    assert_eq!(
        error.message(),
        "argument 1 of `balance`: foreign object `foreign_fn::Account` is poisoned: a foreign function panicked while borrowing it"
    );
    vm.foreign_object::<Account>(&account).unwrap().clear_poison();
    assert_eq!(vm.call("balance", &[account]).unwrap(), int(1));
}

// ---------------------------------------------------------------------------------------------
// The context, results, panics

/// Calls the VM function `name` with `x` and adds one.
#[foreign_fn]
fn call_plus_one(ctx: &mut ForeignFunctionContext<'_>, name: &str, x: i64) -> Result<i64, stoffel::Error> {
    let result = ctx.call(name, &[Value::Int(x)])?;
    Ok(i64::from_value(&result)? + 1)
}

/// A shared context is enough to read: here, the name the function was called by.
#[foreign_fn(name = "who.am.i")]
fn who_am_i(ctx: &ForeignFunctionContext) -> String {
    ctx.function_name().to_owned()
}

#[foreign_fn]
fn make_pair(ctx: &mut ForeignFunctionContext) -> Result<Value, stoffel::Error> {
    ctx.create_array(vec![Value::Int(1), Value::Int(2)])
}

#[test]
fn a_context_parameter_reaches_back_into_the_vm() {
    let double = function("double", &["x"], 1, body![ADD(0, 0, 0), RET(0)]);
    let vm = vm_with(vec![double]);
    vm.register_foreign(foreign!(call_plus_one));
    vm.register_foreign(foreign!(make_pair));
    assert_eq!(vm.call("call_plus_one", &[Value::from("double"), int(20)]).unwrap(), int(41));
    assert_eq!(call_plus_one::MIN_ARITY, 2, "the context takes no argument");
    assert_eq!(call_plus_one::PARAMETER_TYPES, ["string", "int"]);
    assert_eq!(
        error_message(&vm, "call_plus_one", &[Value::from("missing"), int(1)]),
        "function `missing` not found"
    );
    assert_eq!(vm.call("make_pair", &[]).unwrap().to_string(), "[1, 2]");
    vm.register_foreign(foreign!(who_am_i));
    assert_eq!(vm.call("who.am.i", &[]).unwrap(), Value::from("who.am.i"));
}

#[foreign_fn]
fn divide(a: i64, b: i64) -> Result<i64, String> {
    if b == 0 {
        Err("division by zero".to_owned())
    } else {
        Ok(a / b)
    }
}

#[foreign_fn]
fn parse_int(text: &str) -> Result<i64, std::num::ParseIntError> {
    text.parse()
}

#[test]
fn results_become_values_or_errors_with_their_message() {
    let vm = vm_with_foreign!(divide, parse_int);
    assert_eq!(vm.call("divide", &[int(7), int(2)]).unwrap(), int(3));
    let error = vm.call("divide", &[int(7), int(0)]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Foreign);
    assert_eq!(error.message(), "division by zero");
    assert_eq!(vm.call("parse_int", &[Value::from("42")]).unwrap(), int(42));
    assert_eq!(error_message(&vm, "parse_int", &[Value::from("x")]), "invalid digit found in string");
}

#[foreign_fn]
fn boom(message: &str) -> i64 {
    panic!("{message}")
}

#[test]
fn a_panic_becomes_an_error_and_the_vm_still_works() {
    let vm = vm_with_foreign!(boom, add);
    let error = vm.call("boom", &[Value::from("kaput")]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Foreign);
    assert_eq!(error.message(), "foreign function `boom` panicked: kaput");
    assert_eq!(vm.call("add", &[int(1), int(2)]).unwrap(), int(3));

    // From a VM function too: the error carries the call stack.
    let main = function(
        "main",
        &[],
        1,
        body![LDI(0, Value::from("deep")), PUSHARG(0), CALL("boom".into()), RET(0),],
    );
    vm.register_function(main).unwrap();
    let error = vm.execute("main").unwrap_err();
    assert_eq!(error.message(), "foreign function `boom` panicked: deep");
    assert!(error.call_stack().iter().any(|frame| frame.function == "main"), "{error:?}");
    assert_eq!(vm.call("add", &[int(1), int(2)]).unwrap(), int(3));
}

// ---------------------------------------------------------------------------------------------
// Errors the VM reports before the function runs

#[test]
fn arity_errors_state_the_accepted_range() {
    let vm = vm_with_foreign!(add, plus_maybe, count_rest, small);
    assert_eq!(error_message(&vm, "add", &[int(1)]), "`add` takes 2 arguments, but 1 was given");
    assert_eq!(
        error_message(&vm, "add", &[int(1), int(2), int(3)]),
        "`add` takes 2 arguments, but 3 were given"
    );
    assert_eq!(
        error_message(&vm, "plus_maybe", &[]),
        "`plus_maybe` takes 1 to 2 arguments, but 0 were given"
    );
    assert_eq!(
        error_message(&vm, "plus_maybe", &[int(1), int(2), int(3)]),
        "`plus_maybe` takes 1 to 2 arguments, but 3 were given"
    );
    assert_eq!(
        error_message(&vm, "count_rest", &[]),
        "`count_rest` takes at least 1 argument, but 0 were given"
    );
    assert_eq!(error_message(&vm, "small", &[int(1)]), "`small` takes 0 arguments, but 1 was given");
    assert_eq!(vm.call("add", &[int(1)]).unwrap_err().kind(), ErrorKind::Arity);
}

#[test]
fn type_mismatches_name_the_argument_the_function_and_both_types() {
    let vm = vm_with_foreign!(add, shout, negate);
    let error = vm.call("add", &[int(1), Value::from("two")]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Type);
    assert_eq!(error.message(), "argument 2 of `add`: expected int, found string");
    assert_eq!(
        error_message(&vm, "add", &[Value::Float(1.0), int(2)]),
        "argument 1 of `add`: expected int, found float"
    );
    assert_eq!(
        error_message(&vm, "shout", &[Value::Unit]),
        "argument 1 of `shout`: expected string, found unit"
    );
    assert_eq!(error_message(&vm, "negate", &[int(0)]), "argument 1 of `negate`: expected bool, found int");
}

// ---------------------------------------------------------------------------------------------
// Names, visibility, scope, the function itself

#[foreign_fn(name = "math.hypot")]
fn hypotenuse(a: f64, b: f64) -> f64 {
    a.hypot(b)
}

#[foreign_fn]
fn r#loop(times: i64) -> i64 {
    times
}

#[test]
fn the_name_option_renames_and_raw_identifiers_are_unraw() {
    let vm = vm_with_foreign!(hypotenuse, r#loop);
    assert_eq!(vm.call("math.hypot", &[int(3), int(4)]).unwrap(), Value::Float(5.0));
    assert!(vm.call("hypotenuse", &[int(3), int(4)]).is_err());
    assert_eq!(hypotenuse::NAME, "math.hypot");
    assert_eq!(vm.call("loop", &[int(2)]).unwrap(), int(2));
    // Errors use the VM name.
    assert_eq!(
        error_message(&vm, "math.hypot", &[int(3)]),
        "`math.hypot` takes 2 arguments, but 1 was given"
    );
    assert_eq!(
        error_message(&vm, "math.hypot", &[int(3), Value::Bool(true)]),
        "argument 2 of `math.hypot`: expected float, found bool"
    );
}

mod outer {
    pub(crate) mod inner {
        use stoffel::foreign_fn;

        /// Visible in the crate only, and so is its companion module.
        #[foreign_fn]
        pub(crate) fn triple(x: i64) -> i64 {
            3 * x
        }
    }

    #[stoffel::foreign_fn]
    fn private_square(x: i64) -> i64 {
        x * x
    }

    /// A module sees its own private functions.
    pub fn register(vm: &stoffel::VirtualMachine) {
        vm.register_foreign(stoffel::foreign!(private_square));
        vm.register_foreign(stoffel::foreign!(self::private_square));
    }
}

#[test]
fn functions_register_wherever_they_are_visible() {
    let vm = VirtualMachine::new();
    vm.register_foreign(foreign!(outer::inner::triple));
    vm.register_foreign(foreign!(crate::outer::inner::triple));
    outer::register(&vm);
    assert_eq!(vm.call("triple", &[int(5)]).unwrap(), int(15));
    assert_eq!(vm.call("private_square", &[int(5)]).unwrap(), int(25));
    assert_eq!(outer::inner::triple::NAME, "triple");
}

#[test]
fn the_function_stays_an_ordinary_rust_function() {
    assert_eq!(add(2, 3), 5);
    assert_eq!(plus_maybe(1, None), 1);
    let mut account = Account { balance: 1 };
    assert_eq!(deposit(&mut account, 2), 3);
    assert_eq!(sum_all(&[1, 2]), 3);
    assert_eq!(outer::inner::triple(2), 6);
    let as_pointer: fn(i64, i64) -> i64 = add;
    assert_eq!(as_pointer(1, 1), 2);
}

#[test]
fn the_companion_module_describes_the_function() {
    assert_eq!(add::NAME, "add");
    assert_eq!((add::MIN_ARITY, add::MAX_ARITY), (2, 2));
    assert_eq!(add::PARAMETER_TYPES, ["int", "int"]);
    assert_eq!(transfer::PARAMETER_TYPES, ["foreign Account", "foreign Account", "int"]);
    assert_eq!(same::PARAMETER_TYPES, ["any value", "any value"]);
    let function = foreign!(describe);
    assert_eq!(function.name(), "describe");
    assert_eq!(function.arity(), (0, Some(2)));
    assert_eq!(function.signature(), "describe(int, string)");
    assert_eq!(foreign!(count_rest).arity(), (1, None));
    // The descriptor is usable in constant expressions (as `bytecode!` checks calls).
    const _: () = assert!(add::MIN_ARITY == 2 && add::MAX_ARITY == 2);
}

#[test]
fn functions_inside_a_function_body_see_local_types() {
    struct Meter(f64);

    #[foreign_fn]
    fn read(meter: &Meter) -> f64 {
        meter.0
    }

    let vm = VirtualMachine::new();
    vm.register_foreign(foreign!(read));
    let meter = vm.register_foreign_object(Meter(2.5));
    assert_eq!(vm.call("read", &[meter]).unwrap(), Value::Float(2.5));
}

/// Lifetimes are inferred at the call.
#[foreign_fn]
fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if b.len() > a.len() {
        b
    } else {
        a
    }
}

#[foreign_fn]
fn opaque(x: i64) -> impl IntoValue {
    Some(x)
}

#[test]
fn lifetimes_and_opaque_returns() {
    let vm = vm_with_foreign!(longest, opaque);
    assert_eq!(vm.call("longest", &[Value::from("ab"), Value::from("abc")]).unwrap(), Value::from("abc"));
    assert_eq!(vm.call("opaque", &[int(4)]).unwrap(), int(4));
}

/// Generated code uses absolute paths only and mixed-site locals: it works without the
/// prelude, and parameters named like its locals do not clash.
#[no_implicit_prelude]
mod hygiene {
    #[::stoffel::foreign_fn]
    pub fn clash(
        ctx: &mut ::stoffel::ForeignFunctionContext,
        args: i64,
        value: ::std::option::Option<i64>,
        result: &[::stoffel::Value],
    ) -> ::std::string::String {
        let _ = ctx;
        ::std::format!("{args} {value:?} {}", result.len())
    }
}

#[test]
fn generated_code_is_hygienic() {
    let vm = VirtualMachine::new();
    vm.register_foreign(foreign!(hygiene::clash));
    assert_eq!(vm.call("clash", &[int(1)]).unwrap(), Value::from("1 None 0"));
    assert_eq!(vm.call("clash", &[int(1), int(2), int(3)]).unwrap(), Value::from("1 Some(2) 1"));
}

/// Documented items pass `missing_docs`; the generated items trip none of these lints.
#[deny(
    missing_docs,
    missing_debug_implementations,
    deprecated,
    unreachable_pub,
    unused_qualifications,
    unused_results,
    rust_2018_idioms,
    clippy::pedantic
)]
pub mod documented {
    use stoffel::foreign_fn;

    /// The answer.
    #[foreign_fn]
    #[must_use]
    pub fn answer() -> i64 {
        42
    }

    /// Superseded, but still registrable without a deprecation warning from generated code.
    #[deprecated = "use `answer`"]
    #[foreign_fn]
    #[must_use]
    pub fn old_answer() -> i64 {
        42
    }

    /// Compiled out together with its companion module.
    #[foreign_fn]
    #[cfg(any())]
    pub fn gone() {}

    /// A host object.
    #[derive(Debug)]
    pub struct Wallet {
        /// What it holds.
        pub coins: i64,
    }

    /// Every kind of parameter.
    ///
    /// # Errors
    /// Never.
    #[foreign_fn]
    pub fn everything(
        ctx: &mut stoffel::ForeignFunctionContext<'_>,
        text: &str,
        wallet: &mut Wallet,
        optional: Option<i64>,
        rest: &[stoffel::Value],
    ) -> Result<String, stoffel::Error> {
        let _ = ctx.function_name();
        wallet.coins += optional.unwrap_or(0);
        Ok(format!("{text} {}", rest.len()))
    }
}

#[test]
fn attributes_on_the_function_are_honoured() {
    let vm = vm_with_foreign!();
    vm.register_foreign(foreign!(documented::answer));
    vm.register_foreign(foreign!(documented::old_answer));
    assert_eq!(vm.call("old_answer", &[]).unwrap(), int(42));
    vm.register_foreign(foreign!(documented::everything));
    let wallet = vm.register_foreign_object(documented::Wallet { coins: 1 });
    let args = [Value::from("rest:"), wallet.clone(), int(2), Value::Unit, Value::Unit];
    assert_eq!(vm.call("everything", &args).unwrap(), Value::from("rest: 2"));
    assert_eq!(vm.foreign_object::<documented::Wallet>(&wallet).unwrap().lock().unwrap().coins, 3);
}

#[test]
fn foreign_functions_are_callable_from_vm_code() {
    // main() = add(40, 2), through PUSHARG/CALL.
    let main = function(
        "main",
        &[],
        2,
        body![LDI(0, int(40)), LDI(1, int(2)), PUSHARG(0), PUSHARG(1), CALL("add".into()), RET(0),],
    );
    let vm = vm_with(vec![main]);
    vm.register_foreign(foreign!(add));
    assert_eq!(vm.execute("main").unwrap(), int(42));
}

/// Calls `name` with no arguments, passing its failure on with `?`.
#[foreign_fn]
fn call_without_arguments(ctx: &mut ForeignFunctionContext, name: &str) -> Result<Value, stoffel::Error> {
    ctx.call(name, &[])
}

#[test]
fn vm_errors_returned_by_a_foreign_function_keep_their_kind() {
    let vm = vm_with_foreign!(call_without_arguments, add);
    let error = vm.call("call_without_arguments", &[Value::from("add")]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Arity);
    assert_eq!(error.message(), "`add` takes 2 arguments, but 0 were given");
}
