print("netlab")
