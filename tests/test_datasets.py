import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.datasets import DatasetError, load_dataset


def write(tmp_path, text):
    path = tmp_path / "data.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_fields_and_keeps_extras(tmp_path):
    path = write(tmp_path, json.dumps({"id": "x-1", "prompt": "Q: 1+1=", "answer": 2, "source": "hand"}) + "\n\n")
    (example,) = load_dataset(path)
    assert example.answer == "2"
    assert example.extra == {"source": "hand"}


@pytest.mark.parametrize("line,message", [
    ("{not json", "data.jsonl:1: not valid JSON"),
    ("[1, 2]", "data.jsonl:1: expected a JSON object"),
    ('{"prompt": "p"}', "data.jsonl:1: field 'id': missing"),
    ('{"id": "a"}', "data.jsonl:1: field 'prompt': missing"),
    ('{"id": "a/../b", "prompt": "p"}', "data.jsonl:1: field 'id'"),
    ('{"id": "a", "prompt": ""}', "data.jsonl:1: field 'prompt': expected a non-empty string"),
    ('{"id": "a", "prompt": "p", "answer": [1]}', "data.jsonl:1: field 'answer'"),
])
def test_bad_lines_name_file_line_and_field(tmp_path, line, message):
    with pytest.raises(DatasetError, match=message.replace("[", r"\[")):
        load_dataset(write(tmp_path, line + "\n"))


def test_duplicate_ids_and_empty_files(tmp_path):
    row = json.dumps({"id": "a", "prompt": "p"})
    with pytest.raises(DatasetError, match="data.jsonl:2: field 'id': 'a' already used on line 1"):
        load_dataset(write(tmp_path, row + "\n" + row + "\n"))
    with pytest.raises(DatasetError, match="no examples"):
        load_dataset(write(tmp_path, "\n"))
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(tmp_path / "absent.jsonl")




@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=st.one_of(st.text(max_size=60), st.builds(json.dumps, st.dictionaries(
    st.sampled_from(["id", "prompt", "answer", "category", "x"]),
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10),
              st.sampled_from(["../a", "index", "\ud800", "a\u202eb"]), st.lists(st.integers(), max_size=2)),
    max_size=5))))
def test_any_dataset_line_is_one_short_line_or_valid(tmp_path, line):
    path = tmp_path / "d.jsonl"
    path.write_text(line + "\n", encoding="utf-8", errors="surrogatepass")
    try:
        load_dataset(path)
    except DatasetError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 700 and str(exc).startswith(str(path)), str(exc)
