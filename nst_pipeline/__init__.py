"""nst_pipeline: the experiment pipeline around the `nst` engine (planner, jobs, grids, report).

Imports the engine; the engine never imports this package.
"""
