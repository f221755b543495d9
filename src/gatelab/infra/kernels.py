"""One set of CPU kernels on every x86-64 machine, so that results are bit-identical on AVX2 and AVX-512.

torch picks its vectorized kernels by instruction set, and MKL (torch's matrix products on x86)
picks its code path by processor. Both can change the last bits of results: torch's AVX-512
sigmoid differs from its AVX2 sigmoid in a few elements per thousand (measured), and MKL promises
the same bits across processors only in its reproducibility mode (its batched matrix product, the
seed study's ``baddbmm``/``bmm``, gives other last bits outside it). On the ln 2 plateau a last-bit
difference grows into another step at which a seed first answers every row right (mlp4 on XOR,
AVX-512 against AVX2: 3 of 100 seeds moved, one by 62 steps). So gatelab pins both, before torch
computes anything:

- ``ATEN_CPU_CAPABILITY=avx2``: torch's AVX2 kernels, on every x86-64 CPU that has AVX2 (all since
  2013-2015); an AVX-512 machine then computes exactly what an AVX2 machine does;
- ``MKL_CBWR=COMPATIBLE,STRICT``: MKL's conditional numerical reproducibility mode, whose results
  Intel documents as independent of the processor (Intel's or others'), its instruction set and
  memory alignment (checked here: the AVX2, AVX-512 and COMPATIBLE branches agree bit for bit).

Measured cost: 1.00x to 1.03x the unpinned time (``python bench/kernels.py``). A variable the user
has already set is left alone, and ``GATELAB_PIN_CPU_KERNELS=0`` turns pinning off (torch's and
MKL's own choice).
On other CPUs (ARM, x86 without AVX2) nothing is pinned: results may differ in their last bits
there, and docs/reproducibility.md says what stays identical.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

PINNED = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE,STRICT"}


def pin_cpu_kernels() -> dict[str, str]:
    """Set the variables in ``PINNED`` (those the user has not set) where the CPU has AVX2; return
    what was set. Must run before torch runs its first operation: ``gatelab/__init__`` calls it."""
    if os.environ.get("GATELAB_PIN_CPU_KERNELS", "1") == "0" or not has_avx2():
        return {}
    pinned = {name: value for name, value in PINNED.items() if name not in os.environ}
    os.environ.update(pinned)
    return pinned


def has_avx2() -> bool:
    """Whether this is an x86-64 CPU with AVX2 and FMA (what torch's AVX2 kernels use)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    flags = cpu_flags()
    return {"avx2", "fma"} <= flags


def cpu_flags() -> set[str]:
    """The CPU's feature flags, lower-case (``/proc/cpuinfo`` on Linux, ``sysctl`` on macOS)."""
    try:
        if sys.platform.startswith("linux"):
            with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
                line = next((line for line in cpuinfo if line.startswith("flags")), "")
            return set(line.partition(":")[2].split())
        if sys.platform == "darwin":
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.features", "machdep.cpu.leaf7_features"],
                capture_output=True, text=True, check=False,
            ).stdout  # fmt: skip
            return set(out.lower().split())
    except OSError:
        pass
    return set()  # unknown: pin nothing rather than risk kernels the CPU cannot run
