"""Processor `if` conditions: the small, safe subset of Painless the embedded engine evaluates.

Supported: `ctx.a.b` / `ctx['a']` / `ctx.a?.b` / `ctx.list[0]`, string, number, boolean and null
literals, `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`, `||`, `!` and parentheses. Anything else is
refused when the pipeline is stored, never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from es_rag.engine.errors import EngineError

_TOKEN = re.compile(r"""\s*(?:
    (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\?\.|==|!=|<=|>=|&&|\|\||[.<>!()\[\]])
)""", re.VERBOSE)
_LITERALS = {"true": True, "false": False, "null": None}
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}
UNSUPPORTED = "script conditions are not supported by the embedded engine"

Expr = Callable[[dict[str, Any]], Any]


class UnsupportedCondition(ValueError):
    """The condition uses Painless beyond the supported subset."""


class ConditionRuntimeError(EngineError):
    """A condition failed while running (Painless' `script_exception`)."""

    status = 400
    error_type = "script_exception"


class Condition:
    """A compiled `if`; `evaluate(ctx)` returns a boolean or raises `ConditionRuntimeError`."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._tokens = _tokenize(source)
        self._pos = 0
        self._expr = self._or()
        if self._pos != len(self._tokens):
            raise UnsupportedCondition(f"unexpected [{self._tokens[self._pos][1]}]")

    def evaluate(self, ctx: dict[str, Any]) -> bool:
        """Run the condition against the document's source and metadata."""
        result = self._expr(ctx)
        if not isinstance(result, bool):
            raise self._runtime_error("class_cast_exception",
                                      f"condition [{self.source}] did not return a boolean")
        return result

    def _runtime_error(self, kind: str, reason: str) -> ConditionRuntimeError:
        return ConditionRuntimeError("runtime error", script=self.source, lang="painless",
                                     caused_by={"type": kind, "reason": reason})

    # -- recursive descent ------------------------------------------------------------------

    def _peek(self) -> str | None:
        return self._tokens[self._pos][1] if self._pos < len(self._tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self._pos >= len(self._tokens):
            raise UnsupportedCondition("unexpected end of condition")
        token = self._tokens[self._pos]
        if expected is not None and token[1] != expected:
            raise UnsupportedCondition(f"expected [{expected}] but found [{token[1]}]")
        self._pos += 1
        return token

    def _or(self) -> Expr:
        left = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            left = (lambda lhs, rhs: lambda ctx: self._truth(lhs(ctx)) or self._truth(rhs(ctx)))(
                left, right)
        return left

    def _and(self) -> Expr:
        left = self._not()
        while self._peek() == "&&":
            self._take()
            right = self._not()
            left = (lambda lhs, rhs: lambda ctx: self._truth(lhs(ctx)) and self._truth(rhs(ctx))
                    )(left, right)
        return left

    def _not(self) -> Expr:
        if self._peek() == "!":
            self._take()
            inner = self._not()
            return lambda ctx: not self._truth(inner(ctx))
        return self._comparison()

    def _comparison(self) -> Expr:
        left = self._primary()
        op = self._peek()
        if op in ("==", "!=", "<", "<=", ">", ">="):
            self._take()
            right = self._primary()
            return self._compare(op, left, right)
        return left

    def _compare(self, op: str, left: Expr, right: Expr) -> Expr:
        if op == "==":
            return lambda ctx: _equal(left(ctx), right(ctx))
        if op == "!=":
            return lambda ctx: not _equal(left(ctx), right(ctx))

        def ordered(ctx: dict[str, Any]) -> bool:
            a, b = left(ctx), right(ctx)
            if not (_is_number(a) and _is_number(b)):
                raise self._runtime_error("class_cast_exception",
                                          f"cannot compare [{a!r}] and [{b!r}] with [{op}]")
            return _COMPARISONS[op](a, b)
        return ordered

    def _primary(self) -> Expr:
        kind, text = self._take()
        if text == "(":
            inner = self._or()
            self._take(")")
            return inner
        if kind == "string":
            value = _unquote(text)
            return lambda ctx: value
        if kind == "number":
            number = float(text) if "." in text else int(text)
            return lambda ctx: number
        if kind == "name" and text in _LITERALS:
            literal = _LITERALS[text]
            return lambda ctx: literal
        if kind == "name" and text == "ctx":
            return self._path()
        raise UnsupportedCondition(f"unsupported [{text}]")

    def _path(self) -> Expr:
        steps: list[tuple[Any, bool]] = []
        while self._peek() in (".", "?.", "["):
            op = self._take()[1]
            if op == "[":
                kind, text = self._take()
                if kind == "string":
                    key: Any = _unquote(text)
                elif kind == "number" and "." not in text:
                    key = int(text)
                else:
                    raise UnsupportedCondition(f"unsupported index [{text}]")
                self._take("]")
                steps.append((key, False))
            else:
                kind, text = self._take()
                if kind != "name":
                    raise UnsupportedCondition(f"expected a field name after [{op}]")
                if self._peek() == "(":
                    raise UnsupportedCondition(f"method calls such as [{text}(…)]")
                steps.append((text, op == "?."))
        return lambda ctx: self._walk(ctx, steps)

    def _walk(self, ctx: dict[str, Any], steps: list[tuple[Any, bool]]) -> Any:
        value: Any = ctx
        for key, null_safe in steps:
            if value is None:
                if null_safe:
                    return None
                raise self._runtime_error("null_pointer_exception",
                                          f"cannot access [{key}] of null")
            if isinstance(value, dict):
                value = value.get(key) if isinstance(key, str) else None
            elif isinstance(value, list) and isinstance(key, int):
                if not 0 <= key < len(value):
                    raise self._runtime_error("index_out_of_bounds_exception",
                                              f"index [{key}] out of bounds for length "
                                              f"[{len(value)}]")
                value = value[key]
            else:
                raise self._runtime_error("illegal_argument_exception",
                                          f"cannot access [{key}] of a non-object value")
        return value

    def _truth(self, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self._runtime_error("class_cast_exception",
                                      f"cannot cast [{value!r}] to boolean")
        return value


def compile_condition(script: Any) -> Condition:
    """Compile an `if` value (a string or `{"source", "lang"}`); raises `UnsupportedCondition`."""
    if isinstance(script, dict):
        unknown = set(script) - {"source", "lang"}
        if unknown or script.get("lang", "painless") != "painless":
            raise UnsupportedCondition("only inline painless conditions without params")
        script = script.get("source")
    if not isinstance(script, str):
        raise UnsupportedCondition("the condition must be a string")
    return Condition(script)


def _tokenize(source: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    source = source.strip().removesuffix(";").strip()
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if not match or match.end() == pos:
            raise UnsupportedCondition(f"unsupported syntax at [{source[pos:pos + 20]}]")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(source) and source[pos].isspace():
            pos += 1
    return tokens


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b if a is not None and b is not None else a is b
