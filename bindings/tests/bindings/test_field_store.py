print("py placeholder")
