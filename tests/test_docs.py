"""docs/config_reference.md is generated from the schema and must be up to date (`make docs`)."""

from advpretrain import config_docs


def test_config_reference_is_up_to_date():
    assert config_docs.main(["--check"]) == 0, "run `make docs` and commit docs/config_reference.md"


def test_every_schema_key_is_documented():
    import yaml
    schema = yaml.safe_load(config_docs.SCHEMA.read_text())
    text = config_docs.render(schema)
    for section, child in schema["properties"].items():
        for key in child.get("properties", {}):
            assert f"`{section}.{key}`" in text
