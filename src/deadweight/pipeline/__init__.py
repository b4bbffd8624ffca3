"""The steps wired together, for the library and the CLI alike: functions over the model, nothing printed.

- ``pipeline.inspect.inspect``: an image's bytes, packages and what a project uses (``InspectResult``);
- ``pipeline.audit.audit``: findings for a service or fleet (``AuditReport``);
- ``pipeline.analyze``: sources -> ``ImageAnalysis`` (every layer streamed once);
- ``pipeline.static``: the estimated inventory of a static audit; ``pipeline.images``: which image to audit.

``deadweight.audit`` and ``deadweight.inspect`` re-export the two entry points.
"""
