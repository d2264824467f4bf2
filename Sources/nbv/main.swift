print("nbv")
