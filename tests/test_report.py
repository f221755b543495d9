"""The report says what ran: every setting it names comes from the runs' recorded configs, one
definition of "solved" everywhere, and numbers that mean what their labels say."""

from __future__ import annotations

import json
import math

import pytest
import torch

from conftest import ROOT, run_cli
from gatelab.core.gates import truth_table
from gatelab.core.scores import score
from gatelab.presentation import report
from gatelab.recipes.summary import summarize_study


def settings(**changes) -> dict:
    base = {"architecture": "2-2-1", "activation": "sigmoid", "optimizer": "SGD", "lr": 1.0, "max_steps": 10001,
            "solved_below": 0.05, "seed": 777}  # fmt: skip
    return base | changes


def run_metrics(accuracy=1.0, loss=0.04, steps=300, margin=0.45, **changes) -> dict:
    return {"accuracy": accuracy, "loss": loss, "steps": steps, "max_margin": margin, "solved": accuracy == 1 and loss < 0.05,
            "settings": settings(**changes)}  # fmt: skip


@pytest.mark.parametrize(
    "changes, words, absent",
    [
        ({}, ["seed 777", "full-batch SGD (lr 1)", "at most 10001 steps", "the loss below 0.05"], []),
        ({"lr": 0.5}, ["(lr 0.5)"], ["(lr 1)"]),
        ({"optimizer": "Adam", "lr": 0.01}, ["full-batch Adam (lr 0.01)"], ["SGD"]),
        ({"seed": 3, "max_steps": 2000}, ["seed 3", "at most 2000 steps"], ["777", "10001"]),
        ({"solved_below": 0.02}, ["the loss below 0.02"], ["0.05"]),
        ({"architecture": "2-8-8-1"}, ["mlp2 2-8-8-1"], ["2-2-1"]),
    ],
)
def test_the_grid_section_names_the_settings_the_runs_recorded(changes, words, absent):
    results = {("mlp2", gate): run_metrics(**changes) for gate in ("and", "xor")}
    text = "\n".join(report.grid_section(results, ["mlp2"], ["and", "xor"]))
    for word in words:
        assert word in text, (word, text)
    for word in absent:
        assert word not in text, (word, text)


def test_runs_with_different_settings_are_named_with_each_value():
    results = {("mlp2", "and"): run_metrics(lr=1.0), ("mlp2", "xor"): run_metrics(lr=3.0)}
    assert "(lr 1 or 3)" in "\n".join(report.grid_section(results, ["mlp2"], ["and", "xor"]))


def test_the_deep_net_section_takes_its_architecture_and_budget_from_the_runs():
    results = {(f"deep-{a}", "xor"): run_metrics(architecture="2-64-32-1", max_steps=5000) for a in ("sigmoid", "tanh")}
    text = "\n".join(report.activations_section(results, {"sigmoid": "deep-sigmoid", "tanh": "deep-tanh"}, "xor"))
    assert "## A deep net, 2-64-32-1, on XOR for at most 5000 steps" in text
    assert "2-64-32-16-1" not in text and "1000 steps" not in text


def study(solved: int, seeds: int = 1000, first_seed: int = 0, threshold: float = 0.05, **changes) -> dict:
    failures = {"plateau": seeds - solved, "other": 0, "merged": {}, "outputs_at_group_means": 0, "merged_total": 0}
    return {"solved": solved, "seeds": seeds, "first_seed": first_seed, "threshold": threshold, "failures": failures,
            "steps_to_100": {"median": 600, "p10": 400, "p90": 900} if solved else None,
            "settings": {k: v for k, v in settings(**changes).items() if k != "seed"}}  # fmt: skip


def test_the_study_section_counts_seeds_and_never_rounds_up_to_all():
    studies = {
        ("mlp2", "xor"): study(999),
        ("mlp2", "and"): study(1000),
        ("perceptron", "xor"): study(0),
        ("perceptron", "and"): study(1000),
    }
    text = "\n".join(report.study_section(studies, ["perceptron", "mlp2"], ["and", "xor"]))
    assert "| mlp2 | 1000/1000 [99-100] (600) | 999/1000 [99-100] (600) |" in text
    assert "| perceptron | 1000/1000 [99-100] (600) | 0/1000 [0-1] |" in text
    assert "100 %" not in text


