"""Each touchpoint of gatelab.infra.compat against the installed library: an upgrade that moves a
private attribute or rewords a message fails here, by name, instead of somewhere downstream."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from gatelab.infra import compat

# --- Lightning ----------------------------------------------------------------------------------


def tiny_fit(tmp_path, max_steps: int, **trainer_args):
    """mlp2 on XOR for ``max_steps`` steps through the adapters, as a run does (no callbacks)."""
    import lightning as L

    from gatelab.core.gates import write_gate_csv
    from gatelab.data import GateDataModule
    from gatelab.models import GateMLP

    write_gate_csv("xor", tmp_path / "xor.csv")
    L.seed_everything(777, verbose=False)
    model = GateMLP([2], optimizer=lambda params: torch.optim.SGD(params, lr=1.0))
    trainer = L.Trainer(
        accelerator="cpu", max_steps=max_steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, **trainer_args,
    )  # fmt: skip
    trainer.fit(model, datamodule=GateDataModule("xor", str(tmp_path / "xor.csv")))
    return trainer


def test_lightning_counts_the_steps_gatelab_takes_itself(tmp_path):
    """count_optimizer_step: Lightning's private progress tracker still counts manual steps."""
    compat.quiet_lightning()
    assert tiny_fit(tmp_path, max_steps=130).global_step == 130


def test_the_quieted_advice_is_all_lightning_gives_a_run(tmp_path):
    """QUIET_WARNINGS still match what Lightning says to a 4-row run: with them, nothing is left."""
    compat.quiet_lightning()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compat.quiet_lightning()  # (simplefilter above put "always" first; ours go before it again)
        tiny_fit(tmp_path, max_steps=100)
    assert [str(w.message) for w in caught] == []


def test_a_misconfiguration_is_known_by_its_name():
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    assert compat.is_misconfiguration(MisconfigurationException("bad"))
    assert not compat.is_misconfiguration(ValueError("bad"))


# --- dvclive ------------------------------------------------------------------------------------


def test_dvclive_logs_step_zero_at_zero_without_syncing(tmp_path):
    from gatelab.loggers import EpochDVCLiveLogger

    logger = EpochDVCLiveLogger(dir=str(tmp_path / "live"), dvcyaml=False, save_dvc_exp=False, report=None)
    for step, loss in ((0, 0.69), (100, 0.5)):
        compat.log_metrics_unsynced(logger, {"train/loss": loss}, step)
    rows = (tmp_path / "live/plots/metrics/train/loss.tsv").read_text().splitlines()
    assert rows == ["step\tloss", "0\t0.69", "100\t0.5"]
    assert not (tmp_path / "live/metrics.json").exists(), "a sync ran: it writes the summary"


# --- Hydra --------------------------------------------------------------------------------------


def test_the_basic_sweepers_jobs_are_listed_in_its_order():
    jobs, swept = compat.sweep_job_overrides(["a=1,2", "b=x", "c=range(2)"])
    assert jobs == [["a=1", "b=x", "c=0"], ["a=1", "b=x", "c=1"], ["a=2", "b=x", "c=0"], ["a=2", "b=x", "c=1"]]
    assert swept == {"a", "c"}
    from hydra.utils import get_class

    assert get_class(compat.BASIC_SWEEPER).__name__ == "BasicSweeper"


def compose(*overrides: str):
    from hydra import compose, initialize_config_dir

    from conftest import CONF

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


def test_hydras_config_is_the_one_interpolations_resolve_against():
    compat.set_hydra_config(compose("model=mlp4"))
    assert compose("model=mlp4").name == "mlp4"


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (["model=mlp9"], "Could not find 'model/mlp9'; available options in 'model': deep, manual, manual_lab, mlp2, mlp4, perceptron"),
        (["no_such_key=1"], "'no_such_key' is not a setting; `python src/train.py --help` lists them"),
        (["model=["], "cannot parse the override 'model=[': "),
    ],
    ids=["unknown option", "unknown key", "unparsable"],
)
def test_hydras_config_errors_read_as_one_line(overrides, expected):
    with pytest.raises(Exception) as caught:
        compose(*overrides)
    message = compat.hydra_message(caught.value)
    assert message is not None and message.startswith(expected), message
    assert "\n" not in message


