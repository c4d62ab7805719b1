"""Data for formed: text tokenizing and indexing, vocabularies, fields, loaders and datasets.

This is the public API of `//formed/data`. Tokenizing and indexing run in a compiled C++
extension (``_text_native``) with a pure-Python twin (``_text_reference``) that defines the
same behaviour; `TEXT_BACKEND` says which one is in use ("native" or "python").
"""

from formed.data._backend import IMPLEMENTATION as TEXT_BACKEND
from formed.data.data_values import resolve_data_values
from formed.data.datamodule import DataModule
from formed.data.datasets import SPLITS, BaseDataset, CsvDataset, JsonlDataset, TsvDataset
from formed.data.fields import BaseField, LabelField, ScalarField, TensorField, TextField
from formed.data.fingerprint import data_fingerprint
from formed.data.generated import SpatialRelationsDataset
from formed.data.loader import BatchIterator, DataLoader
from formed.data.padding import PaddedCollator, bucket_length, buckets_up_to, pad_rows, pad_text
from formed.data.readers import DataFormatError, SourcedRecord, locate, read_csv, read_jsonl, read_tsv
from formed.data.samplers import BaseBatchSampler, BasicBatchSampler, SizeOrderedBucketBatchSampler
from formed.data.tokenizer import Tokenizer
from formed.data.vocabulary import Vocabulary

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
