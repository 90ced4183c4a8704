-- string.len stands in for a host C function: Lua's cost of calling a C function.
local len, s, total = string.len, "ab", 0
for i = 0, 10000000 - 1 do total = total + len(s) end
assert(total == 20000000); print(total)
