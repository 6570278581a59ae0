"""Sentences a page prints about a result, computed from its numbers and saying how sure they are.

Each reading names the count, the n and the 95% interval behind it, and says "inconclusive"
where the interval (or an adjusted test) cannot tell. Sections and the mechanism panel print
the same sentence; tests check each against cases whose answer is known. One module per kind
of result: ``words`` (the shared phrasing), ``interventions``, ``attention``, ``agent``.
"""
