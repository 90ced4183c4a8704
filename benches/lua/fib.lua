-- fib: naive recursion. fib(30) = 832040 unless another n is given.
local n = tonumber(arg and arg[1]) or 30
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
local r = fib(n); assert(n ~= 30 or r == 832040); print(r)
