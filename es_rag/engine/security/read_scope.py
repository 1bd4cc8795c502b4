"""The document- and field-level-security scope of one request, handed to every service that reads.

The security filter builds a `ReadScope` for the authenticated user of each request and the
request carries it (`RestRequest.read_scope`); a handler passes it on to the service it calls,
and the service applies it where it reads, as Elasticsearch applies DLS in the shard's searcher:

- `targets(...)` resolves an index expression to the indices the user may read, each carrying
  the user's DLS query as a required filter (next to alias filters), so the query, the kNN
  pre-filter, retrievers, aggregations, highlighting and every search built on them see only
  readable documents (search, count, msearch, templates, rank_eval, explain, terms lookup,
  reindex source, delete_by_query);
- `admits(index, id)` says whether a single document may be read (real-time get, mget, explain,
  terms lookup);
- field-level security rides along: each target carries the user's `FieldAccess` (`fields`),
  which the search scopes apply to queries, aggregations, sorts, highlighting and `_source`, and
  `fields(index)` gives it to single-document reads (get, mget, terms lookup);
- `authorize(action, index)` authorizes one item of a composite read on its own index (mget).

`UNRESTRICTED` is the scope when security is off, and the one a service uses for its own
internal reads. Every read method of a service takes `read_scope` as a required keyword, so a new
read path cannot forget it silently; `tests/engine_security/test_read_paths.py` calls every read
route as a restricted user and fails on any hidden document in the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..date_math_names import resolve_expression
from ..errors import IndexNotFound
from .service import SEARCH_ACTION

if TYPE_CHECKING:
    from ..node import Target
    from .authn import AuthenticatedUser
    from .fls import FieldAccess
    from .service import Security

# (pattern or `_all`, expand_wildcards) → the index and alias names it matches
Expand = Callable[[str, str], list[str]]
# (concrete index, document id, query) → whether the document's latest version matches
Matches = Callable[[str, str, dict[str, Any]], bool]
# an index expression (or None: all) → the targets it resolves to
Resolve = Callable[["str | None"], "list[Target]"]


@dataclass(frozen=True)
class ReadScope:
    """What one request may read: its user's index permissions and DLS queries.

    With no user (security off) every document is readable. A restricted scope built without
    `expand` expands wildcards to nothing, and without `matches` admits no single document.
    """

    user: AuthenticatedUser | None = None
    security: Security | None = None
    expand: Expand | None = None
    matches: Matches | None = None

    def targets(self, index: str | None, options: dict[str, Any], resolve: Resolve
                ) -> list[Target]:
        """The indices `index` resolves to that the user may read, each with the user's DLS
        query added to its alias filters (`options`: the index-resolution URL parameters)."""
        user, security = self.user, self.security
        index = resolve_expression(index)
        if user is None or security is None:
            return resolve(index)
        expand = self.expand or (lambda pattern, wildcards: [])  # none given: wildcards find none
        names = security.authorized_names(
            user, SEARCH_ACTION, index,
            lambda pattern: expand(pattern, options["expand_wildcards"]))
        if not names:
            if not options["allow_no_indices"]:
                raise IndexNotFound(index or "_all")
            return []
        resolved = resolve(",".join(names))
        for target in resolved:
            aliases = [n for n in names if n in target.index.aliases]
            target.fields = self.fields(target.index.name, aliases)
            dls = self.query(target.index.name, aliases)
            if dls is not None:
                base = target.alias_filters
                target.alias_filters = [dls if not base else
                                        {"bool": {"filter": [{"bool": {"should": base}}, dls]}}]
        return resolved

    def query(self, index: str, aliases: list[str] | None = None) -> dict[str, Any] | None:
        """The DLS query restricting reads of the concrete `index` (None: no restriction)."""
        if self.user is None or self.security is None:
            return None
        return self.security.dls_query(self.user, index, aliases=aliases or ())

    def fields(self, index: str, aliases: list[str] | None = None,
               action: str = SEARCH_ACTION) -> FieldAccess | None:
        """The fields the user sees in the concrete `index` with `action` (None: all)."""
        if self.user is None or self.security is None:
            return None
        return self.security.field_access(self.user, index, aliases=aliases or (),
                                          action=action)

    def restricted(self, index: str) -> bool:
        """Whether document- or field-level security applies to the user on `index`."""
        return self.query(index) is not None or self.fields(index) is not None

    def admits(self, index: str, doc_id: str) -> bool:
        """Whether the user's DLS lets them read document `doc_id` of the concrete `index`."""
        dls = self.query(index)
        if dls is None:
            return True
        return self.matches is not None and self.matches(index, doc_id, dls)

    def authorize(self, action: str, index: str) -> None:
        """Authorize one item of a composite read (an mget item) on its own index (403)."""
        if self.user is not None and self.security is not None:
            self.security.authorize(self.user, action, [index])


UNRESTRICTED = ReadScope()