def test_a_key_that_is_not_a_setting_is_named():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"a": 1})
    OmegaConf.set_struct(cfg, True)
    with pytest.raises(Exception) as caught:
        OmegaConf.merge(cfg, {"b": 2})
    message = compat.hydra_message(caught.value)
    assert message is not None and "\n" not in message


def test_a_value_a_constructor_refused_names_its_key():
    from hydra.utils import instantiate

    from gatelab.infra.errors import GatelabError

    with pytest.raises(Exception) as caught:
        instantiate({"model": {"_target_": "gatelab.core.network.check_activation", "activation": "softmax"}})
    assert isinstance(caught.value.__cause__, GatelabError)
    assert compat.hydra_message(caught.value).startswith("model: model.activation='softmax' is unknown")


def test_an_error_of_another_library_is_not_hydras():
    assert compat.hydra_message(ValueError("x")) is None


# --- submitit -----------------------------------------------------------------------------------


def test_a_failed_cluster_job_is_named_with_its_own_error_line():
    from submitit.core.utils import UncompletedJobError

    err = UncompletedJobError(
        "Job 17_3 (task: 0) with path /runs/.submitit/17_3/17_3_0_result.pkl\nhas not produced any output (state: FAILED)\n"
        "Error stream produced:\n----------------------------------------\nerror: optimizer.lr must be a positive number, got -1"
    )
    assert compat.failed_submitit_job(err) == "Job 17_3 (task: 0) failed: optimizer.lr must be a positive number, got -1"
    assert compat.failed_submitit_job(ValueError("x")) is None


# --- torch --------------------------------------------------------------------------------------


def test_an_overflowing_update_is_recognised():
    weight = torch.nn.Parameter(torch.ones(2))
    weight.grad = torch.ones(2)
    with pytest.raises(RuntimeError) as caught:
        torch.optim.SGD([weight], lr=1e300).step()
    assert compat.is_overflowing_update(caught.value)


def test_bce_refusing_nan_outputs_is_recognised():
    with pytest.raises(RuntimeError) as caught:
        F.binary_cross_entropy(torch.tensor([math.nan]), torch.tensor([1.0]))
    assert compat.is_nan_bce_input(caught.value)
    assert not compat.is_nan_bce_input(RuntimeError("something else"))


def test_a_compiler_failure_is_known_by_its_class():
    """Dynamo's BackendCompilerFailed, and Inductor's subclass of it (what a missing C++ compiler raises)."""
    from torch._dynamo.exc import BackendCompilerFailed
    from torch._inductor.exc import InductorError

    assert compat.is_compiler_failure(BackendCompilerFailed(lambda *_: None, RuntimeError("no C++ compiler"), None))
    assert compat.is_compiler_failure(InductorError(RuntimeError("no C++ compiler"), None))
    assert not compat.is_compiler_failure(RuntimeError("no C++ compiler"))


def test_the_signal_that_stopped_a_fit_is_recognised():
    """Lightning turns SIGTERM into SIGTERMException (a SystemExit of status 0) and Ctrl+C into
    sys.exit(1) raised while it handles the KeyboardInterrupt (tests/test_robustness.py sends both)."""
    import signal

    from lightning.pytorch.utilities.exceptions import SIGTERMException

    assert issubclass(SIGTERMException, SystemExit)
    assert compat.stopping_signal(SIGTERMException()) == signal.SIGTERM
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise SystemExit(1)  # noqa: B904  (exactly as Lightning's handler does)
    except SystemExit as err:
        assert compat.stopping_signal(err) == signal.SIGINT
    assert compat.stopping_signal(SystemExit(0)) is None
    assert compat.stopping_signal(RuntimeError("x")) is None
