"""EsRagError: the base of every failure es-rag expects and reports to its user in one line."""


class EsRagError(Exception):
    """An expected failure whose message is meant for the user (the CLI prints it, no traceback).

    Library errors subclass it together with the builtin that describes them (`ValueError` for
    bad input, `RuntimeError` for a failed operation), so callers may catch either.
    """
