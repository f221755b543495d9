"""A net's scores on a set of rows, with torchmetrics: what evaluation writes to metrics/ and what a
run's summary line prints."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import binary_accuracy, binary_auroc, binary_confusion_matrix, binary_f1_score


def score(probs: torch.Tensor, y: torch.Tensor) -> dict:
    """Accuracy, F1, AUROC, confusion matrix and BCE loss of predicted probabilities ``probs``."""
    p, target = probs.flatten(), y.flatten().long()
    (tn, fp), (fn, tp) = binary_confusion_matrix(p, target).tolist()
    return {
        "accuracy": binary_accuracy(p, target).item(),
        # F1 ranks nothing when no row is 1 and none is answered 1 (f0000 learned): undefined, not 0.
        "f1": binary_f1_score(p, target).item() if tp + fp + fn else None,
        # AUROC ranks the 1s against the 0s: undefined for a constant function (f0000, f1111).
        "auroc": binary_auroc(p, target).item() if 0 < target.sum() < len(target) else None,
        "loss": F.binary_cross_entropy(probs, y).item(),
        "confusion_matrix": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
        # How far the answer closest to committing is from 0.5: near 0 means "0.5 everywhere".
        "max_margin": (p - 0.5).abs().max().item(),
    }
