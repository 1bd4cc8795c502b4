"""Index mappings: field types, validation, additive merges and dynamic mapping of new fields.

`fields.py` field types and parameters, `mapper.py` the mapping of an index and document
parsing, `values.py` value conversion per type, `dynamic_templates.py` dynamic templates.
"""

from .fields import FLOAT_TYPES, INTEGER_TYPES, FieldSpec
from .mapper import Mapping, ParsedDocument

__all__ = ["FLOAT_TYPES", "INTEGER_TYPES", "FieldSpec", "Mapping", "ParsedDocument"]
