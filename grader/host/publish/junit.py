"""JUnit XML for CI test reports: a testsuite per submission, a testcase per criterion.

A criterion below full points is a failure carrying the grader's message. Points travel as
properties; a criterion's place in the submission is the testcase's `file` and `line`. The
file is for instructors, so hidden criteria are shown like the others.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from grader.host.publish.common import number
from grader.host.results import GradeResult
from grader.rubric.models import Rubric

# XML 1.0 has no escape for these; student output (ANSI colours, NUL) is full of them.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    return NOT_XML.sub("", value)


def _properties(parent: ET.Element, values: dict[str, str]) -> None:
    properties = ET.SubElement(parent, "properties")
    for name, value in values.items():
        ET.SubElement(properties, "property", name=name, value=_text(value))


def _suite(result: GradeResult, rubric: Rubric) -> ET.Element:
    failures = sum(not c.passed for c in result.criteria)
    suite = ET.Element(
        "testsuite",
        name=_text(result.submission),
        tests=str(len(result.criteria)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{result.timings.total_seconds:.2f}",
    )
    _properties(
        suite,
        {
            "rubric": rubric.id,
            "score": number(result.score),
            "max_score": number(result.max_score),
            "status": result.status,
        },
    )
    for criterion in result.criteria:
        case = ET.SubElement(suite, "testcase", name=criterion.id, classname=_text(result.submission))
        if criterion.file:  # where CI reporters link the case (pytest's and Jest's attributes)
            case.set("file", _text(criterion.file))
            if criterion.line:
                case.set("line", str(criterion.line))
        _properties(case, {"points": number(criterion.points), "max_points": number(criterion.max_points)})
        if not criterion.passed:
            failure = ET.SubElement(
                case,
                "failure",
                message=_text(criterion.message),
                type="partial" if criterion.points > 0 else "missed",
            )
            detail = (
                f"{number(criterion.points)} / {number(criterion.max_points)} points. {criterion.message}"
            )
            failure.text = _text(f"{detail}\nFix: {criterion.hint}" if criterion.hint else detail)
    for tag, text in (("system-out", result.stdout), ("system-err", result.stderr)):
        if text:
            ET.SubElement(suite, tag).text = _text(text)
    return suite


def junit_tree(results: list[GradeResult], rubric: Rubric) -> ET.ElementTree:
    ordered = sorted(results, key=lambda r: r.submission)
    root = ET.Element(
        "testsuites",
        name=f"lightning-grader {rubric.id}",
        tests=str(sum(len(r.criteria) for r in ordered)),
        failures=str(sum(not c.passed for r in ordered for c in r.criteria)),
        errors="0",
        time=f"{sum(r.timings.total_seconds for r in ordered):.2f}",
    )
    root.extend(_suite(result, rubric) for result in ordered)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    return tree


def write_junit(results: list[GradeResult], rubric: Rubric, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    junit_tree(results, rubric).write(out / "junit.xml", encoding="utf-8", xml_declaration=True)
