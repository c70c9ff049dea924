def softmax(x, dim=-1):
    e = (x - x.max()).exp()
    return e / e.sum()
