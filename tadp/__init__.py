"""tadp-bench: the TADP problem of Zhang et al. (IEEE TVT 2021) and how far solvers are from its optimum.

The package ``tadp`` holds the problem itself: the instance format and generator, the
evaluator (the one judge of feasibility and score), the solution format, the
Gymnasium environment and the command line.
"""

__version__ = "0.1.0"
