import os
import subprocess
import sys


def _onednn_after_import(env: dict) -> str:
    code = "import os, keras_spm; print(os.environ['TF_ENABLE_ONEDNN_OPTS'])"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_asks_for_onednn_kernels_but_keeps_a_user_choice():
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    assert _onednn_after_import(env) == "1"
    assert _onednn_after_import({**env, "TF_ENABLE_ONEDNN_OPTS": "0"}) == "0"


def test_import_does_not_import_tensorflow():
    code = "import sys, keras_spm; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
