"""On-device agent: camera -> flow -> counting -> inspection -> OEE -> store -> MQTT."""

import os

# numpy's BLAS on one thread, set before numpy loads: its matrices here are small
# (a patch model's 400 covariances of 48 x 48), and its threads spinning against the
# pipeline's and each other on a busy board made teach's fit 200 times slower
# (3.1 s vs 0.016 s on a loaded 2-core machine). A value set by the user is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
