"""Document ingestion: discover files, parse them with Tika, chunk, embed, bulk-index them."""

from es_rag.ingest.acl import AclRules, AclRulesError, acl_rules, load_acl_rules
from es_rag.ingest.bulk import IngestError, delete_document, index_counts
from es_rag.ingest.chunk import Chunk, Chunker, chunk_id, code_language, tokenizer_spans
from es_rag.ingest.discover import DiscoveryError, SourceFile, discover, document_id
from es_rag.ingest.index import ingest_paths
from es_rag.ingest.options import IngestOptions
from es_rag.ingest.parse import Heading, ParsedDocument, ParseError, TikaParser
from es_rag.ingest.records import CorpusRecord, ingest_records, read_jsonl_corpus
from es_rag.ingest.report import IngestFailure, IngestReport

__all__ = [
    "AclRules",
    "AclRulesError",
    "Chunk",
    "Chunker",
    "CorpusRecord",
    "DiscoveryError",
    "Heading",
    "IngestError",
    "IngestFailure",
    "IngestReport",
    "ParseError",
    "ParsedDocument",
    "SourceFile",
    "TikaParser",
    "acl_rules",
    "chunk_id",
    "code_language",
    "delete_document",
    "discover",
    "document_id",
    "index_counts",
    "IngestOptions",
    "ingest_paths",
    "ingest_records",
    "load_acl_rules",
    "read_jsonl_corpus",
    "tokenizer_spans",
]
