"""Batch grading for instructors: ``grade batch SUBMISSIONS --out RESULTS``.

- ``discover``  one entry per student in SUBMISSIONS (folders, zips, files, Canvas exports)
- ``unpack``    safe unzipping and finding each exercise's module in what a student uploaded
- ``job``       one submission in, one JSON result out (runs in a forked trusted process)
- ``slot``      a warm process per core that forks a fresh trusted process per submission
- ``engine``    the local pool of slots; ``cluster``: the same jobs on a Dask scheduler
- ``journal``   RESULTS/journal.jsonl, appended and fsynced per student; resume
- ``records``   the class as every output sees it; ``gradebook`` (grades.csv, Canvas),
  ``gradescope``, ``junit``, ``feedback``, ``report`` (HTML)
- ``run``       ``run_batch``, the library entry point; ``cli``: the ``grade batch`` command
"""
