import json

import pytest

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
