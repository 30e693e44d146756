"""tadp-bench: the TADP problem of Zhang et al. (IEEE TVT 2021) and how far solvers are from its optimum.

The package ``tadp`` holds the problem itself: the file formats (instance, solution), the
generator, the physics (the one module that turns rates into times), the evaluator (the one
judge of feasibility and score), the action decoders and the Gymnasium environment. It
imports nothing from the layers above it (``solvers``, ``benchmarks``); docs/architecture.md
draws the map.
"""

__version__ = "0.1.0"

try:  # make `gymnasium.make("tadp/TADP-v0", size="2x5")` work once tadp is imported (the env loads lazily)
    import gymnasium as _gym

    if "tadp/TADP-v0" not in _gym.registry:
        _gym.register(id="tadp/TADP-v0", entry_point="tadp.env:TadpEnv")
except ImportError:  # gymnasium is optional for everything but the RL view
    pass
