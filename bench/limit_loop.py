"""The seed study's arithmetic alone, as a minimal loop (no Lightning, no bookkeeping): the limit that
bench/study_scale.py --limit times the study against. Sigmoid nets, mean BCE, plain SGD, every copy
on every row: what gatelab.recipes.batched computes, without its bookkeeping (verdicts, snapshots of
the first-correct step, progress). ``check_against_autograd`` proves both forms compute it."""

from __future__ import annotations

import torch


def scalar_steps(sizes: list[int], x: list[list[float]], y: list[float], lr: float, steps: int):
    """K (``steps``) SGD steps of a sigmoid net of layer ``sizes`` on the rows (x, y), mean BCE, written
    per copy as scalar arithmetic over one [S] tensor per parameter (structure of arrays); returns a
    function of the parameters' list (weights layer by layer, out x in, then biases) -> new list."""
    rows = len(x)

    def layers_of(params):
        out, k = [], 0
        for fan_in, fan_out in zip(sizes, sizes[1:]):
            w = [[params[k + j * fan_in + i] for i in range(fan_in)] for j in range(fan_out)]
            k += fan_in * fan_out
            b = [params[k + j] for j in range(fan_out)]
            k += fan_out
            out.append((w, b))
        return out

    def weighted(terms):
        total = None
        for coefficient, value in terms:
            if isinstance(coefficient, float) and coefficient == 0.0:
                continue
            term = value if isinstance(coefficient, float) and coefficient == 1.0 else coefficient * value
            total = term if total is None else total + term
        return total

    def step(params):
        layers = layers_of(params)
        grads_w = [[[None] * len(w[0]) for _ in w] for w, _ in layers]
        grads_b = [[None] * len(b) for _, b in layers]

        def add(grid, j, i, value):
            grid[j][i] = value if grid[j][i] is None else grid[j][i] + value

        for r in range(rows):
            acts = [list(map(float, x[r]))]
            for w, b in layers:
                z = [weighted([(a, w[j][i]) for i, a in enumerate(acts[-1])] + [(1.0, b[j])]) for j in range(len(b))]
                acts.append([torch.sigmoid(v) for v in z])
            dz = [(acts[-1][0] - y[r]) * (1.0 / rows)]  # d mean BCE / d output logit
            for layer in range(len(layers) - 1, -1, -1):
                w, _ = layers[layer]
                prev = acts[layer]
                for j, d in enumerate(dz):
                    grads_b[layer][j] = d if grads_b[layer][j] is None else grads_b[layer][j] + d
                    for i, a in enumerate(prev):
                        if isinstance(a, float):
                            if a != 0.0:
                                add(grads_w[layer], j, i, d if a == 1.0 else a * d)
                        else:
                            add(grads_w[layer], j, i, a * d)
                if layer:
                    dz = [weighted([(1.0, dz[j] * w[j][i]) for j in range(len(dz))]) * prev[i] * (1 - prev[i]) for i in range(len(prev))]
        new = []
        for (w, b), gw, gb in zip(layers, grads_w, grads_b):
            new += [w[j][i] - lr * gw[j][i] if gw[j][i] is not None else w[j][i] for j in range(len(w)) for i in range(len(w[0]))]
            new += [b[j] - lr * gb[j] for j in range(len(b))]
        return new

    def program(*params):
        params = list(params)
        for _ in range(steps):
            params = step(params)
        return tuple(params)

    return program


def bmm_step(sizes, x, y, lr):
    """One SGD step of the same nets for S copies as batched matrix products, backprop by hand."""
    xs = torch.tensor(x, dtype=torch.float32)
    ys = torch.tensor(y, dtype=torch.float32).view(-1, 1)

    def step(*params):
        ws, bs = params[0::2], params[1::2]  # [S, out, in], [S, out]
        acts = [xs.expand(ws[0].shape[0], *xs.shape)]
        for w, b in zip(ws, bs):
            acts.append(torch.sigmoid(torch.baddbmm(b.unsqueeze(1), acts[-1], w.transpose(1, 2))))
        dz = (acts[-1] - ys) / len(x)
        new = []
        for layer in range(len(ws) - 1, -1, -1):
            gw = torch.bmm(dz.transpose(1, 2), acts[layer])
            gb = dz.sum(1)
            if layer:
                dz = torch.bmm(dz, ws[layer]) * acts[layer] * (1 - acts[layer])
            new = [ws[layer] - lr * gw, bs[layer] - lr * gb, *new]
        return tuple(new)

    return step


