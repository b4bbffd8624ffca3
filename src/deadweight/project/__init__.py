"""Read a project as its files describe it (Dockerfile, requirements, pyproject, locks, compose, deployment).

Pure parsing: nothing here runs Docker or reads the image. ``load_project`` is the entry point.
"""

from __future__ import annotations

from deadweight.project.loader import load_project

__all__ = ["load_project"]
