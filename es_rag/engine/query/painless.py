"""A small Painless subset for scoring scripts: expressions, local variables, `if`/`else` and
`return`, with the vector functions and `doc`/`params`/`_score` of Elasticsearch's score scripts.

It covers what score scripts are commonly written with (`cosineSimilarity(params.query_vector,
'embedding') + 1.0`, `Math.log(2 + doc['likes'].value)`, `sigmoid`, `saturation`, ternaries);
anything else (loops, lambdas, casts, method calls beyond the doc-value accessors) is refused
at compile time with a `script_exception`, as a real cluster refuses code it cannot compile.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest

_TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+\.\d*(?:[eE][-+]?\d+)?[fFdD]?|\.\d+(?:[eE][-+]?\d+)?[fFdD]?|\d+(?:[eE][-+]?\d+)?[lLfFdD]?)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,;()\[\]{}=])
)""", re.VERBOSE)
_TYPES = {"def", "double", "float", "int", "long", "boolean", "var", "short", "byte"}
_BINARY = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5,
           "-": 5, "*": 6, "/": 6, "%": 6}
_MATH: dict[str, Any] = {
    "log": math.log, "log10": math.log10, "sqrt": math.sqrt, "exp": math.exp, "pow": math.pow,
    "abs": abs, "min": min, "max": max, "floor": math.floor, "ceil": math.ceil,
    "signum": lambda v: float((v > 0) - (v < 0)), "E": math.e, "PI": math.pi,
}


def compile_error(source: str, why: str) -> BadRequest:
    """Elasticsearch's answer to a script it cannot compile."""
    return BadRequest("compile error", error_type="script_exception", lang="painless",
                      script=source, caused_by={"type": "illegal_argument_exception",
                                                "reason": why})


def runtime_error(source: str, why: str) -> BadRequest:
    """Elasticsearch's answer to a script that fails while it runs."""
    return BadRequest("runtime error", error_type="script_exception", lang="painless",
                      script=source, caused_by={"type": "illegal_argument_exception",
                                                "reason": why})


