"""Exercise 1: a numerically stable softmax."""

from exercises import course_exercise

EXERCISE = course_exercise(
    "softmax",
    "Numerically stable softmax",
    order=1,
    section="1. Softmax and the log-sum-exp trick",
)
