"""RESULTS/junit.xml: the class as JUnit XML, for CI systems (written with xml.etree).

One ``<testsuite>`` per student, one ``<testcase>`` per check (``classname`` is
``student.exercise``); a failed check is a ``<failure>``, a check the grader could not
run an ``<error>`` (a hidden check's without its message). Points travel as testcase properties. No timings are written, so
the same grades always give the same file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from grader.batch.records import ClassResults, shown_message
from grader.results import ERROR, FAILED


def write_junit(results: ClassResults, path: Path) -> None:
    root = ET.Element("testsuites", name="grade batch")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for student in results.students:
        suite = ET.SubElement(root, "testsuite", name=student.id)
        counts = {"tests": 0, "failures": 0, "errors": 0}
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="score", value=f"{student.total:g}")
        ET.SubElement(props, "property", name="max_score", value=f"{results.max_total:g}")
        ET.SubElement(props, "property", name="status", value=student.status)
        for name in results.names:
            for check in student.results[name].checks:
                case = ET.SubElement(suite, "testcase", classname=f"{student.id}.{name}", name=check.name)
                cprops = ET.SubElement(case, "properties")
                ET.SubElement(cprops, "property", name="points", value=f"{check.points:g}")
                ET.SubElement(cprops, "property", name="max_points", value=f"{check.max_points:g}")
                if check.hidden:
                    ET.SubElement(cprops, "property", name="hidden", value="true")
                counts["tests"] += 1
                message = shown_message(check)
                if check.status == FAILED:
                    counts["failures"] += 1
                    ET.SubElement(case, "failure", message=message[:300]).text = message
                elif check.status == ERROR:
                    counts["errors"] += 1
                    ET.SubElement(case, "error", message=message[:300]).text = message
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    tree = ET.ElementTree(root)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
