"""CREATE / ALTER FUNCTION and PROCEDURE, and finding a function from its signature.

A function is keyed by ``schema.name(argument types)``: its input types identify it, so an
overload is another function and renaming an argument is not. Its definition is printed in
the shape of ``pg_get_functiondef``, with the body as written.
"""

from __future__ import annotations

from typing import Any

from plimsoll.db.catalog import Function, Grant, Origin, quote_literal
from plimsoll.db.ddl.model import Model
from plimsoll.db.ddl.privileges import default_privileges
from plimsoll.db.ddl.state import Privileges, grant_set, quote, sql_name
from plimsoll.db.ddl.types import bare
from plimsoll.db.sqljson import Node, constant, strings, unwrap

_PARAMETER_MODES = {
    "FUNC_PARAM_IN": "IN",
    "FUNC_PARAM_DEFAULT": "",
    "FUNC_PARAM_OUT": "OUT",
    "FUNC_PARAM_INOUT": "INOUT",
    "FUNC_PARAM_VARIADIC": "VARIADIC",
    "FUNC_PARAM_TABLE": "TABLE",
}
# Modes of the parameters that are not arguments (results).
_RESULT_MODES = ("OUT", "TABLE")
# What every new function grants (acldefault('f')).
_PUBLIC_EXECUTE = Grant("EXECUTE", "PUBLIC")
# Settings whose list values PostgreSQL quotes as identifiers in proconfig (GUC_LIST_QUOTE).
_LIST_QUOTE_SETTINGS = frozenset(
    {
        "search_path",
        "temp_tablespaces",
        "session_preload_libraries",
        "shared_preload_libraries",
        "local_preload_libraries",
    }
)


class FunctionDraft:
    """A function or procedure being built."""

    def __init__(self, schema: str, name: str, origin: Origin | None) -> None:
        self.schema = schema
        self.name = name
        # (mode, name, type): mode is "", "IN", "OUT", "INOUT", "VARIADIC" or "TABLE".
        self.parameters: list[tuple[str, str, str]] = []
        self.returns: str | None = None
        self.procedure = False
        self.comment: str | None = None
        self.language = "sql"
        self.security_definer = False
        self.volatility = "VOLATILE"
        self.strict = False
        self.leakproof = False
        self.config: list[str] = []
        # A new function's privileges: EXECUTE to PUBLIC (acldefault).
        self.grants: Privileges = {("EXECUTE", "PUBLIC"): _PUBLIC_EXECUTE}
        self.body: str | None = None
        self.sql_body = False
        self.origin = origin

    @property
    def argument_types(self) -> str:
        """The input argument types, which identify the function."""
        return ", ".join(t for mode, _n, t in self.parameters if mode not in ("OUT", "TABLE"))

    @property
    def key(self) -> str:
        """``schema.name(argument types)``."""
        return f"{self.schema}.{self.name}({self.argument_types})"

    def identity_args(self) -> str:
        """pg_get_function_identity_arguments: modes (IN spelled out for a procedure only),
        names and types, TABLE columns left out."""
        out = []
        for mode, name, type_ in self.parameters:
            if mode == "TABLE":
                continue
            if mode in ("", "IN"):
                word = "IN" if self.procedure else ""
            else:
                word = mode
            text = f"{word} " if word else ""
            text += f"{quote(name)} " if name else ""
            out.append(text + type_)
        return ", ".join(out)

    def definition(self) -> str:
        """The function as pg_get_functiondef prints it."""
        kind = "PROCEDURE" if self.procedure else "FUNCTION"
        text = f"CREATE OR REPLACE {kind} {sql_name(self.schema, self.name)}"
        text += f"({self.identity_args()})\n"
        if self.returns is not None:
            text += f" RETURNS {self.returns}\n"
        text += f" LANGUAGE {self.language}\n"
        traits = []
        if self.volatility != "VOLATILE":
            traits.append(self.volatility)
        if self.strict:
            traits.append("STRICT")
        if self.security_definer:
            traits.append("SECURITY DEFINER")
        if self.leakproof:
            traits.append("LEAKPROOF")
        if traits:
            text += f" {' '.join(traits)}\n"
        for setting in self.config:
            name, _eq, value = setting.partition("=")
            text += f" SET {name} TO {quote_literal(value)}\n"
        if self.sql_body:
            return text + f"{self.body}\n"
        return text + f"AS $function${self.body or ''}$function$\n"

    def frozen(self) -> Function:
        """The catalog's Function."""
        return Function(
            schema=self.schema,
            name=self.name,
            identity_args=self.identity_args(),
            definition=self.definition(),
            argument_types=self.argument_types,
            returns=None if self.procedure else self.returns,
            procedure=self.procedure,
            comment=self.comment,
            language=self.language,
            security_definer=self.security_definer,
            volatility=self.volatility,
            config=tuple(self.config),
            body=self.body,
            grants=grant_set(self.grants),
            origin=self.origin,
        )


