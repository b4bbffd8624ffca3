"""Usage evidence: what code, commands and configuration really use, and the verdicts built on it.

Scanners (imports, strings, commands, optional deps, device) turn files into ``Evidence``;
``mapping`` resolves modules and commands to distributions; ``verdicts.decide`` joins them with the
image inventory. See docs/evidence.md.
"""

from __future__ import annotations

from deadweight.usage.device import decide_device, device_evidence
from deadweight.usage.mapping import ModuleMapper, ModuleMapping, PypiModules
from deadweight.usage.scan import ScanResult, ScanWarning, iter_project_files, scan_directory, scan_files
from deadweight.usage.verdicts import TOOLING, decide

__all__ = [
    "TOOLING",
    "ModuleMapper",
    "ModuleMapping",
    "PypiModules",
    "ScanResult",
    "ScanWarning",
    "decide",
    "decide_device",
    "device_evidence",
    "iter_project_files",
    "scan_directory",
    "scan_files",
]
