"""The paper's experiments (Section V, Figs. 4-8 and the claims) with the optimum beside TD3 (docs/paper.md).

- :mod:`benchmarks.paper.sweeps`: what each figure varies and over which values; the points of a run;
- :mod:`benchmarks.paper.cells`: the cells of a point (every solver, retrained at the point; the horizon bound);
- :mod:`benchmarks.paper.points`: finished cells -> ``DIR/<figure>/points.csv``;
- :mod:`benchmarks.paper.run`: ``tadp-bench paper FIGURE...``, figure by figure, resumable;
- :mod:`benchmarks.paper.figures`, :mod:`benchmarks.paper.claims`: figures and the claims table from the
  points alone.

The cells run through the harness's :class:`~benchmarks.harness.Runner` (here, local processes or Dask).
"""
