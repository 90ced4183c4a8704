-- string.len stands in for a host C function: Lua's cost of calling a C function.
-- n = 10,000,000 calls unless given.
local n = tonumber(arg and arg[1]) or 10000000
local len, s, total = string.len, "ab", 0
for i = 0, n - 1 do total = total + len(s) end
assert(total == 2 * n); print(total)
