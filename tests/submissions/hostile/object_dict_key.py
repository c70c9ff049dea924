"""Hostile: returns a dict keyed by an object. Decoded, the key would be a handle, which a
check that passes the value back (student.GPT(student.GPTConfig(...))) could not send:
"the grader itself failed", retried on every --resume. Refused as the student's reply."""


class _Key:
    pass


def softmax(x, dim=-1):
    return {_Key(): 1}
