"""gatelab: the perceptron/XOR lesson as a reproducible Hydra + Lightning + DVC pipeline."""

from omegaconf import OmegaConf

from gatelab.kernels import pin_cpu_kernels

# Before torch computes anything: every x86-64 machine runs the same CPU kernels (see kernels.py).
pin_cpu_kernels()


def layer_sizes(*sizes: object) -> str:
    """``${layers:2,${model.hidden},1}`` in a config: the net's layer sizes as a name, ``2-3-3-1``."""
    flat = [size for part in sizes for size in (part if isinstance(part, (list, tuple)) or hasattr(part, "__iter__") and not isinstance(part, str) else [part])]
    return "-".join(str(size) for size in flat)


OmegaConf.register_new_resolver("layers", layer_sizes, replace=True)
