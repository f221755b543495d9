"""gatelab: the perceptron/XOR lesson as a reproducible Hydra + Lightning + DVC pipeline.

The package's layers, each importing only those below it (pyproject.toml's import-linter
contracts check it; the README's map says what lives where):

    recipes        train, the seed study and its shards           (Lightning)
    models, backprop, data, callbacks, snapshots, progress, loggers
                   the Lightning adapters conf/ names by path      (Lightning)
    presentation   evaluation, plots, animation, landscape, report (never Lightning)
    config         layout, run record, study planning, checks      (OmegaConf, Hydra)
    core           truth tables, network, chain rule, solved rule  (torch only)
    infra          errors, files, CPU kernels, library touchpoints
"""

from omegaconf import OmegaConf

from gatelab.infra.kernels import pin_cpu_kernels

# Before torch computes anything: every x86-64 machine runs the same CPU kernels (see infra/kernels.py).
pin_cpu_kernels()


def layer_sizes(*sizes: object) -> str:
    """``${layers:2,${model.hidden},1}`` in a config: the net's layer sizes as a name, ``2-3-3-1``."""
    # Imported here, not above: torch's import would slow every command's start (src/generate.py
    # does not use torch at all), and only the landscape's config uses this resolver.
    from gatelab.core.network import architecture

    inputs, *hidden, _output = [
        size
        for part in sizes
        for size in (part if isinstance(part, (list, tuple)) or (hasattr(part, "__iter__") and not isinstance(part, str)) else [part])
    ]
    return architecture(inputs, hidden)


OmegaConf.register_new_resolver("layers", layer_sizes, replace=True)
