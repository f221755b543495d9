import pytest
import torch

from gatelab.errors import GatelabError
from gatelab.gates import GATES, read_gate_csv, truth_table, write_gate_csv


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
