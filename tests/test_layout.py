"""The layout stays readable: light import, no import circles, each layer importing only from its own
or lower ones, the kit's imports at the top, argument parsing in cli.py only, and one list of system
packages."""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import wgpt_lite as wl
from wgpt_lite.infra.install import PACKAGE_LIST, system_packages

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "wgpt_lite"
# The one lazy import of the kit's own code: builders load only when something is built.
LAZY_KIT_IMPORTS = {
    ("wgpt_lite.cli", "wgpt_lite.data.builders.sample"),
    ("wgpt_lite.cli", "wgpt_lite.data.builders.maestro"),
}

# The layers, lowest first: a module imports only from its own layer or lower ones. The core is the
# paper's code, flat in wgpt_lite/ (all of it but the CLI); wgpt_lite/__init__.py, the public API, is exempt.
LAYERS = ("infra", "core", "data", "display", "runs", "experiment", "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def kit_imports(path: Path) -> tuple[set[str], set[str]]:
    """(imports at module level, imports inside functions) of wgpt_lite modules in one file."""
    tree = ast.parse(path.read_text())
    top, nested = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("wgpt_lite"):
            names = {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names = {a.name for a in node.names if a.name.startswith("wgpt_lite")}
        else:
            continue
        (top if node in tree.body else nested).update(names)
    return top, nested


def kit_modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def layer(module: str) -> str:
    """The layer of a kit module: its subpackage, ``cli`` for the command line, ``core`` for the rest."""
    part = module.split(".")[1]
    if part in LAYERS:
        return part
    return "cli" if part in ("cli", "__main__") else "core"


def test_import_wgpt_lite_stays_light():
    heavy = [
        "encodec",
        "datasets",
        "matplotlib",
        "IPython",
        "ipywidgets",
        "jupyter_client",
        "music21",
        "wgpt_lite.data.builders",
    ]
    code = f"import sys, wgpt_lite; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_no_import_circles_between_modules():
    modules = kit_modules()
    graph = {
        name: {dep for dep in kit_imports(path)[0] if dep in modules and dep != name and name != "wgpt_lite"}
        for name, path in modules.items()
    }

    def visit(node, trail):
        assert node not in trail, "import circle: " + " -> ".join([*trail, node])
        for dep in graph.get(node, ()):
            visit(dep, [*trail, node])

    for name in graph:
        visit(name, [])


def test_each_layer_imports_only_from_its_own_or_lower_ones():
    modules = kit_modules()
    breaches = set()
    for name, path in modules.items():
        if name == "wgpt_lite":
            continue
        for dep in set.union(*kit_imports(path)):
            if dep in modules and dep != "wgpt_lite" and LAYERS.index(layer(dep)) > LAYERS.index(layer(name)):
                breaches.add((name, dep))
    assert not breaches, f"{', '.join(LAYERS)}: lower layers first"


def test_the_kits_own_imports_are_at_the_top_of_each_file():
    modules = kit_modules()
    found = set()
    for name, path in modules.items():
        found |= {(name, dep) for dep in kit_imports(path)[1] if dep in modules}
    assert found == LAZY_KIT_IMPORTS


def test_only_cli_parses_the_command_line():
    """And ``setup``'s options, parsed where it runs before the kit's dependencies are installed."""
    parsers = {name for name, path in kit_modules().items() if "argparse" in path.read_text()}
    assert parsers == {"wgpt_lite.cli", "wgpt_lite.infra.install"}


def test_system_packages_are_listed_in_one_file_only():
    """No other file of the project names several of the packages (an install command, a copied list)."""
    names = system_packages()
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    offenders = []
    for relative in tracked:
        path = ROOT / relative
        if path == PACKAGE_LIST or not path.is_file() or path.suffix in (".png", ".wav", ".mid", ".pt"):
            continue
        text = path.read_text(errors="replace")
        lines = text.splitlines()
        if path.suffix == ".ipynb":  # sources only: outputs may print anything
            lines = [line for cell in json.loads(text)["cells"] for line in "".join(cell["source"]).splitlines()]
        for number, line in enumerate(lines, 1):
            named = set(pattern.findall(line))
            installs = re.search(r"\bapt(-get)?\b.*\binstall\b|APT_PACKAGES", line)
            if len(named) >= 4 or (installs and len(named) >= 2):
                offenders.append(f"{relative}:{number}: {line.strip()[:100]}")
    assert not offenders, "system packages listed outside wgpt_lite/infra/system_packages.txt:\n" + "\n".join(offenders)


def test_the_public_api_tells_the_whole_story():
    story = [
        "load_audio", "log_mel", "get_tokenizer", "corpus_tokenizer", "features", "random_crops", "eval_crops",
        "build_model", "train_config", "make_optimizer", "lr_factor", "update", "evaluate", "train", "reproduce",
        "results_table", "plot_curves", "future_leak", "model_future_leak", "setup",
    ]  # fmt: skip
    assert [name for name in story if not hasattr(wl, name)] == []
