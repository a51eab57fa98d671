print("audithound-bench")
