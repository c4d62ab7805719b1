"""Data for formed: text tokenizing and indexing, vocabularies, fields, loaders and datasets.

This is the public API of `//formed/data`. Tokenizing and indexing run in a compiled C++
extension (``_text_native``) with a pure-Python twin (``_text_reference``) that defines the
same behaviour; `TEXT_BACKEND` says which one is in use ("native" or "python").
"""

from formed.data._backend import IMPLEMENTATION as TEXT_BACKEND
from formed.data._data_values import resolve_data_values
from formed.data._datamodule import DataModule
from formed.data._datasets import SPLITS, BaseDataset, CsvDataset, JsonlDataset, TsvDataset
from formed.data._fields import BaseField, LabelField, ScalarField, TensorField, TextField
from formed.data._fingerprint import data_fingerprint
from formed.data._generated import SpatialRelationsDataset
from formed.data._loader import BatchIterator, DataLoader
from formed.data._padding import PaddedCollator, bucket_length, buckets_up_to, pad_rows, pad_text
from formed.data._readers import DataFormatError, SourcedRecord, locate, read_csv, read_jsonl, read_tsv
from formed.data._samplers import BaseBatchSampler, BasicBatchSampler, SizeOrderedBucketBatchSampler
from formed.data._tokenizer import Tokenizer
from formed.data._vocabulary import Vocabulary

__all__ = [
    "SPLITS",
    "TEXT_BACKEND",
    "BaseBatchSampler",
    "BaseDataset",
    "BaseField",
    "BasicBatchSampler",
    "BatchIterator",
    "CsvDataset",
    "DataFormatError",
    "DataLoader",
    "DataModule",
    "JsonlDataset",
    "LabelField",
    "PaddedCollator",
    "ScalarField",
    "SizeOrderedBucketBatchSampler",
    "SourcedRecord",
    "SpatialRelationsDataset",
    "TensorField",
    "TextField",
    "Tokenizer",
    "TsvDataset",
    "Vocabulary",
    "bucket_length",
    "buckets_up_to",
    "pad_rows",
    "pad_text",
    "data_fingerprint",
    "locate",
    "read_csv",
    "read_jsonl",
    "read_tsv",
    "resolve_data_values",
]
