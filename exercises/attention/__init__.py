"""Exercise 2: scaled dot-product attention with masks, and GPT-2 style multi-head attention."""

from exercises import course_exercise

EXERCISE = course_exercise(
    "attention",
    "Scaled dot-product and multi-head attention",
    order=2,
    section="2. Scaled dot-product and multi-head attention",
)
