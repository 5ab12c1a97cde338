#!/usr/bin/env python3
"""Self instructions per function in one callgrind dump (valgrind 3.19's callgrind_annotate
attributes a `callgrind_control --dump` part to `clone` only). Usage: cgself.py FILE [N] [REQUESTS]"""
import collections, sys

def self_costs(path):
    costs = collections.Counter()
    fn = None
    skip_next = False
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("fn="):
                fn = line[3:]
                continue
            if line.startswith("calls="):
                skip_next = True  # the next cost line is the call's inclusive cost
                continue
            if not line or not (line[0].isdigit() or line[0] in "+-*"):
                continue
            if skip_next:
                skip_next = False
                continue
            parts = line.split()
            if len(parts) >= 2 and fn is not None:
                costs[fn] += int(parts[1])
    return costs

if __name__ == "__main__":
    costs = self_costs(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    reqs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    total = sum(costs.values())
    print(f"total {total:,} ({total / reqs:,.0f} per request)")
    for name, c in costs.most_common(n):
        print(f"{c / reqs:>10,.0f} {100 * c / total:5.1f}%  {name[:150]}")
