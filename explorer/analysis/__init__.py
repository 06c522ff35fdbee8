"""Looking inside trained nets: diagnostics, attribution (captum), loss landscapes, ablation and
ensembles of paths, the gradient highway, evaluation.

Nothing is imported here: import from the module (`explorer.analysis.attribution` needs captum, and the
worker imports `explorer.analysis.evaluation` without it).
"""

__all__: list[str] = []