@dataclass(frozen=True)
class Node:
    """One node of the parsed script: `kind` and its operands."""

    kind: str
    args: tuple[Any, ...] = ()


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = source.rstrip()
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                raise compile_error(source, f"unexpected character [{text[pos:].strip()[:1]}]")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.at = 0

    def peek(self, value: str | None = None) -> bool:
        return self.at < len(self.tokens) and (value is None or self.tokens[self.at][1] == value)

    def take(self, value: str | None = None) -> tuple[str, str]:
        if not self.peek(value):
            found = self.tokens[self.at][1] if self.at < len(self.tokens) else "end of script"
            raise compile_error(self.source, f"expected [{value or 'a value'}], found [{found}]")
        token = self.tokens[self.at]
        self.at += 1
        return token

    # statements ----------------------------------------------------------------------
    def script(self) -> Node:
        statements = []
        while self.peek():
            statements.append(self.statement())
        if not statements:
            raise compile_error(self.source, "the script is empty")
        return Node("block", tuple(statements))

    def statement(self) -> Node:
        if self.peek("{"):
            self.take("{")
            body = []
            while not self.peek("}"):
                body.append(self.statement())
            self.take("}")
            return Node("block", tuple(body))
        if self.peek("if"):
            self.take("if")
            self.take("(")
            condition = self.expression()
            self.take(")")
            then = self.statement()
            otherwise = None
            if self.peek("else"):
                self.take("else")
                otherwise = self.statement()
            return Node("if", (condition, then, otherwise))
        if self.peek("return"):
            self.take("return")
            value = self.expression()
            self._end()
            return Node("return", (value,))
        if self.peek() and self.tokens[self.at][1] in ("for", "while", "do"):
            raise compile_error(self.source, f"[{self.tokens[self.at][1]}] loops are not "
                                             "supported by the embedded engine")
        if self.peek() and self.tokens[self.at][1] in _TYPES and \
                self.at + 1 < len(self.tokens) and self.tokens[self.at + 1][0] == "name":
            self.take()
            name = self.take()[1]
            self.take("=")
            value = self.expression()
            self._end()
            return Node("let", (name, value))
        if self.peek() and self.tokens[self.at][0] == "name" and \
                self.at + 1 < len(self.tokens) and self.tokens[self.at + 1][1] == "=":
            name = self.take()[1]
            self.take("=")
            value = self.expression()
            self._end()
            return Node("let", (name, value))
        value = self.expression()
        self._end()
        return Node("expr", (value,))

    def _end(self) -> None:
        if self.peek(";"):
            self.take(";")
        elif self.peek() and not self.peek("}"):
            raise compile_error(self.source, f"expected [;], found [{self.tokens[self.at][1]}]")

    # expressions (precedence climbing) --------------------------------------------------
    def expression(self) -> Node:
        condition = self.binary(1)
        if self.peek("?"):
            self.take("?")
            then = self.expression()
            self.take(":")
            return Node("cond", (condition, then, self.expression()))
        return condition

    def binary(self, level: int) -> Node:
        left = self.unary()
        while self.peek() and _BINARY.get(self.tokens[self.at][1], 0) >= level \
                and self.tokens[self.at][0] == "op":
            op = self.take()[1]
            left = Node("bin", (op, left, self.binary(_BINARY[op] + 1)))
        return left

    def unary(self) -> Node:
        if self.peek("-") or self.peek("!") or self.peek("+"):
            return Node("unary", (self.take()[1], self.unary()))
        return self.postfix(self.primary())

    def primary(self) -> Node:
        kind, value = self.take()
        if kind == "num":
            return Node("const", (float(value.rstrip("fFdDlL")) if re.search(r"[.eEfFdD]", value)
                                  else int(value.rstrip("lL")),))
        if kind == "str":
            return Node("const", (bytes(value[1:-1], "utf-8").decode("unicode_escape"),))
        if kind == "name":
            if value in ("true", "false"):
                return Node("const", (value == "true",))
            if value == "null":
                return Node("const", (None,))
            if value == "new" or value in _TYPES:
                raise compile_error(self.source, f"[{value}] is not supported by the embedded "
                                                 "engine")
            return Node("name", (value,))
        if value == "(":
            inner = self.expression()
            self.take(")")
            return inner
        raise compile_error(self.source, f"unexpected [{value}]")

    def postfix(self, node: Node) -> Node:
        while self.peek(".") or self.peek("(") or self.peek("["):
            op = self.take()[1]
            if op == ".":
                node = Node("attr", (node, self.take()[1]))
            elif op == "[":
                index = self.expression()
                self.take("]")
                node = Node("index", (node, index))
            else:
                args = []
                while not self.peek(")"):
                    args.append(self.expression())
                    if not self.peek(")"):
                        self.take(",")
                self.take(")")
                node = Node("call", (node, tuple(args)))
        return node


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class Script:
    """A compiled score script: `run(variables)` gives its value for one document.

    `variables` holds `params`, `_score`, `doc` (a mapping of field name to doc values, see
    `DocValues`) and the vector functions' resolver `vector_of(field)`.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.tree = _Parser(source).script()

    def run(self, variables: Mapping[str, Any]) -> Any:
        scope = dict(variables)
        try:
            return self._block(self.tree, scope)
        except _Return as done:
            return done.value
        except BadRequest:
            raise
        except (ArithmeticError, TypeError, ValueError, KeyError, IndexError) as exc:
            raise runtime_error(self.source, str(exc) or type(exc).__name__) from None

    def _block(self, node: Node, scope: dict[str, Any]) -> Any:
        last = None
        for statement in node.args:
            last = self._statement(statement, scope)
        return last

    def _statement(self, node: Node, scope: dict[str, Any]) -> Any:
        if node.kind == "block":
            return self._block(node, scope)
        if node.kind == "let":
            scope[node.args[0]] = self._eval(node.args[1], scope)
            return None
        if node.kind == "return":
            raise _Return(self._eval(node.args[0], scope))
        if node.kind == "if":
            condition, then, otherwise = node.args
            if self._eval(condition, scope):
                return self._statement(then, scope)
            return self._statement(otherwise, scope) if otherwise is not None else None
        return self._eval(node.args[0], scope)

    def _eval(self, node: Node, scope: dict[str, Any]) -> Any:
        kind, args = node.kind, node.args
        if kind == "const":
            return args[0]
        if kind == "name":
            name = args[0]
            if name in scope:
                return scope[name]
            if name == "Math":
                return _MATH
            if name in _FUNCTIONS:
                return _FUNCTIONS[name]
            raise compile_error(self.source, f"cannot resolve symbol [{name}]")
        if kind == "unary":
            value = self._eval(args[1], scope)
            return -value if args[0] == "-" else (not value) if args[0] == "!" else value
        if kind == "bin":
            return self._binary(args[0], args[1], args[2], scope)
        if kind == "cond":
            return self._eval(args[1] if self._eval(args[0], scope) else args[2], scope)
        if kind == "attr":
            return _attribute(self.source, self._eval(args[0], scope), args[1])
        if kind == "index":
            target, key = self._eval(args[0], scope), self._eval(args[1], scope)
            return target[key]
        target = self._eval(args[0], scope)
        values = [self._eval(a, scope) for a in args[1]]
        if getattr(target, "needs_scope", False):
            return target(scope, *values)
        if not callable(target):
            raise compile_error(self.source, "only functions can be called")
        return target(*values)

    def _binary(self, op: str, left_node: Node, right_node: Node, scope: dict[str, Any]) -> Any:
        left = self._eval(left_node, scope)
        if op == "&&":
            return bool(left) and bool(self._eval(right_node, scope))
        if op == "||":
            return bool(left) or bool(self._eval(right_node, scope))
        right = self._eval(right_node, scope)
        if op == "/" and isinstance(left, int) and isinstance(right, int):
            return int(left / right)  # Java integer division truncates
        if op == "%" and isinstance(left, int) and isinstance(right, int):
            return int(math.fmod(left, right))
        operations: dict[str, Callable[[Any, Any], Any]] = {
            "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
            "/": lambda a, b: a / b if b else (math.inf if a > 0 else -math.inf if a < 0
                                                else math.nan),
            "%": math.fmod, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
            "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b}
        return operations[op](left, right)


def _attribute(source: str, target: Any, name: str) -> Any:
    if isinstance(target, Mapping):
        if name in target:
            return target[name]
        if target is _MATH:
            raise compile_error(source, f"unknown method [Math.{name}]")
        return None  # params.missing is null in Painless
    if isinstance(target, DocValues):
        if name in DocValues.PROPERTIES:
            return getattr(target, name)()
        if name in DocValues.METHODS:
            return getattr(target, name)
    raise compile_error(source, f"cannot access [{name}] of [{type(target).__name__}]")


class DocValues:
    """`doc['field']`: the values of one field of the current document."""

    PROPERTIES = ("value", "empty", "length", "vectorValue", "magnitude")
    METHODS = ("getValue", "size", "isEmpty")

    def __init__(self, field: str, values: list[Any]) -> None:
        self.field = field
        self.values = values

    def value(self) -> Any:
        if not self.values:
            raise ValueError(f"A document doesn't have a value for a field! Use "
                             f"doc[{self.field}].size()==0 to check if a document is missing "
                             f"a field!")
        return self.values[0]

    def getValue(self) -> Any:  # noqa: N802 - Painless' name
        return self.value()

    def size(self) -> int:
        return len(self.values)

    def empty(self) -> bool:
        return not self.values

    def isEmpty(self) -> bool:  # noqa: N802 - Painless' name
        return not self.values

    def length(self) -> int:
        return len(self.values)

    def vectorValue(self) -> list[float]:  # noqa: N802 - Painless' name
        return list(self.value())

    def magnitude(self) -> float:
        return math.sqrt(sum(v * v for v in self.value()))

    def __getitem__(self, index: int) -> Any:
        return self.values[index]


def _vector(scope: Mapping[str, Any], field: Any) -> list[float]:
    name = field.field if isinstance(field, DocValues) else str(field)
    return scope["vector_of"](name)


def _pair(scope: Mapping[str, Any], query: Any, field: Any) -> tuple[list[float], list[float]]:
    doc = _vector(scope, field)
    query = [float(v) for v in query]
    if len(query) != len(doc):
        raise ValueError(f"The query vector has a different number of dimensions "
                         f"[{len(query)}] than the document vectors [{len(doc)}].")
    return query, doc


def _scoped(function: Callable[..., Any]) -> Callable[..., Any]:
    function.needs_scope = True  # type: ignore[attr-defined]
    return function


@_scoped
def _cosine(scope: Mapping[str, Any], query: Any, field: Any) -> float:
    q, d = _pair(scope, query, field)
    norms = math.sqrt(sum(v * v for v in q)) * math.sqrt(sum(v * v for v in d))
    return sum(a * b for a, b in zip(q, d, strict=True)) / norms if norms else 0.0


@_scoped
def _dot(scope: Mapping[str, Any], query: Any, field: Any) -> float:
    q, d = _pair(scope, query, field)
    return sum(a * b for a, b in zip(q, d, strict=True))


@_scoped
def _l1(scope: Mapping[str, Any], query: Any, field: Any) -> float:
    q, d = _pair(scope, query, field)
    return sum(abs(a - b) for a, b in zip(q, d, strict=True))


@_scoped
def _l2(scope: Mapping[str, Any], query: Any, field: Any) -> float:
    q, d = _pair(scope, query, field)
    return math.sqrt(sum((a - b) ** 2 for a, b in zip(q, d, strict=True)))


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "cosineSimilarity": _cosine, "dotProduct": _dot, "l1norm": _l1, "l2norm": _l2,
    "sigmoid": lambda value, k, a: value ** a / (k ** a + value ** a),
    "saturation": lambda value, k: value / (k + value),
}
