import os

# Keep the test suite friendly to small machines.
os.environ.setdefault("OMP_NUM_THREADS", "2")
