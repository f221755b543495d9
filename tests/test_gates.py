import pytest
import torch

from gatelab.core.gates import FUNCTIONS, GATES, jittered_splits, read_gate_csv, truth_table, write_gate_csv
from gatelab.infra.errors import GatelabError


def test_truth_tables_compute_their_gates():
    ops = {
        "and": lambda a, b: a and b,
        "or": lambda a, b: a or b,
        "nand": lambda a, b: not (a and b),
        "nor": lambda a, b: not (a or b),
        "xor": lambda a, b: a != b,
        "xnor": lambda a, b: a == b,
    }
    assert set(GATES) == set(ops)
    for gate, op in ops.items():
        x, y = truth_table(gate)
        assert x.shape == (4, 2) and y.shape == (4, 1) and x.dtype == y.dtype == torch.float32
        assert [int(v) for v in y.flatten()] == [int(op(bool(a), bool(b))) for a, b in x.int().tolist()]


@pytest.mark.parametrize("gate", list(GATES))
def test_csv_round_trip(tmp_path, gate):
    path = write_gate_csv(gate, tmp_path / f"{gate}.csv")
    x, y = read_gate_csv(path)
    x_ref, y_ref = truth_table(gate)
    assert torch.equal(x, x_ref) and torch.equal(y, y_ref)


def test_rows_in_any_order_are_put_back_in_truth_table_order(tmp_path):
    path = tmp_path / "xor.csv"
    path.write_text("x1,x2,y\n1,1,0\n0,0,0\n1,0,1\n0,1,1\n")
    x, y = read_gate_csv(path)
    assert torch.equal(x, truth_table("xor")[0]) and torch.equal(y, truth_table("xor")[1])


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("a,b,c\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n", "header"),
        ("x1,x2,y\n0,0\n0,1,1\n1,0,1\n1,1,0\n", "expected 3 values"),
        ("x1,x2,y\n0,0,zero\n0,1,1\n1,0,1\n1,1,0\n", "non-numeric"),
        ("x1,x2,y\n0,0,nan\n0,1,1\n1,0,1\n1,1,0\n", "NaN"),
        ("x1,x2,y\n0,0,2\n0,1,1\n1,0,1\n1,1,0\n", "must be 0 or 1"),
        ("x1,x2,y\n0,0,0\n0,0,0\n1,0,1\n1,1,0\n", "exactly once"),
        ("x1,x2,y\n0,0,0\n0,1,1\n1,0,1\n", "exactly once"),
    ],
)
def test_malformed_files_are_refused_with_a_reason(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(GatelabError, match=message):
        read_gate_csv(path)


def test_missing_file_names_the_stage_that_makes_it(tmp_path):
    with pytest.raises(GatelabError, match="dvc repro generate"):
        read_gate_csv(tmp_path / "xor.csv")


def test_function_codes_list_the_outputs_for_00_01_10_11():
    for code in FUNCTIONS:
        x, y = truth_table(code)
        assert x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
        assert "".join(str(int(v)) for v in y.flatten()) == code[1:]
    assert len(FUNCTIONS) == 16
    for gate, outputs in GATES.items():  # every named gate is one of the sixteen
        assert torch.equal(truth_table(gate)[1], truth_table("f" + "".join(map(str, outputs)))[1])


@pytest.mark.parametrize("n", [2, 3, 5])
def test_parity_is_one_when_an_odd_number_of_inputs_is_one(tmp_path, n):
    x, y = read_gate_csv(write_gate_csv(f"parity{n}", tmp_path / "p.csv"))
    assert x.shape == (2**n, n) and len({tuple(r) for r in x.tolist()}) == 2**n
    assert torch.equal(y.flatten(), x.sum(dim=1) % 2)
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == ",".join([f"x{i}" for i in range(1, n + 1)] + ["y"])


@pytest.mark.parametrize("name", ["f012", "f00000", "parity1", "parity", "xorr"])
def test_unknown_names_are_refused_with_the_naming_rules(name):
    with pytest.raises(GatelabError, match="f0000..f1111"):
        truth_table(name)


def test_noisy_splits_are_seeded_stratified_and_jittered_around_the_corners():
    x, y = truth_table("xor")
    splits = jittered_splits(x, y, noise=0.1, samples_per_corner=50, split=[0.6, 0.2, 0.2], seed=3)
    assert {name: len(s[0]) for name, s in splits.items()} == {"train": 120, "val": 40, "test": 40}
    for points, labels in splits.values():
        nearest = torch.cdist(points, x).argmin(dim=1)  # the corner each point was jittered from
        assert torch.equal(labels.flatten(), y.flatten()[nearest])  # labels are the corner's
        assert torch.bincount(nearest, minlength=4).unique().numel() == 1  # every corner equally
        assert 0.05 < (points - x[nearest]).std() < 0.15
    again = jittered_splits(x, y, noise=0.1, samples_per_corner=50, split=[0.6, 0.2, 0.2], seed=3)
    other = jittered_splits(x, y, noise=0.1, samples_per_corner=50, split=[0.6, 0.2, 0.2], seed=4)
    assert all(torch.equal(splits[k][0], again[k][0]) for k in splits)
    assert not torch.equal(splits["test"][0], other["test"][0])
    all_points = torch.cat([s[0] for s in splits.values()])
    assert len(torch.unique(all_points, dim=0)) == 200  # no point in two sets


@pytest.mark.parametrize(
    "noise, samples, split, message",
    [
        (-0.1, 10, [0.6, 0.2, 0.2], "standard deviation"),
        (0.1, 0, [0.6, 0.2, 0.2], "positive integer"),
        (0.1, 10, [0.6, 0.2], "three fractions"),
        (0.1, 10, [0.6, 0.3, 0.3], "sum to 1"),
        (0.1, 1, [0.2, 0.4, 0.4], "too few"),
    ],
)
def test_bad_noise_settings_are_refused(noise, samples, split, message):
    x, y = truth_table("and")
    with pytest.raises(GatelabError, match=message):
        jittered_splits(x, y, noise, samples, split, seed=0)
