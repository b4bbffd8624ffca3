"""``deadweight guard``: budgets, a baseline to ratchet against, and waivers, evaluated over an audit.

``config`` parses ``[tool.deadweight.guard]``, ``baseline`` reads a previous report, ``facts`` gathers the
figures budgets need from the audited images, ``evaluate`` turns it all into a ``GuardVerdict`` (``model``).
Nothing here prints or exits; ``cli/guard.py`` maps the verdict to an exit code.
"""