def test_the_study_section_names_its_seeds_rule_and_training():
    studies = {("manual", "xnor"): study(150, seeds=200, first_seed=5000, threshold=0.02, lr=0.5, max_steps=3000)}
    text = "\n".join(report.study_section(studies, ["manual"], ["xnor"]))
    for words in ("Seeds 5000 to 5199", "(200 seeds)", "the loss below 0.02", "(lr 0.5)", "at most 3000 steps"):
        assert words in text, words
    assert "Seeds 0, 1, 2" not in text and "the loss below 0.05" not in text


def test_a_net_answering_one_half_everywhere_is_marked_not_scored():
    undecided = run_metrics(accuracy=0.75, loss=0.6929, margin=0.004)
    assert report.accuracy_cell(undecided) == "0.75*"
    assert report.accuracy_cell(run_metrics(accuracy=0.75, loss=0.4, margin=0.3)) == "0.75"
    assert report.undecided_note([undecided]) and not report.undecided_note([run_metrics()])


@pytest.mark.parametrize(
    "probs, targets, f1",
    [
        ([0.1, 0.2, 0.3, 0.4], [0, 0, 0, 0], None),  # f0000 learned: nothing is 1, nothing answered 1
        ([0.5, 0.5, 0.5, 0.5], [0, 0, 0, 0], None),  # exactly 0.5 is answered 0 (the notes' y > 0.5)
        ([0.9, 0.2, 0.3, 0.4], [0, 0, 0, 0], 0.0),  # a false positive: F1 is defined, and 0
        ([0.1, 0.9, 0.9, 0.1], [0, 1, 1, 0], 1.0),
    ],
)
def test_f1_is_undefined_when_nothing_is_or_is_answered_1(probs, targets, f1):
    scores = score(torch.tensor(probs).unsqueeze(1), torch.tensor(targets, dtype=torch.float32).unsqueeze(1))
    assert scores["f1"] == f1
    assert scores["max_margin"] == pytest.approx(max(abs(p - 0.5) for p in probs))


def test_the_study_times_only_its_solved_seeds():
    """A seed that once answered every row right and then failed (or ended above the threshold) is
    not in the median of 'steps to 100 %' over the solved seeds."""
    first_correct = torch.tensor([100, 200, 300, 5000, 6000, -1])
    # seeds 3 and 4 answered every row right once, but end wrong or above the threshold
    final_loss = torch.tensor([0.01, 0.02, 0.03, 0.2, 0.35, math.log(2)])
    final_correct = torch.tensor([True, True, True, True, False, False])
    x, y = truth_table("xor")
    corners = (x, y, x.expand(6, 4, 2), torch.full((6, 4), 0.5))
    result = summarize_study("mlp2", "xor", range(6), 10001, 0.05, first_correct, final_loss, final_correct, corners)
    assert result["solved"] == 3 and result["per_seed"]["solved"] == [True, True, True, False, False, False]
    # over the solved: 100, 200, 300 (over every seed that reached 100 %, the median would be 300)
    assert result["steps_to_100"] == {"p10": 100, "median": 200, "p90": 200}


def test_the_committed_metrics_and_study_use_one_definition_of_solved():
    for path in (ROOT / "metrics").glob("*/*.json"):
        m = json.loads(path.read_text())
        assert m["solved"] == (m["accuracy"] == 1.0 and m["loss"] < 0.05), path
    for path in (ROOT / "study").glob("*/*.json"):
        s = json.loads(path.read_text())
        assert s["threshold"] == 0.05 and s["solved"] == sum(s["per_seed"]["solved"]), path
        for loss, ok in zip(s["per_seed"]["final_loss"], s["per_seed"]["solved"]):
            assert not ok or loss < s["threshold"], path


