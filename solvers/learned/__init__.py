"""Learned solvers: TD3 (the paper's Algorithm 1) and DDPG (its benchmark), one code base.

- :mod:`solvers.learned.td3`: the hyper-parameters, the replay buffer and the training loop, for any
  continuous-action Gymnasium environment (it also learns Pendulum, ``benchmarks/td3_pendulum.py``);
- :mod:`solvers.learned.networks`, :mod:`solvers.learned.policy`: the networks, and a trained actor
  as a function (fp32 or int8);
- :mod:`solvers.learned.checkpoint`: policies on disk;
- :mod:`solvers.learned.training`: training on an instance's fresh traces, with model selection;
- :mod:`solvers.learned.actors`: the registered solvers ``td3``, ``ddpg``, ``td3-fit``, ``ddpg-fit``.
"""
