"""Structural checks of terraform/ on the parsed HCL, layout and interfaces: standard files,
the stack composition, variables and outputs (no provider registry needed)."""

from __future__ import annotations

from typing import Any

import pytest

from taskplane_testing.terraform import (
    ENVS,
    MODULES,
    REPO_ROOT,
    STACK,
    TF_ROOT,
    HclDoc,
    attr,
    doc,
    expr,
    load,
)

from .conftest import (
    COMPOSED,
    TF_FILES,
    dir_docs,
    module_calls,
)

# --------------------------------------------------------------------------- layout


@pytest.mark.parametrize("module", MODULES)
def test_module_has_standard_files(module: str) -> None:
    present = {p.name for p in (TF_ROOT / "modules" / module).iterdir()}
    missing = {"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"} - present
    assert not missing, f"modules/{module} lacks {sorted(missing)}"


@pytest.mark.parametrize("env", ENVS)
def test_env_has_standard_files(env: str) -> None:
    present = {p.name for p in (TF_ROOT / "envs" / env).iterdir()}
    wanted = {
        "main.tf",
        "variables.tf",
        "outputs.tf",
        "versions.tf",
        "providers.tf",
        "terraform.tfvars.example",
        "backend.hcl.example",
    }
    assert not wanted - present, f"envs/{env} lacks {sorted(wanted - present)}"


def test_every_tf_file_is_found() -> None:
    # 9 modules x 4 files + 2 envs x 5 files
    assert len(TF_FILES) >= 46, TF_FILES


@pytest.mark.parametrize("env", ENVS)
def test_env_is_one_call_of_the_stack(docs: dict[str, HclDoc], env: str) -> None:
    # The wiring lives once, in modules/stack: an environment only calls it.
    calls = module_calls(docs, f"envs/{env}")
    assert set(calls) == {"stack"}, f"envs/{env} calls {sorted(calls)}"
    assert attr(calls["stack"], "source") == "../../modules/stack"
    for d in dir_docs(docs, f"envs/{env}"):
        for kind in ("resource", "data", "locals", "module"):
            if kind == "module" and d.rel.endswith("/main.tf"):
                continue
            assert kind not in d.data, f"{d.rel} has {kind} blocks: they belong in the stack"
    call = calls["stack"]
    assert attr(call, "environment") == env
    assert attr(call, "production") is (env == "prod")
    # every deployment input of the root reaches the stack under the same name
    for name, _ in doc(docs, f"envs/{env}/variables.tf").labeled("variable"):
        assert expr(attr(call, name)) == f"var.{name}", f"envs/{env}: {name} is not passed on"
    # and every argument is an input of the stack
    stack_inputs = {n for n, _ in doc(docs, f"{STACK}/variables.tf").labeled("variable")}
    arguments = {k for k in call if not k.startswith("__") and k != "source"}
    assert arguments <= stack_inputs, arguments - stack_inputs


def test_stack_composes_every_module(docs: dict[str, HclDoc]) -> None:
    calls = module_calls(docs, STACK)
    assert tuple(calls) == COMPOSED
    for name, body in calls.items():
        assert attr(body, "source") == f"../{name}"
    assert expr(attr(calls["platform"], "depends_on")) == "[module.identity]"


@pytest.mark.parametrize("env", ENVS)
def test_env_outputs_re_export_the_stack(docs: dict[str, HclDoc], env: str) -> None:
    stack_outputs = dict(doc(docs, f"{STACK}/outputs.tf").labeled("output"))
    env_outputs = dict(doc(docs, f"envs/{env}/outputs.tf").labeled("output"))
    # default_tags and kubernetes feed the root's providers; the rest is the operator's view
    assert set(env_outputs) == set(stack_outputs) - {"default_tags", "kubernetes"}
    for name, body in env_outputs.items():
        assert expr(attr(body, "value")) == f"module.stack.{name}"
        assert attr(body, "description") == attr(stack_outputs[name], "description"), name


@pytest.mark.parametrize("rel", TF_FILES)
def test_file_parses(rel: str) -> None:
    parsed = load(REPO_ROOT / rel)
    assert parsed.data, f"{rel} parsed to nothing"


# --------------------------------------------------------------------------- variables and outputs


def all_variables(docs: dict[str, HclDoc]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(d.rel, name, body) for d in docs.values() for name, body in d.labeled("variable")]


def test_variables_have_description_and_type(docs: dict[str, HclDoc]) -> None:
    variables = all_variables(docs)
    assert len(variables) > 60
    problems = []
    for rel, name, body in variables:
        description = attr(body, "description")
        if not isinstance(description, str) or len(description.strip()) < 10:
            problems.append(f"{rel}: variable {name} has no real description")
        if attr(body, "type") is None:
            problems.append(f"{rel}: variable {name} has no type")
    assert not problems, "\n".join(problems)


def test_variables_live_in_variables_tf(docs: dict[str, HclDoc]) -> None:
    misplaced = [
        f"{rel}: {name}"
        for rel, name, _ in all_variables(docs)
        if not rel.endswith("/variables.tf")
    ]
    assert not misplaced, misplaced


def test_outputs_have_descriptions(docs: dict[str, HclDoc]) -> None:
    outputs = [(d.rel, n, b) for d in docs.values() for n, b in d.labeled("output")]
    assert len(outputs) > 30
    missing = [
        f"{rel}: {name}"
        for rel, name, body in outputs
        if len(str(attr(body, "description", "")).strip()) < 10
    ]
    assert not missing, f"outputs without description: {missing}"


@pytest.mark.parametrize("module", MODULES)
def test_module_readme_documents_every_input_and_output(
    docs: dict[str, HclDoc], module: str
) -> None:
    readme = (TF_ROOT / "modules" / module / "README.md").read_text()
    assert "## Inputs" in readme
    assert "## Outputs" in readme
    assert "| Name | Description | Type | Default | Required |" in readme
    names = [n for d in dir_docs(docs, f"modules/{module}") for n, _ in d.labeled("variable")]
    names += [n for d in dir_docs(docs, f"modules/{module}") for n, _ in d.labeled("output")]
    assert names
    undocumented = [n for n in names if f"`{n}`" not in readme and f"| {n} |" not in readme]
    assert not undocumented, f"modules/{module}/README.md does not document {undocumented}"
