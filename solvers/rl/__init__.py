"""Deep RL for TADP: TD3 (the paper's Algorithm 1) and DDPG (its benchmark), one code base.

:mod:`solvers.rl.td3` holds the algorithm for any continuous-action Gymnasium environment;
:mod:`solvers.learned` wraps it as registered solvers.
"""
