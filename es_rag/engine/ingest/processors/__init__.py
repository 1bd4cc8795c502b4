"""Ingest processors by Elasticsearch name."""

from __future__ import annotations

from es_rag.engine.ingest.processors import (
    control,
    conversions,
    dates,
    fields,
    grok,
    inference,
    network,
    parsing,
    security,
    strings,
)
from es_rag.engine.ingest.processors.base import Processor

REGISTRY: dict[str, type[Processor]] = {
    processor.type: processor
    for module in (fields, strings, conversions, dates, control, inference, security, grok,
                   parsing, network)
    for processor in module.PROCESSORS
}

__all__ = ["REGISTRY", "Processor"]
