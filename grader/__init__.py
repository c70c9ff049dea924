"""The course autograder: a trusted grader that runs untrusted student code in workers.

Start with :mod:`grader.api` (the library behind the ``grade`` command) and
:mod:`grader.compare` (helpers for writing checks).
"""

__version__ = "0.1.0"
