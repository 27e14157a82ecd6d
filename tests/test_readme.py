"""The README's offline Python example runs as written (keeps the README true)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text("utf-8"), flags=re.S)


def test_readme_has_the_two_setup_commands():
    text = README.read_text("utf-8")
    bash = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    assert "atlascope characterize --example" in bash[0]
    assert "pytest" in bash[1]
    ci = (README.parent / ".ci" / "run").read_text("utf-8")
    assert bash[1].strip() in ci  # .ci/run calls exactly the README's test command


def test_readme_offline_python_example_runs(capsys):
    block = _python_blocks()[0]
    assert "use_configuration" not in block  # the first example is the offline one
    import pandas as pd

    namespace: dict = {}
    with pd.option_context("display.max_columns", None, "display.width", 400):
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    assert "GM Visual cortex V1 BA17" in out and "Broca" in out
