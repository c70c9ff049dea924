"""Exercise 3 — positional encoding (course section 3: "Positional encodings: telling the model where a token is").

Attention treats its input as a set: shuffle the tokens and each output row just moves
along. The original transformer (Vaswani et al. 2017, "Attention Is All You Need",
section 3.5) adds a fixed *sinusoidal* encoding of each position to the token embeddings.
Write ``sinusoidal_positional_encoding(max_len, d_model)``, the table of those encodings:

    PE[p, 2i]   = sin(p / 10000^(2i / d_model))
    PE[p, 2i+1] = cos(p / 10000^(2i / d_model))

for positions ``p = 0, 1, ..., max_len - 1`` and pairs ``i = 0, 1, ..., d_model/2 - 1``.

Conventions:

- The result has shape ``(max_len, d_model)`` and dtype ``torch.float32``.
- Positions start at 0, so row 0 is ``[0, 1, 0, 1, ...]`` (sin 0 = 0, cos 0 = 1).
- Interleaved: sin in the even columns 0, 2, 4, ..., cos in the odd columns 1, 3, 5, ...;
  columns 2i and 2i+1 share one angle (the exponent is 2i/d_model for both). Some
  libraries concatenate ``[all sin | all cos]`` instead: that is a different layout, and
  not the one asked for here.
- Stay accurate for long sequences (``max_len`` in the thousands). In float32 the
  frequencies are rounded, and at position 4000 that rounding grows to a few 1e-4 in the
  angle; computing in float64 and casting the table once, at the end, avoids it.
- ``d_model`` must be a positive even int and ``max_len`` a positive int: raise a
  ``ValueError`` with a one-line message otherwise (``d_model=7`` has no cos partner for
  its last sin column).
- No learned parameters, no gradients needed: this is a fixed table.

Check your work with ``grade exercise positional_encoding``.
"""

import math

import torch
from torch import Tensor


def sinusoidal_positional_encoding(max_len: int, d_model: int) -> Tensor:
    # returns (max_len, d_model): row p encodes position p
    raise NotImplementedError("sinusoidal_positional_encoding: build the (max_len, d_model) sin/cos table")
