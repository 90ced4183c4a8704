local sum = 0
for i = 0, 100000000 - 1 do sum = sum + i end
assert(sum == 4999999950000000); print(sum)