def create_function(model: Model, node: Node) -> None:
    """CREATE [OR REPLACE] FUNCTION / PROCEDURE."""
    names = strings(node.get("funcname"))
    if not names:
        return
    schema = names[-2] if len(names) > 1 else model.create_in
    function = FunctionDraft(schema, names[-1], model.here())
    function.procedure = bool(node.get("is_procedure"))
    out_types = []
    table_columns = []
    for item in node.get("parameters") or ():
        parameter = unwrap(item)[1]
        mode = _PARAMETER_MODES.get(parameter.get("mode", ""), "")
        type_ = bare(model.type_text(parameter.get("argType")))
        function.parameters.append((mode, parameter.get("name", ""), type_))
        if mode in ("OUT", "INOUT"):
            out_types.append(type_)
        elif mode == "TABLE":
            table_columns.append(f"{quote(parameter.get('name', ''))} {type_}")
    return_type = node.get("returnType")
    if table_columns:
        function.returns = f"TABLE({', '.join(table_columns)})"
    elif return_type:
        returns = bare(model.type_text(return_type))
        function.returns = f"SETOF {returns}" if return_type.get("setof") else returns
    elif not function.procedure:
        function.returns = out_types[0] if len(out_types) == 1 else "record"
    _function_options(function, node.get("options"), model.path)
    if node.get("sql_body") is not None:
        function.sql_body = True
        tokens = model.tokens()
        start = tokens.find_top(0, "RETURN")
        if start >= len(tokens):
            start = tokens.find_top(0, "BEGIN_P", "ATOMIC")
        function.body = tokens.text(start, len(tokens))
    previous = model.functions.get(function.key)
    if previous is not None:
        # CREATE OR REPLACE keeps the function's comment and privileges.
        function.comment = previous.comment
        function.grants = previous.grants
    else:
        defaults = default_privileges(model, "FUNCTIONS", function.schema)
        if defaults is not None:
            function.grants = dict(defaults)
    model.add_function(function)


def alter_function(model: Model, node: Node) -> None:
    """ALTER FUNCTION's options (volatility, SECURITY, SET ...)."""
    function = model.functions.get(function_key(model, node.get("func") or {}) or "")
    if function is not None:
        _function_options(function, node.get("actions"), model.path)


def _function_options(function: FunctionDraft, options: Any, path: list[str]) -> None:
    for item in options or ():
        option = unwrap(item)[1]
        name = option.get("defname", "")
        argument = option.get("arg")
        if name == "language":
            function.language = str(constant(argument) or "").lower()
        elif name == "volatility":
            function.volatility = str(constant(argument) or "volatile").upper()
        elif name == "security":
            function.security_definer = bool(constant(argument))
        elif name == "strict":
            function.strict = bool(constant(argument))
        elif name == "leakproof":
            function.leakproof = bool(constant(argument))
        elif name == "set":
            _function_setting(function, unwrap(argument)[1], path)
        elif name == "as":
            parts = strings(unwrap(argument)[1].get("items"))
            function.body = parts[-1] if parts else ""


def _function_setting(function: FunctionDraft, statement: Node, path: list[str]) -> None:
    """SET / RESET in a function: proconfig's ``name=value`` entries.

    ``SET search_path FROM CURRENT`` stores the search path in force when the function is
    created (``path``, as the script set it); another setting FROM CURRENT has a value the
    script cannot know, and is left out."""
    kind = statement.get("kind", "")
    name = statement.get("name", "")
    if kind == "VAR_RESET_ALL":
        function.config = []
        return
    kept = [c for c in function.config if c.partition("=")[0] != name]
    if kind == "VAR_SET_VALUE":
        values = []
        for argument in statement.get("args") or ():
            value = constant(argument)
            text = str(value).lower() if isinstance(value, bool) else str(value)
            if name in _LIST_QUOTE_SETTINGS and isinstance(value, str):
                text = quote(value)
            values.append(text)
        kept.append(f"{name}={', '.join(values)}")
    elif kind == "VAR_SET_CURRENT" and name == "search_path":
        kept.append(f"{name}={', '.join(quote(schema) for schema in path)}")
    elif kind not in ("VAR_RESET", "VAR_SET_DEFAULT"):
        return
    function.config = kept


def function_key(model: Model, signature: Node) -> str | None:
    """The key of the function an ObjectWithArgs names (None when it is not known)."""
    names = strings(signature.get("objname"))
    if not names:
        return None
    schemas = [names[-2]] if len(names) > 1 else list(model.path)
    if signature.get("args_unspecified"):
        for schema in schemas:
            found = model.function_names.get(f"{schema}.{names[-1]}")
            if found and len(found) == 1:
                return next(iter(found))
        return None
    if "objfuncargs" in signature:
        parameters = [unwrap(p)[1] for p in signature["objfuncargs"]]
        type_nodes = [
            p.get("argType")
            for p in parameters
            if _PARAMETER_MODES.get(p.get("mode", ""), "") not in _RESULT_MODES
        ]
    else:
        type_nodes = [unwrap(t)[1] for t in signature.get("objargs") or ()]
    arguments = ", ".join(bare(model.type_text(t)) for t in type_nodes)
    for schema in schemas:
        key = f"{schema}.{names[-1]}({arguments})"
        if key in model.functions:
            return key
    return None
