"""Exercise 4: a GPT-2 style pre-LayerNorm decoder block."""

from exercises import course_exercise

EXERCISE = course_exercise(
    "decoder_block",
    "GPT-2 decoder block",
    order=4,
    section="4. The GPT-2 decoder block",
    # The handout lets a student use their own attention from exercise 2 instead of the given one.
    requires=("attention",),
)
