"""Line simulator: rendered parts and belt footage with exact ground truth.

`agent.sim.parts` draws part designs with defects; `agent.sim.line` renders a whole
belt video from a seeded `Scenario` and returns its `GroundTruth`. Tests, the demo and
the benchmarks use it; nothing in the running agent depends on it.
"""