@pytest.mark.slow
def test_a_report_from_runs_trained_by_hand_with_another_lr_says_so(tmp_path, data_dir, without_lightning):
    """End to end: train with lr 0.5, evaluate (which never imports Lightning), and the report says
    lr 0.5 (not the default 1)."""
    out = run_cli("src/train.py", "--multirun", "model=perceptron", "data=and,xor", "optimizer.lr=0.5", "seed=5",
                  f"paths.data_dir={data_dir}", f"hydra.sweep.dir={tmp_path}", "hydra.sweep.subdir=.",
                  "trainer.enable_progress_bar=false")  # fmt: skip
    assert out.returncode == 0, out.stderr
    out = run_cli("src/evaluate.py", "--models", "perceptron", "--gates", "and,xor", "--data-dir", str(data_dir),
                  "--models-dir", str(tmp_path / "models"), "--out-dir", str(tmp_path / "eval"), env=without_lightning)  # fmt: skip
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "eval/reports/summary.md").read_text()
    assert "from seed 5: full-batch SGD (lr 0.5), at most 10001 steps" in text and "(lr 1)" not in text
    assert (tmp_path / "eval/metrics/perceptron/xor.json").is_file()


def deep_study(budget: int, solved: int, median: int | None) -> dict:
    result = study(solved, seeds=20, architecture="2-64-32-16-1", max_steps=budget)
    result["steps_to_100"] = {"median": median, "p10": median, "p90": median} if median else None
    return result


@pytest.mark.parametrize(
    "studies, verdict",
    [
        ({1000: deep_study(1000, 0, None), 10001: deep_study(10001, 20, 3487)},
         "With 10001 steps 20 of 20 seeds solve it, after 3487 steps (median): the net does not fail"),
        ({1000: deep_study(1000, 0, None), 5000: deep_study(5000, 0, None)},
         "More steps do not help: 0 of 20 seeds solve it with 5000 steps."),
    ],
)  # fmt: skip
def test_the_deep_net_claim_is_judged_by_the_studies_at_each_budget(studies, verdict):
    text = "\n".join(report.deep_study_section(studies))
    assert verdict in text
    assert "does the 2-64-32-16-1 sigmoid net fail XOR?" in text
    for budget, s in studies.items():
        assert f"| {budget} | {s['solved']}/20 [" in text


def test_a_solve_rates_interval_is_wilsons_and_holds_the_true_rate_95_times_in_100():
    """The report's [low-high] beside each k/n: Wilson's 95 % interval. At 0/n its top is the closed
    form z^2/(n + z^2); it is symmetric in solved and failed; it holds k/n; and over true rates from
    1 % to 99 %, the chance that a study's interval holds the true rate (exact binomial sums) stays
    near 95 % (at least 92 % for 32 and 100 seeds), where the textbook p +- 1.96 sd falls far below."""
    from math import comb, sqrt

    from gatelab.core.rates import Z95, interval_text, wilson_interval

    for n in (32, 100):
        assert wilson_interval(0, n) == (0.0, pytest.approx(Z95**2 / (n + Z95**2)))
        intervals = [wilson_interval(k, n) for k in range(n + 1)]
        for k, (low, high) in enumerate(intervals):
            assert low <= k / n <= high
            assert (1 - high, 1 - low) == pytest.approx(intervals[n - k])

        def coverage(p, interval, n=n):
            return sum(comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1) if interval(k)[0] <= p <= interval(k)[1])

        def wald(k, n=n):
            return k / n - Z95 * sqrt(k / n * (1 - k / n) / n), k / n + Z95 * sqrt(k / n * (1 - k / n) / n)

        rates = [i / 100 for i in range(1, 100)]
        assert min(coverage(p, lambda k, intervals=intervals: intervals[k]) for p in rates) >= 0.92
        assert min(coverage(p, wald) for p in rates) < 0.7
    assert interval_text(27, 32) == "[68-94]" and interval_text(0, 32) == "[0-11]"  # (whole percent, outward)
