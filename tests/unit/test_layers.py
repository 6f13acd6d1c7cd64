"""The layers hold: import-linter's contracts (pyproject.toml) and no torch in the controller's process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept():
    # In a subprocess: import-linter's command reconfigures logging, which other tests' caplog relies on.
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    done = subprocess.run([sys.executable, "-c", code, "--no-cache", str(ROOT / "pyproject.toml")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, "an import crosses a layer:\n" + done.stdout[-4000:] + done.stderr[-2000:]


def test_the_controller_and_a_remote_run_import_no_torch(tmp_path):
    """`genleak serve controller` and `genleak run --remote` in one process: a spec whose inputs are missing
    goes through the controller's parse and a job (whose first step reads data.prompts' rows from the
    store) and back as NOT_FOUND; torch, transformers, vLLM and peft were never imported."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent("""\
        name: no-torch
        lab: null
        target: file:///nonexistent/model
        data: {prompts: file:///nonexistent/prompts, pii_targets: file:///nonexistent/targets,
               few_shot: file:///nonexistent/few_shot, people: null, prompt_rows: "0:10"}
        conditions: [base]
        leakage: null
        attack: {perplexity_dataset: null}
        """))
    script = textwrap.dedent(f"""
        import os, sys
        os.environ.update(GENLEAK_STORE="file://{tmp_path}/store", GENLEAK_CACHE_DIR="{tmp_path}/cache",
                          GENLEAK_GENERATOR_ADDR="127.0.0.1:9", GENLEAK_FINETUNER_ADDR="127.0.0.1:9",
                          GENLEAK_ATTACKER_ADDR="127.0.0.1:9")
        from genleak.app import serve
        from genleak.cli import main
        from genleak.core.settings import Settings
        server = serve("controller", Settings.from_env(), "127.0.0.1", 0)
        code = main(["run", "{spec}", "--remote", "--controller", f"127.0.0.1:{{server.port}}", "--no-progress"])
        server.stop(grace=0.5)
        heavy = sorted({{"torch", "transformers", "vllm", "peft"}} & set(sys.modules))
        print("exit", code, "heavy", heavy)
        sys.exit(0 if code == 2 and not heavy else 1)
        """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "no artifact at file:///nonexistent/prompts" in done.stderr, done.stderr[-2000:]
