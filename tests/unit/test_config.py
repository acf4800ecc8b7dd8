import pytest

from marlinflow.config import cli_options, load_config, merge, model_tag, validate_config
from marlinflow.errors import InputError


def test_defaults_are_filled_from_the_schema(repo_root):
    config = load_config(repo_root / "config/config.yaml")
    assert config["dataset"]["builder"] == "sample"
    assert config["dataset"]["seed"] == 0 and config["dataset"]["limit"] is None
    assert validate_config({})["dataset"]["name"] == "sample"


def test_every_dataset_config_is_valid(repo_root):
    for path in sorted((repo_root / "config/datasets").glob("*.yaml")):
        config = load_config(repo_root / "config/config.yaml", path)
        assert config["dataset"]["builder"] == path.stem
        assert config["dataset"]["root"] is None  # a site path never lives in the repo


def test_bad_keys_are_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("dataset:\n  builder: nope\n  sede: 3\n  limit: 0\n")
    with pytest.raises(InputError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    assert "dataset.builder: 'nope' is not one of" in message
    assert "'sede' was unexpected" in message
    assert "dataset.limit: 0 is less than the minimum of 1" in message


def test_unreadable_configs(tmp_path):
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(InputError, match="mapping"):
        load_config(tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("dataset: [\n")
    with pytest.raises(InputError, match="not a readable YAML"):
        load_config(tmp_path / "broken.yaml")


def test_merge_is_recursive():
    merged = merge({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": 3}, "c": 4})
    assert merged == {"a": {"x": 1, "y": 3}, "b": 1, "c": 4}


def test_command_line_strings_are_read_as_their_type():
    config = validate_config(
        {
            "dataset": {"sample_videos": "6", "limit": "null", "root": "12"},
            "downstream": {"seeds": ["0", "1"], "tasks": [{"name": "t", "adapter": "csv"}]},
        }
    )
    assert config["downstream"]["seeds"] == [0, 1]
    assert config["dataset"]["sample_videos"] == 6 and config["dataset"]["limit"] is None
    assert config["dataset"]["root"] == "12"  # a string where the schema allows one
    with pytest.raises(InputError, match="sample_videos"):
        validate_config({"dataset": {"sample_videos": "many"}})


def test_config_sections_become_command_options():
    section = {"max_gap": 5, "smooth": True, "cut": False, "weights": None, "seeds": [0, 1]}
    assert cli_options(section) == ["--max-gap", "5", "--smooth", "--seeds", "0", "1"]


def test_model_tags_name_output_folders():
    assert model_tag("small") == "small"
    tag = model_tag({"name": "tiny", "enc_depth": 2})
    assert tag.startswith("tiny-") and tag == model_tag({"enc_depth": 2, "name": "tiny"})
    assert tag != model_tag({"name": "tiny", "enc_depth": 3})


def test_dataset_configs_replace_every_sample_setting(repo_root):
    """Every run reads config/config.yaml first: a data set's config must restate each setting the
    CPU-sized sample makes, or the sample's would leak into the real run."""
    import yaml

    def leaves(mapping, prefix=()):
        for key, value in mapping.items():
            if isinstance(value, dict) and value:
                yield from leaves(value, (*prefix, key))
            else:
                yield (*prefix, key)

    def has(mapping, path):
        for key in path:
            if not isinstance(mapping, dict) or key not in mapping:
                return False
            mapping = mapping[key]
        return True

    sample = yaml.safe_load((repo_root / "config/config.yaml").read_text())
    for path in sorted((repo_root / "config/datasets").glob("*.yaml")):
        config = yaml.safe_load(path.read_text())
        for leaf in leaves({k: v for k, v in sample.items() if k != "dataset"}):
            assert has(config, leaf), (path.name, ".".join(leaf))


def test_an_odd_crop_size_is_refused_before_any_job():
    """H.264 in 4:2:0 stores even sides only: a 225 px crop would be written as 226."""
    with pytest.raises(InputError, match=r"track.size: 225 is not a multiple of 2"):
        validate_config({"track": {"size": 225}})
    assert validate_config({"track": {"size": 226}})["track"]["size"] == 226


def test_a_model_mapping_from_the_command_line_is_typed_and_checked():
    """--config 'model={name: tiny, n_frames: 4}' hands the workflow text values."""
    assert validate_config({"model": {"name": "tiny", "n_frames": "4"}})["model"]["n_frames"] == 4
    with pytest.raises(InputError, match="'n_frame' was unexpected"):
        validate_config({"model": {"name": "tiny", "n_frame": 4}})


def test_the_schema_names_every_model_size_field():
    import dataclasses

    from marlinflow.config.schemas import load_schema
    from marlinflow.models.registry import ModelSize

    declared = load_schema("config")["$defs"]["model_fields"]["properties"]
    assert set(declared) == {field.name for field in dataclasses.fields(ModelSize)}


def test_text_from_the_command_line_is_a_number_where_the_setting_takes_one():
    # --config values arrive as text: shard_size takes "auto" or a number
    assert validate_config({"dataset": {"shard_size": "500"}})["dataset"]["shard_size"] == 500
    assert validate_config({"dataset": {"shard_size": "auto"}})["dataset"]["shard_size"] == "auto"
    with pytest.raises(InputError, match="shard_size"):
        validate_config({"dataset": {"shard_size": "big"}})
    with pytest.raises(InputError, match="shard_size"):
        validate_config({"dataset": {"shard_size": -1}})
    # a name that reads as a number stays a name
    assert validate_config({"experiment": {"name": "2024"}})["experiment"]["name"] == "2024"
