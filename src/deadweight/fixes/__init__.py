"""``deadweight fix``: the remedies of the findings turned into minimal, verified text edits.

One editor module per file kind (requirements, dockerfile, pyproject, compose, dockerignore, ...), a shared
workspace holding the text of every file as the fixes so far left it, and a transaction that writes them all
or none. Fixes edit text; they never decide what is dead (the rules did).
"""
