"""A pytest session configured and collected once, then run for one submission per fork.

``pytest.main`` parses its options, registers some thirty plugins, builds the fixture
manager and collects the check files on every call: ~90 ms of a 0.6 s submission in a
batch. A batch slot grades every submission in a process forked from itself, so it does
that work once (:meth:`PreparedSessions.get`, before the fork), and each forked process
runs the collected checks (:meth:`PreparedSession.run`) with the plugin set up for its
submission (:meth:`grader.plugin.GraderPlugin.start_run`).

The steps are pytest's own ``wrap_session``, split where collection ends: configure,
``pytest_sessionstart``, ``pytest_collection``; later ``pytest_runtestloop``,
``pytest_sessionfinish``, unconfigure. Three of the calls (``_prepareconfig``,
``Config._do_configure``, ``Config._ensure_unconfigure``) are pytest's internals, in
every release since 3.x; where one is missing, or anything in preparing fails, there is
no prepared session and the runner calls ``pytest.main`` as before. A prepared session
runs once: a second run (in the process that ran it, or in one forked from it) gets None
and falls back too.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Callable

from grader.spec import ExerciseSpec


class PreparedSession:
    """One collected session: its config, its items, and the GraderPlugin it was collected with."""

    def __init__(self, config, session, plugin, sink: io.StringIO):
        self.config, self.session, self.plugin, self._sink = config, session, plugin, sink
        self._used = False  # set in the process that ran it (and so in its forks)

    @classmethod
    def open(cls, args: list[str], files: dict[Path, ExerciseSpec], without_hidden: set[str]) -> "PreparedSession | None":
        """Configure pytest with ``args`` and collect; None where that is not possible here."""
        import _pytest.config
        import pytest

        from grader.plugin import GraderPlugin

        prepare = getattr(_pytest.config, "_prepareconfig", None)
        if prepare is None or not hasattr(pytest.Config, "_do_configure") or not hasattr(pytest.Session, "from_config"):
            return None
        plugin = GraderPlugin(files, None, "cpu", 0, None, exclude_hidden=without_hidden)
        # What pytest prints during the runs goes here: its terminal reporter keeps the
        # stdout it found at configure time.
        sink = io.StringIO()
        config = None
        with plugin_autoload_off(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            try:
                config = prepare(args, [plugin])
                session = pytest.Session.from_config(config)
                session.exitstatus = pytest.ExitCode.OK
                config._do_configure()
                config.hook.pytest_sessionstart(session=session)
                config.hook.pytest_collection(session=session)
            except BaseException:  # noqa: BLE001 - pytest.main, per run, says what is wrong
                traceback.print_exc(file=sys.__stderr__)
                if config is not None:
                    with contextlib.suppress(BaseException):
                        config._ensure_unconfigure()
                return None
        return cls(config, session, plugin, sink)

    def run(self, start: Callable, inputs: str) -> tuple[int, str] | None:
        """Run the collected checks once: ``start(plugin)`` sets the plugin up for the
        submission first. (exit code, what pytest printed); None if it ran already."""
        import pytest

        if self._used:
            return None
        self._used = True
        start(self.plugin)
        config, session = self.config, self.session
        self._sink.seek(0)
        self._sink.truncate()
        saved_tempdir, tempfile.tempdir = tempfile.tempdir, inputs
        with contextlib.redirect_stdout(self._sink), contextlib.redirect_stderr(self._sink):
            try:
                config.hook.pytest_runtestloop(session=session)
                if session.testsfailed:
                    session.exitstatus = pytest.ExitCode.TESTS_FAILED
                elif session.testscollected == 0:
                    session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
            except (KeyboardInterrupt, pytest.exit.Exception):  # collection errors end the loop so
                session.exitstatus = pytest.ExitCode.INTERRUPTED
                config.hook.pytest_keyboard_interrupt(excinfo=pytest.ExceptionInfo.from_current())
            except BaseException:  # noqa: BLE001
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
                traceback.print_exc()
            finally:
                try:
                    config.hook.pytest_sessionfinish(session=session, exitstatus=session.exitstatus)
                    config._ensure_unconfigure()
                finally:
                    self.plugin.close()
                    tempfile.tempdir = saved_tempdir
        return int(session.exitstatus), self._sink.getvalue()


class PreparedSessions:
    """A batch slot's prepared sessions, one per set of check files (and hidden-check choice)."""

    def __init__(self, make_args: Callable[[dict[Path, ExerciseSpec]], list[str]]):
        self._make_args = make_args
        self._sessions: dict[tuple, PreparedSession | None] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, files: dict[Path, ExerciseSpec], without_hidden: set[str]) -> PreparedSession | None:
        key = (tuple(str(p) for p in files), tuple(sorted(without_hidden)))
        if key not in self._sessions:
            self._sessions[key] = PreparedSession.open(self._make_args(files), files, without_hidden)
        return self._sessions[key]


@contextlib.contextmanager
def plugin_autoload_off():
    """Third-party pytest plugins installed beside us (hypothesis, xdist, ...) have no
    business in a grading run, and loading them costs seconds."""
    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved


__all__ = ["PreparedSession", "PreparedSessions", "plugin_autoload_off"]
