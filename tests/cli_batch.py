"""Run several command lines of one gatelab entry point in ONE Python process, each as
``python <script> <args>`` would run it (``__main__``, its own sys.argv, a fresh Hydra), and print
each one's exit status, stdout and stderr as JSON. For the tables of bad inputs: the same checks as
a process per command line, without paying a Python start and the imports for each.

    python tests/cli_batch.py src/train.py '[["model=mlp9"], ["optimizer.lr=-1"]]'
"""

import contextlib
import io
import json
import runpy
import sys
import traceback


def run_one(script: str, args: list[str]) -> dict:
    from hydra.core.global_hydra import GlobalHydra

    out, err = io.StringIO(), io.StringIO()
    sys.argv = [script, *args]
    status = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as end:
            status = end.code if isinstance(end.code, int) else (0 if end.code is None else 1)
        except BaseException:  # what a process would die of: its traceback, and status 1
            traceback.print_exc()
            status = 1
    GlobalHydra.instance().clear()  # the next command line starts Hydra afresh, as a new process would
    return {"returncode": status, "stdout": out.getvalue(), "stderr": err.getvalue()}


if __name__ == "__main__":
    script, command_lines = sys.argv[1], json.loads(sys.argv[2])
    results = [run_one(script, args) for args in command_lines]
    sys.stdout = sys.__stdout__
    print(json.dumps(results))
