"""The package's form: public names documented with examples, internals private, no
repo-relative paths inside it, a tree small enough to read at a glance."""

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import dbn

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = [
    "dbn",
    "dbn.models",
    "dbn.training",
    "dbn.optim",
    "dbn.ais",
    "dbn.init",
    "dbn.datasets",
    "dbn.sklearn",
    "dbn.io",
    "dbn.recipes",
    "dbn.visual",
    "dbn.tensorboard",
    "dbn.cli",
]


def public_objects():
    seen = {}
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for attribute in getattr(module, "__all__", []):
            obj = getattr(module, attribute)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                seen.setdefault(id(obj), (f"{name}.{attribute}", obj))
    return list(seen.values())


# ids by name alone: an object's repr holds its address, which differs between the
# processes that collect the suite (pytest-xdist's workers must collect the same ids)
@pytest.mark.parametrize("name, obj", public_objects(), ids=[name for name, _ in public_objects()])
def test_every_public_class_and_function_has_an_example(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert "\nExamples\n--------\n>>> " in doc, name


def test_there_are_at_least_25_examples():
    assert len(public_objects()) >= 25


def test_the_first_hour_is_in_import_dbn():
    for name in ["RBM", "DBN", "train_rbm", "TrainConfig", "to_mlp", "finetune",
                 "FinetuneConfig", "evaluate", "load", "load_mnist", "load_digits",
                 "init", "ais", "sklearn"]:  # fmt: skip
        assert hasattr(dbn, name), name


def test_the_package_has_at_most_12_top_level_modules():
    modules = [path.name for path in (ROOT / "dbn").glob("*.py") if path.name != "__init__.py"]
    assert len(modules) <= 12, modules


def test_nothing_installed_refers_to_a_path_of_the_repository():
    # (the programs' default run directories, runs/NAME, are in the working directory)
    pattern = re.compile(r"""["'](?:pretrained|results|scripts|docs)/""")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in (ROOT / "dbn").rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_internal_helpers_are_private():
    for package in ["models", "training", "optim", "datasets"]:
        exported = importlib.import_module(f"dbn.{package}").__all__
        assert all(not name.startswith("_") for name in exported)
    assert (ROOT / "dbn" / "_utils").is_dir()
    assert (ROOT / "dbn" / "training" / "_fused.py").is_file()


def test_the_programs_and_the_studies_import_no_private_name():
    """scripts/, studies/ and dbn/cli/ are built on the public API only."""
    private = []
    for folder in ("scripts", "studies", "dbn/cli"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                modules = []
                if isinstance(node, ast.ImportFrom) and node.module:
                    modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                elif isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                private += [
                    f"{path.relative_to(ROOT)}: {module}"
                    for module in modules
                    if module.startswith("dbn")
                    and any(p.startswith("_") for p in module.split("."))
                ]
    assert private == []


def module_level_imports(path):
    """The modules a file imports when it loads: its top-level imports, not those under
    ``if TYPE_CHECKING:`` (type names only) or inside a function (imported on call)."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_the_models_import_nothing_from_training_when_they_load():
    arrows = {
        f"{path.name} -> {module}"
        for path in sorted((ROOT / "dbn" / "models").glob("*.py"))
        for module in module_level_imports(path)
        if module.startswith("dbn.training")
    }
    assert not arrows
    # the one call-time import: DBN.pretrain, the convenience the public API promises
    lazy = [
        (path.name, node.module)
        for path in sorted((ROOT / "dbn" / "models").glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dbn.training")
    ]
    assert lazy == [("dbn.py", "dbn.training"), ("dbn.py", "dbn.training.pretraining")]
