"""Importing TensorFlow through flowlab writes nothing to stderr and gives tf-keras."""

import os
import subprocess
import sys

import pytest

from flowlab import budgets


def _python(code: str, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "FLOWLAB_"))}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**clean, **env}, timeout=120)


def test_tfenv_import_is_silent_and_uses_tf_keras():
    result = _python("import flowlab.tfenv as e; print(e.tf.keras.__name__)")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "tf_keras" in result.stdout


def test_plain_tensorflow_import_is_noisy_which_is_why_tfenv_exists():
    # If TensorFlow ever stops printing on import, the fd redirection can go.
    result = _python("import tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    assert result.stderr != ""


def test_keras_input_passes_through_a_tfp_distribution():
    code = (
        "import flowlab.tfenv as e\n"
        "d = e.tfd.MultivariateNormalDiag(loc=[0., 0.])\n"
        "x = e.tf.keras.Input(shape=(2,))\n"
        "m = e.tf.keras.Model(x, d.log_prob(x))\n"
        "print(m.output_shape)\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert "(None,)" in result.stdout


def test_budget_is_full_by_default_and_grading_on_request(monkeypatch):
    monkeypatch.delenv("FLOWLAB_BUDGET", raising=False)
    assert budgets.budget("lab02_maf").epochs == 80
    monkeypatch.setenv("FLOWLAB_BUDGET", "grading")
    assert budgets.budget("lab02_maf").epochs < 80
    monkeypatch.setenv("FLOWLAB_BUDGET", "huge")
    with pytest.raises(ValueError, match="not a budget"):
        budgets.budget("lab02_maf")
    with pytest.raises(KeyError, match="No budget named"):
        budgets.budget("no_such_run")


def test_seed_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("FLOWLAB_SEED", "3")
    assert budgets.seed() == 3
    monkeypatch.setenv("FLOWLAB_SEED", "three")
    with pytest.raises(ValueError, match="not an integer"):
        budgets.seed()
