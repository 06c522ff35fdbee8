"""Plotly figures from records: pure functions, tested without a browser.

Nothing is imported here: import from the module (every module here needs plotly).
"""

__all__: list[str] = []
