"""Datasets as researchers have them: a GSM8K Parquet file, a CSV, a hub id (only from the local cache)."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from generator.config import ConfigError, DatasetSpec, parse_config
from generator.datasets import DatasetError
from generator.pipeline import load_examples
from generator.table_datasets import FieldMap

GSM8K_ROWS = {
    "question": ["Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
                 "How many clips did Natalia sell altogether in April and May?",
                 "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. "
                 "How much did she earn?",
                 "Betty is saving money for a new wallet which costs $100. How much more money does she need?"],
    "answer": ["Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips "
               "altogether in April and May.\n#### 72",
               "Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\nWorking 50 minutes, she earned 0.2 x 50 = "
               "$<<0.2*50=10>>10.\n#### 10",
               "In the beginning, Betty has only 100 / 2 = $<<100/2=50>>50.\n#### 5"],
    "level": ["easy", "easy", "hard"],
}


@pytest.fixture
def gsm8k_parquet(tmp_path):
    path = tmp_path / "test-00000-of-00001.parquet"
    pq.write_table(pa.table(GSM8K_ROWS), path)
    return path


def spec(path, **options):
    return DatasetSpec("gsm8k", str(path), fields=FieldMap(id=None, prompt="question", answer="answer"),
                       answer_format="hash", **options)


def test_a_gsm8k_parquet_file_becomes_examples_with_the_answer_after_the_hashes(gsm8k_parquet, tmp_path):
    examples, files = load_examples(spec(gsm8k_parquet), seed=0)
    assert files == [gsm8k_parquet]
    assert [(e.id, e.answer) for e in examples] == [("0", "72"), ("1", "10"), ("2", "5")]
    assert examples[0].prompt.startswith("Natalia sold clips") and examples[0].extra["level"] == "easy"
    assert examples[0].extra["solution"].endswith("#### 72")
    assert not list(tmp_path.rglob("*.arrow"))  # converted in a temporary folder of ours, removed after


def test_filter_shuffle_and_limit(gsm8k_parquet):
    easy, _ = load_examples(spec(gsm8k_parquet, filter={"level": "easy"}), seed=0)
    assert [e.id for e in easy] == ["0", "1"]  # row numbers of the file, kept through the filter
    first = [e.id for e in load_examples(spec(gsm8k_parquet, shuffle=True, limit=2), seed=3)[0]]
    again = [e.id for e in load_examples(spec(gsm8k_parquet, shuffle=True, limit=2), seed=3)[0]]
    assert first == again and len(first) == 2
    orders = {tuple(e.id for e in load_examples(spec(gsm8k_parquet, shuffle=True), seed=s)[0]) for s in range(8)}
    assert len(orders) > 1  # the seed decides the order


def test_a_csv_with_its_own_id_column(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("item,q,gold\nq-1,What is 2+2?,4\nq-2,What is 3+3?,6\n")
    examples, _ = load_examples(DatasetSpec("items", str(path), fields=FieldMap(id="item", prompt="q",
                                                                                 answer="gold")), seed=0)
    assert [(e.id, e.prompt, e.answer) for e in examples] == [("q-1", "What is 2+2?", "4"), ("q-2", "What is 3+3?", "6")]


@pytest.mark.parametrize("options, message", [
    ({"fields": FieldMap(id=None, prompt="problem", answer="answer")},
     r"test-00000-of-00001.parquet \(split 'train'\): field 'problem': no such column \(columns: question, answer, "
     r"level\)"),
    ({"answer_format": "boxed", "fields": FieldMap(id=None, prompt="question", answer="answer")},
     r"\(split 'train'\): row 0: field 'answer': no answer in the 'boxed' format"),
    ({"filter": {"level": "impossible"}}, r"no examples \(after the filter\)"),
    ({"fields": FieldMap(id="question", prompt="question", answer="answer")},
     r"row 0: field 'question': .* \(it names files and a page; set fields.id: null to number the rows\)"),
])
def test_bad_tables_are_named_by_file_split_and_field(gsm8k_parquet, options, message):
    with pytest.raises(DatasetError, match=message):
        load_examples(DatasetSpec("gsm8k", str(gsm8k_parquet), **{**{"fields": FieldMap(
            id=None, prompt="question", answer="answer"), "answer_format": "hash"}, **options}), seed=0)


def test_a_hub_dataset_not_in_the_cache_is_one_line_and_no_download(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DatasetError, match=r"openai/gsm8k \(split 'test'\): cannot be read .*\(a hub dataset must "
                                           r"be in the local cache"):
        load_examples(DatasetSpec("gsm8k", hub="openai/gsm8k", subset="main", split="test"), seed=0)


def test_a_dataset_needs_a_path_or_a_hub_id_and_new_keys_keep_old_hashes():
    base = {"run_name": "r", "model": {"id": "m"}}
    with pytest.raises(ConfigError, match=r"key 'datasets\[0\].path': required \(a dataset file; or 'hub'"):
        parse_config({**base, "datasets": [{"name": "d"}]}, "run.yaml")
    with pytest.raises(ConfigError, match="not both"):
        parse_config({**base, "datasets": [{"name": "d", "path": "a.jsonl", "hub": "x/y"}]}, "run.yaml")
    plain = parse_config({**base, "datasets": [{"name": "d", "path": "d.jsonl"}]})
    assert plain.datasets[0].is_plain_jsonl()
    assert plain.config_hash() == parse_config({**base, "datasets": [{"name": "d", "path": "d.jsonl",
                                                                       "split": "train"}]}).config_hash()
