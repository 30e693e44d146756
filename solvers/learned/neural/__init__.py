"""The ``neural`` solver: a per-task policy with exact sizing, trained on exact per-slot optima (docs/neural.md).

- :mod:`.features`: the tokens of a slot (tasks, gateways, the edge), every number relative to a fair share;
- :mod:`.network`: a permutation-equivariant encoder (attention over tasks, pooling per gateway and edge)
  giving each task a distribution over drop and its four options;
- :mod:`.decoding`: K candidates (argmax and samples), prices that balance each one's pools, a repair of
  overfull pools, admission in the policy's order with deadline-sized shares, the evaluator's best;
- :mod:`.labels`: exact optima (``highs``) of generated slots, cached on disk, and DAgger relabelling;
- :mod:`.training`: imitation, then policy gradient with a baseline shared over K samples;
- :mod:`.checkpoint`: the checkpoint format and the shipped checkpoint (``neural.pt`` beside this file);
- :mod:`.solver`: the registered solver.
"""
