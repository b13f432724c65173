"""The config schema's run parameters agree with the engine's table (nst.params.RUN_PARAMETERS):
the same names in both blocks, the same types, the same lower bounds, every choice documented."""

from __future__ import annotations

import pytest
import yaml
from pipeline_helpers import REPO

from nst.params import PARAMETERS, RESULT_PARAMETERS

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())["$defs"]
RUN_PARAMETERS = SCHEMA["run_parameters"]["properties"]
JSON_TYPES = {str: "string", int: "integer", float: "number"}


def test_schema_names_exactly_the_result_parameters():
    assert sorted(RUN_PARAMETERS) == sorted(RESULT_PARAMETERS)
    assert sorted(SCHEMA["value_lists"]["properties"]) == sorted(RESULT_PARAMETERS)


def test_value_lists_are_lists_of_the_parameter():
    for name, entry in SCHEMA["value_lists"]["properties"].items():
        assert entry["type"] == "array" and entry["items"] == {"$ref": f"#/$defs/run_parameters/properties/{name}"}


@pytest.mark.parametrize("name", RESULT_PARAMETERS)
def test_schema_type_is_the_tables(name):
    parameter, entry = PARAMETERS[name], RUN_PARAMETERS[name]
    if parameter.is_list:
        types = entry["type"] if isinstance(entry["type"], list) else [entry["type"]]
        assert "array" in types and entry["items"]["type"] == JSON_TYPES[parameter.kind]
    else:
        assert entry["type"] == JSON_TYPES[parameter.kind]


@pytest.mark.parametrize("name", [name for name in RESULT_PARAMETERS if not PARAMETERS[name].is_list])
def test_schema_bound_is_the_tables(name):
    parameter, entry = PARAMETERS[name], RUN_PARAMETERS[name]
    bound_key = "exclusiveMinimum" if parameter.above_minimum else "minimum"
    bounds = {key: entry[key] for key in ("minimum", "exclusiveMinimum") if key in entry}
    assert bounds == ({} if parameter.minimum is None else {bound_key: parameter.minimum})


@pytest.mark.parametrize("name", [name for name in RESULT_PARAMETERS if PARAMETERS[name].choices])
def test_schema_description_names_every_choice(name):
    """The schema leaves choices to the engine (one error naming the key), but lists them for the reader."""
    description = RUN_PARAMETERS[name]["description"]
    assert all(choice in description for choice in PARAMETERS[name].choices), description
