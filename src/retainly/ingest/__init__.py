"""Getting a shop's data in: readers, presets, mapping files, validation and the loader."""

from retainly.ingest.batch import Batch
from retainly.ingest.pipeline import IMPORT_KINDS, ImportResult, import_file

__all__ = ["Batch", "IMPORT_KINDS", "ImportResult", "import_file"]
