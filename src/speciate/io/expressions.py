"""Safe arithmetic over named data columns: ``"ln(i0/itrans)"``, ``"(fe_ka1+fe_ka2)/i0"``.

Expressions are parsed with `ast` and only a whitelist of nodes is evaluated: names,
numbers, ``+ - * / **``, unary minus and the functions ``ln``, ``log``, ``log10``,
``exp``, ``sqrt`` and ``abs``. Nothing is ever passed to `eval`.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping

import numpy as np

from speciate.errors import ValidationError

__all__ = ["FUNCTIONS", "ExpressionError", "evaluate", "names_in", "resolve_name"]


class ExpressionError(ValidationError):
    """A column expression cannot be parsed or evaluated."""


FUNCTIONS: Mapping[str, Callable[[np.ndarray], np.ndarray]] = {
    "ln": np.log,
    "log": np.log,
    "log10": np.log10,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "abs": np.abs,
}

_BINARY: Mapping[type, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY: Mapping[type, Callable[[np.ndarray], np.ndarray]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
_MAX_LENGTH = 500


def _parse(expression: str) -> ast.expr:
    if not isinstance(expression, str) or not expression.strip():
        raise ExpressionError(f"expected a column name or expression; got {expression!r}")
    if len(expression) > _MAX_LENGTH:
        raise ExpressionError(
            f"expression is {len(expression)} characters long; at most {_MAX_LENGTH} allowed"
        )
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:
        raise ExpressionError(f"cannot parse expression {expression!r}: {exc.msg}") from exc
    _check(tree.body, expression)
    return tree.body


def _check(node: ast.AST, expression: str) -> None:
    allowed = (ast.Name, ast.Constant, ast.BinOp, ast.UnaryOp, ast.Call)
    if not isinstance(node, allowed):
        raise ExpressionError(
            f"{type(node).__name__} is not allowed in expression {expression!r}; use column "
            f"names, numbers, + - * / ** and {', '.join(FUNCTIONS)}"
        )
    if isinstance(node, ast.Constant) and (
        isinstance(node.value, bool) or not isinstance(node.value, (int, float))
    ):
        raise ExpressionError(f"only numeric constants are allowed; got {node.value!r}")
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise ExpressionError(
                f"operator {type(node.op).__name__} is not allowed in {expression!r}; "
                "use + - * / **"
            )
        _check(node.left, expression)
        _check(node.right, expression)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise ExpressionError(f"unary {type(node.op).__name__} is not allowed")
        _check(node.operand, expression)
    elif isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in FUNCTIONS or node.keywords or len(node.args) != 1:
            raise ExpressionError(
                f"only one-argument calls of {', '.join(FUNCTIONS)} are allowed in "
                f"{expression!r}; found {ast.unparse(node)!r}"
            )
        _check(node.args[0], expression)


def names_in(expression: str) -> list[str]:
    """Column names used by ``expression``, in order of first use (functions excluded)."""
    body = _parse(expression)
    calls = {id(n.func) for n in ast.walk(body) if isinstance(n, ast.Call)}
    seen: dict[str, None] = {}
    for node in ast.walk(body):
        if isinstance(node, ast.Name) and id(node) not in calls:
            seen.setdefault(node.id, None)
    return list(seen)


def resolve_name(name: str, columns: Mapping[str, object]) -> str:
    """The key of ``columns`` matching ``name``: exactly, else ignoring case.

    Raises
    ------
    ExpressionError
        If no column matches, or several match ignoring case.
    """
    if name in columns:
        return name
    matches = [key for key in columns if key.lower() == name.lower()]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ExpressionError(
            f"column name {name!r} is ambiguous ignoring case: {matches}; spell it exactly"
        )
    raise ExpressionError(f"no column named {name!r}; columns found: {list(columns)}")


def evaluate(expression: str, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Evaluate ``expression`` over named columns.

    Parameters
    ----------
    expression
        A column name or an arithmetic expression of column names, e.g.
        ``"ln(i0/itrans)"``. Names match exactly, else ignoring case.
    columns
        Column name -> 1-D array (n_rows,).

    Returns
    -------
    numpy.ndarray
        Float array of shape (n_rows,).

    Raises
    ------
    ExpressionError
        On a disallowed construct, an unknown column or a non-finite result
        (e.g. the log of a non-positive number), naming the first bad row.
    """
    body = _parse(expression)
    n_rows = len(next(iter(columns.values()))) if columns else 0
    with np.errstate(all="ignore"):
        value = _eval(body, columns)
        out = np.broadcast_to(np.asarray(value, dtype=float), (n_rows,)).copy()
    bad = ~np.isfinite(out)
    if bad.any():
        row = int(np.nonzero(bad)[0][0])
        raise ExpressionError(
            f"expression {expression!r} gives {int(bad.sum())} non-finite value(s) "
            f"(first at data row {row}); check the columns it uses ({names_in(expression)})"
        )
    return out


def _eval(node: ast.expr, columns: Mapping[str, np.ndarray]) -> np.ndarray | float:
    if isinstance(node, ast.Name):
        return np.asarray(columns[resolve_name(node.id, columns)], dtype=float)
    if isinstance(node, ast.Constant):
        # numpy scalars turn 1/0 and overflow into inf (reported below) instead of raising
        return np.float64(node.value)
    if isinstance(node, ast.BinOp):
        left = _eval(node.left, columns)
        right = _eval(node.right, columns)
        if isinstance(node.op, ast.Pow) and np.any(np.abs(right) > 100):
            raise ExpressionError("exponents larger than 100 are not allowed")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, columns))
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    return FUNCTIONS[node.func.id](_eval(node.args[0], columns))
