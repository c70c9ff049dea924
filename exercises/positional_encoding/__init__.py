"""Exercise 3: sinusoidal positional encodings."""

from exercises import course_exercise

EXERCISE = course_exercise(
    "positional_encoding",
    "Sinusoidal positional encoding",
    order=3,
    section="3. Positional encodings: telling the model where a token is",
)
