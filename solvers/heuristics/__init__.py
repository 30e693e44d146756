"""Heuristic solvers that need no training: the greedy (:mod:`solvers.heuristics.greedy`), the bar a
learned policy must clear, and the paper's Random scheme (:mod:`solvers.heuristics.random`)."""
