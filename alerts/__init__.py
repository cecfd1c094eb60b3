"""Rules -> findings, notifications and materiovigilance drafts.

Depends on ``metrics`` only. The detection rules arrive with the detection work;
until then the package holds no code, so that the layout and the one-way
dependency rule (``monitor -> alerts -> metrics``) are fixed from the start.
"""

__all__: list[str] = []
