def softmax(x, dim=-1):
    while True:
        print("spam " * 1000)
