"""gatelab: the perceptron/XOR lesson as a reproducible Hydra + Lightning + DVC pipeline."""

from gatelab.kernels import pin_cpu_kernels

# Before torch computes anything: every x86-64 machine runs the same CPU kernels (see kernels.py).
pin_cpu_kernels()
