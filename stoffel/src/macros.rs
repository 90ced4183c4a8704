//! `foreign!`: the `ForeignFunction` a `#[foreign_fn]` describes, ready to register.

/// The [`ForeignFunction`](crate::ForeignFunction) of a [`#[foreign_fn]`](crate::foreign_fn),
/// named by its path: `foreign!(add)`, `foreign!(math::add)`, `foreign!(crate::math::add)`.
///
/// It expands to `path::to::add::foreign_function()`, a call into the hidden module that
/// `#[foreign_fn]` puts beside the function, so it works wherever the function is visible.
/// Naming a function without `#[foreign_fn]` fails to compile.
///
/// # Examples
///
/// Plain values, an optional argument, a foreign object and the context:
///
/// ```
/// use stoffel::{foreign, foreign_fn, ForeignFunctionContext, Value, VirtualMachine};
///
/// mod geometry {
///     use stoffel::foreign_fn;
///
///     /// The hypotenuse of a right triangle.
///     #[foreign_fn]
///     pub fn hypot(a: f64, b: f64) -> f64 {
///         a.hypot(b)
///     }
/// }
///
/// /// A greeting; the greeting word is optional.
/// #[foreign_fn(name = "greet")]
/// fn greeting(name: &str, word: Option<&str>) -> String {
///     format!("{} {name}", word.unwrap_or("hello"))
/// }
///
/// struct Counter {
///     count: i64,
/// }
///
/// /// Adds `by` to the counter and returns the new count.
/// #[foreign_fn]
/// fn bump(counter: &mut Counter, by: i64) -> i64 {
///     counter.count += by;
///     counter.count
/// }
///
/// /// Calls `name` (any VM or foreign function) twice with `argument`.
/// #[foreign_fn]
/// fn twice(ctx: &mut ForeignFunctionContext, name: &str, argument: Value) -> Result<Value, stoffel::Error> {
///     let once = ctx.call(name, &[argument])?;
///     ctx.call(name, &[once])
/// }
///
/// # fn main() -> Result<(), stoffel::Error> {
/// let vm = VirtualMachine::new();
/// vm.register_foreign(foreign!(geometry::hypot));
/// vm.register_foreign(foreign!(greeting));
/// vm.register_foreign(foreign!(bump));
/// vm.register_foreign(foreign!(twice));
/// vm.register_fn("double", |x: i64| x * 2);
///
/// assert_eq!(vm.call("hypot", &[Value::Int(3), Value::Int(4)])?, Value::Float(5.0));
/// assert_eq!(vm.call("greet", &[Value::from("ada")])?, Value::from("hello ada"));
/// assert_eq!(vm.call("greet", &[Value::from("ada"), Value::from("hi")])?, Value::from("hi ada"));
///
/// let counter = vm.register_foreign_object(Counter { count: 0 });
/// vm.call("bump", &[counter.clone(), Value::Int(5)])?;
/// assert_eq!(vm.foreign_object::<Counter>(&counter)?.lock().unwrap().count, 5);
///
/// assert_eq!(vm.call("twice", &[Value::from("double"), Value::Int(3)])?, Value::Int(12));
///
/// let error = vm.call("greet", &[]).unwrap_err();
/// assert_eq!(error.message(), "`greet` takes 1 to 2 arguments, but 0 were given");
/// # Ok(()) }
/// ```
#[macro_export]
macro_rules! foreign {
    (:: $($segment:ident)::+) => {
        :: $($segment)::+ ::foreign_function()
    };
    ($($segment:ident)::+) => {
        $($segment)::+ ::foreign_function()
    };
}
