print("tlearn-bench: no benchmarks yet")
