"""Search assets as code: load mappings, pipelines, search templates, roles and inference
endpoints from disk, and
plan / apply / roll back them on a cluster like migrations.

Indices are versioned (`chunks-v1`, `chunks-v2`, ...) behind an alias named after the mapping
file (`chunks`). A compatible change (new fields, dynamic settings) is applied in place; an
incompatible one creates the next version, reindexes into it and swaps the alias atomically.
The previous version keeps serving until the swap, and stays until `prune_versions`.
`loading` reads the files, `planning` compares them with the cluster, `applying` migrates,
`versions` handles the versioned indices behind an alias, `inference` the inference endpoints.
"""

from es_rag.assets.applying import apply, index_body
from es_rag.assets.loading import (
    SEMANTIC_FIELD,
    ApplyError,
    Asset,
    AssetError,
    Assets,
    Change,
    IndexAsset,
    embedding_processors,
    file_diff,
    load_assets,
    set_template_defaults,
    template_defaults,
)
from es_rag.assets.planning import plan
from es_rag.assets.versions import alias_target, index_versions, prune_versions, rollback

__all__ = [
    "SEMANTIC_FIELD", "ApplyError", "Asset", "AssetError", "Assets", "Change", "IndexAsset",
    "alias_target",
    "apply", "embedding_processors", "file_diff", "index_body", "index_versions", "load_assets",
    "plan", "prune_versions", "rollback", "set_template_defaults", "template_defaults",
]
