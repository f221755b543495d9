"""gatelab: the perceptron/XOR lesson as a reproducible Hydra + Lightning + DVC pipeline."""