def copies_last_step(sizes, x, y, lr):
    """The same step with the copies as the last dimension (``[out, in, S]``, ``[out, S]``): each
    product per copy a broadcast product summed over one dimension, the backward written out."""
    xs = torch.tensor(x, dtype=torch.float32).T.unsqueeze(-1)  # [in, rows, 1]
    ys = torch.tensor(y, dtype=torch.float32).unsqueeze(1)  # [rows, 1]

    def step(*params):
        ws, bs = params[0::2], params[1::2]
        acts = [xs]
        for w, b in zip(ws, bs):
            acts.append(torch.sigmoid((w.unsqueeze(2) * acts[-1].unsqueeze(0)).sum(1) + b.unsqueeze(1)))
        dz = (acts[-1] - ys) / len(x)  # [1, rows, S]
        new = []
        for layer in range(len(ws) - 1, -1, -1):
            gw = (dz.unsqueeze(1) * acts[layer].unsqueeze(0)).sum(2)
            gb = dz.sum(1)
            if layer:
                below = acts[layer]
                dz = (ws[layer].unsqueeze(2) * dz.unsqueeze(1)).sum(0) * below * (1 - below)
            new = [ws[layer] - lr * gw, bs[layer] - lr * gb, *new]
        return tuple(new)

    return step


def copies_last(params: tuple) -> tuple:
    """``parameters(..., scalar=False)`` in ``copies_last_step``'s layout."""
    return tuple(t.permute(*range(1, t.dim()), 0).contiguous() for t in params)


def parameters(sizes: list[int], seeds: int, scalar: bool, generator_seed: int = 0) -> tuple:
    """Random weights for ``seeds`` copies: per layer [S, out, in] and [S, out]; or, ``scalar``, the
    same as one [S] tensor per parameter, in ``scalar_steps``' order."""
    generator = torch.Generator().manual_seed(generator_seed)
    layers = [(torch.randn(seeds, b, a, generator=generator), torch.randn(seeds, b, generator=generator))
              for a, b in zip(sizes, sizes[1:])]  # fmt: skip
    if not scalar:
        return tuple(t for pair in layers for t in pair)
    flat = []
    for w, b in layers:
        flat += [w[:, j, i].contiguous() for j in range(w.shape[1]) for i in range(w.shape[2])]
        flat += [b[:, j].contiguous() for j in range(b.shape[1])]
    return tuple(flat)


def check_against_autograd(sizes: list[int], rows, labels, steps: int = 20, seeds: int = 8) -> None:
    """Both loops end where autograd's SGD on the mean BCE ends, to float32 rounding."""
    x = torch.tensor(rows, dtype=torch.float32)
    y = torch.tensor(labels, dtype=torch.float32).view(-1, 1)
    reference = [t.clone().requires_grad_() for t in parameters(sizes, seeds, scalar=False)]
    for _ in range(steps):
        a = x.expand(seeds, *x.shape)
        for w, b in zip(reference[0::2], reference[1::2]):
            a = torch.sigmoid(torch.baddbmm(b.unsqueeze(1), a, w.transpose(1, 2)))
        loss = torch.nn.functional.binary_cross_entropy(a, y.expand(seeds, *y.shape), reduction="none").mean(dim=(1, 2)).sum()
        grads = torch.autograd.grad(loss, reference)
        with torch.no_grad():
            reference = [(p - g).requires_grad_() for p, g in zip(reference, grads)]
    step = bmm_step(sizes, rows, labels, 1.0)
    params = parameters(sizes, seeds, scalar=False)
    for _ in range(steps):
        params = step(*params)
    worst = max(float((p - r.detach()).abs().max()) for p, r in zip(params, reference))
    assert worst < 1e-4, f"the batched-matmul loop is {worst} from autograd"
    step = copies_last_step(sizes, rows, labels, 1.0)
    params = copies_last(parameters(sizes, seeds, scalar=False))
    for _ in range(steps):
        params = step(*params)
    worst = max(float((p - r.detach()).abs().max()) for p, r in zip(params, copies_last(tuple(reference))))
    assert worst < 1e-4, f"the copies-last loop is {worst} from autograd"
    if len(sizes) == 3:
        ends = scalar_steps(sizes, rows, labels, 1.0, steps)(*parameters(sizes, seeds, scalar=True))
        flat = []
        for w, b in zip(reference[0::2], reference[1::2]):
            flat += [w[:, j, i] for j in range(w.shape[1]) for i in range(w.shape[2])] + [b[:, j] for j in range(b.shape[1])]
        worst = max(float((p - r.detach()).abs().max()) for p, r in zip(ends, flat))
        assert worst < 1e-4, f"the scalar loop is {worst} from autograd"
