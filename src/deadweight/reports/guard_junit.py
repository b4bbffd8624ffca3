"""``deadweight guard --format junit``: JUnit XML for CI test tabs. One test suite per service, one test
case per budget: a ``failure`` element when over budget, ``skipped`` when it could not be checked, a plain
pass (with the waiver in ``system-out``) when waived. A service that could not be audited is one test case
with an ``error`` element. The fleet's budgets (``[guard.fleet]``) are one more suite, ``(fleet)``."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from deadweight.guard.model import FLEET, GuardVerdict, ServiceVerdict, Status


def _case_name(budget: str, package: str | None, subject: str | None) -> str:
    if budget == "new-finding" and subject:
        return f"{budget} {subject}"
    return budget if package is None or budget.endswith(package) else f"{budget} {package}"


def render(verdict: GuardVerdict) -> str:
    root = ET.Element("testsuites", name="deadweight guard")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    suites: list[ServiceVerdict] = list(verdict.services)
    if verdict.fleet is not None:
        suites.append(ServiceVerdict(FLEET, None, "fleet", None, None, checks=verdict.fleet.checks))
    for service in suites:
        suite = ET.SubElement(root, "testsuite", name=service.name)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        if service.error:
            case = ET.SubElement(suite, "testcase", classname=f"deadweight.guard.{service.name}", name="audit")
            ET.SubElement(case, "error", message=service.error, type="not-audited").text = service.error
            counts["tests"] += 1
            counts["errors"] += 1
        for check in service.checks:
            finding = check.finding
            subject = None
            if finding is not None:
                subject = f"{finding.rule} {finding.subject}" if finding.subject else finding.rule
            case = ET.SubElement(suite, "testcase", classname=f"deadweight.guard.{service.name}",
                                 name=_case_name(check.budget, check.package, subject))
            counts["tests"] += 1
            if check.status is Status.FAIL:
                ET.SubElement(case, "failure", message=check.message, type="over-budget").text = check.message
                counts["failures"] += 1
            elif check.status is Status.NOT_CHECKED:
                ET.SubElement(case, "skipped", message=f"not checked: {check.reason}")
                counts["skipped"] += 1
            elif check.status is Status.WAIVED:
                ET.SubElement(case, "system-out").text = check.message
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
