"""The input boundary: every file a user names (spec, policy, `config.json`) and every YAML text
(`specYaml` of the component) is read here, and nowhere else.

What it guarantees, so the layers behind it never see hostile input:

* Files: only regular files are opened (`stat` first, so a FIFO, `/dev/zero` or a socket is refused
  without blocking), at most `limit` bytes are read, and every OS error (missing, permission denied,
  symbolic-link loop, name too long, a path through a regular file) becomes an `InputProblem` naming
  the path and the reason.
* Text: UTF-8 only (a UTF-8 byte-order mark is accepted), with the offset of the first bad byte.
* YAML: exactly one document; at most `MAX_NODES` nodes after alias expansion (a sub-1 KB
  "billion laughs" bomb is refused while it is composed, before anything is expanded), at most
  `MAX_ALIASES` aliases and `MAX_DEPTH` levels of nesting; mapping keys are plain strings (no
  complex keys, no `<<` merge keys, no key written twice). Scalars are resolved as YAML 1.2 does:
  only true/false are booleans (`yes`, `on` and `no` stay strings), and there are no sexagesimal
  numbers (`1:30` is a string).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

#: Largest spec or policy file read, bytes (1 MiB: the largest shipped example is about 2 KB).
MAX_SPEC_BYTES = 1024 * 1024
#: Largest config.json read, bytes (real ones are a few KB; some carry long tokenizer tables).
MAX_CONFIG_BYTES = 4 * 1024 * 1024
#: Most YAML nodes in one document, counting each alias as the nodes it stands for.
MAX_NODES = 100_000
#: Most aliases (`*name`) in one document.
MAX_ALIASES = 100
#: Deepest nesting of mappings and sequences.
MAX_DEPTH = 32


@dataclass(frozen=True)
class InputProblem(Exception):
    """Input that cannot be read or parsed: `where` is `(file)` or `line L, column C`."""

    where: str
    problem: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n:,} bytes"


_OS_REASONS = {
    errno.ENOENT: ("file not found", "check the path"),
    errno.EACCES: ("permission denied", "make the file readable, or copy it somewhere readable"),
    errno.EPERM: ("permission denied", "make the file readable, or copy it somewhere readable"),
    errno.ELOOP: ("too many levels of symbolic links (a symbolic-link loop)", "point the path at a real file"),
    errno.ENAMETOOLONG: ("the file name is too long", "use a shorter path"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "check the folders in the path"),
    errno.EISDIR: ("is a folder, not a file", "name the file inside it"),
}


def _os_problem(exc: OSError) -> InputProblem:
    reason, hint = _OS_REASONS.get(exc.errno or -1, (None, "check the path"))
    if reason is None:
        reason = f"cannot read the file ({exc.strerror or exc.__class__.__name__})"
    return InputProblem("(file)", reason, hint)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: str | Path, limit: int = MAX_SPEC_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; `InputProblem` otherwise (never blocks on
    a FIFO or device: the type is checked before the file is opened)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise _os_problem(exc) from None
    except ValueError:  # embedded NUL byte in the path
        raise InputProblem("(file)", "the path contains a NUL character", "check the path") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputProblem("(file)", "is a folder, not a file", "name the file inside it")
    if not stat.S_ISREG(info.st_mode):
        raise InputProblem("(file)", f"is {_kind(info.st_mode)}, not a regular file", "save the content to a file")
    if info.st_size > limit:
        raise InputProblem(
            "(file)",
            f"the file is {info.st_size:,} bytes, more than the {_size(limit)} limit",
            "a spec is a few KB: check you named the right file",
        )
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        handle = os.open(path, flags)
    except OSError as exc:
        raise _os_problem(exc) from None
    try:
        opened = os.fstat(handle)
        if not stat.S_ISREG(opened.st_mode):  # swapped between stat and open
            raise InputProblem(
                "(file)", f"is {_kind(opened.st_mode)}, not a regular file", "save the content to a file"
            )
        chunks, total = [], 0
        while chunk := os.read(handle, 65536):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise InputProblem(
                    "(file)", f"the file is more than the {_size(limit)} limit", "check you named the right file"
                )
        return b"".join(chunks)
    except OSError as exc:
        raise _os_problem(exc) from None
    finally:
        os.close(handle)


def decode(data: bytes) -> str:
    """UTF-8 text (a leading byte-order mark is dropped); `InputProblem` naming the first bad byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        hint = "save the file as UTF-8"
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            hint = "the file is UTF-16: save it as UTF-8"
        raise InputProblem(
            "(file)", f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})", hint
        ) from None
    return text.removeprefix("\ufeff")


def read_text(path: str | Path, limit: int = MAX_SPEC_BYTES) -> str:
    """A regular UTF-8 text file of at most `limit` bytes."""
    return decode(read_bytes(path, limit))


# --- bounded YAML -------------------------------------------------------------------------------


class _Resolver(Resolver):
    """YAML 1.2 core-schema scalars: booleans are true/false only, integers and floats without the
    YAML 1.1 forms (sexagesimal, `0b`, underscores); `null`, `~` and empty are null."""


_Resolver.yaml_implicit_resolvers = {}
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_Resolver.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


class _Constructor(SafeConstructor):
    """Safe constructor with the strict key rules; ints in YAML 1.2 forms."""

    def construct_yaml_int(self, node: ScalarNode) -> int:
        value = str(self.construct_scalar(node))
        sign = -1 if value.startswith("-") else 1
        value = value.lstrip("+-")
        if value.startswith("0o"):
            return sign * int(value[2:], 8)
        if value.startswith("0x"):
            return sign * int(value[2:], 16)
        return sign * int(value)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[str, Any]:  # type: ignore[override]
        if not isinstance(node, MappingNode):
            raise yaml.constructor.ConstructorError(None, None, "expected a mapping", node.start_mark)
        out: dict[str, Any] = {}
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            plain_merge = isinstance(key_node, ScalarNode) and key_node.value == "<<" and key_node.style is None
            if key_node.tag == "tag:yaml.org,2002:merge" or plain_merge:
                raise _at(key_node, "merge keys (<<) are not supported", "write the keys out in full")
            if not isinstance(key_node, ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                shown = key_node.value if isinstance(key_node, ScalarNode) else None
                what = f"the key {shown!r} is not text" if shown is not None else "a mapping key is not text"
                raise _at(key_node, what, "keys are field names: quote it or correct it")
            key = key_node.value
            if key in first:
                raise _at(
                    key_node,
                    f"invalid YAML: key {_short(key)!r} appears twice in one mapping (first on line {first[key] + 1})",
                )
            first[key] = key_node.start_mark.line
            out[key] = self.construct_object(value_node, deep=deep)
        return out

    def construct_yaml_map(self, node: MappingNode):  # type: ignore[override]
        data: dict[str, Any] = {}
        yield data
        data.update(self.construct_mapping(node))


_Constructor.yaml_constructors = {
    tag: constructor
    for tag, constructor in SafeConstructor.yaml_constructors.items()
    if tag
    in (
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:str",
        "tag:yaml.org,2002:seq",
    )
}
_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)  # type: ignore[arg-type]
_Constructor.add_constructor("tag:yaml.org,2002:map", _Constructor.construct_yaml_map)  # type: ignore[arg-type]
_Constructor.add_constructor(None, SafeConstructor.construct_undefined)  # type: ignore[arg-type]


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _at(node: Node, problem: str, hint: str = "") -> InputProblem:
    mark = node.start_mark
    return InputProblem(f"line {mark.line + 1}, column {mark.column + 1}", problem, hint)


class _Composer(Composer):
    check_event: Any  # from the Parser it is mixed with
    peek_event: Any
    """Counts every node composed (an alias counts as the whole tree it repeats) and the nesting
    depth, and stops as soon as a limit is passed, before anything is constructed."""

    def __init__(self) -> None:
        super().__init__()
        self._nodes = 0
        self._aliases = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def _count(self, node: Node, amount: int) -> None:
        self._nodes += amount
        if self._nodes > MAX_NODES:
            raise _at(
                node,
                f"the document expands to more than {MAX_NODES:,} values (aliases repeat whole trees)",
                "write the spec out without aliases",
            )

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise InputProblem(
                    f"line {event.start_mark.line + 1}, column {event.start_mark.column + 1}",
                    f"more than {MAX_ALIASES} aliases",
                    "write the spec out without aliases",
                )
            node = super().compose_node(parent, index)  # type: ignore[arg-type]
            assert node is not None
            self._count(node, self._sizes.get(id(node), 1))
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            event = self.peek_event()
            self._depth = 0
            raise InputProblem(
                f"line {event.start_mark.line + 1}, column {event.start_mark.column + 1}",
                f"nested more than {MAX_DEPTH} levels deep",
                "a spec is a few levels deep: check the indentation and brackets",
            )
        before = self._nodes
        try:
            node = super().compose_node(parent, index)  # type: ignore[arg-type]
        finally:
            self._depth -= 1
        assert node is not None
        self._count(node, 1)
        self._sizes[id(node)] = self._nodes - before
        return node


class _Loader(Reader, Scanner, Parser, _Composer, _Constructor, _Resolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _Composer.__init__(self)
        _Constructor.__init__(self)
        _Resolver.__init__(self)


def parse_yaml(text: str) -> object:
    """One bounded YAML document as plain data (dicts with string keys, lists, scalars);
    `InputProblem` for anything else."""
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        raise _unprintable(text, exc) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if isinstance(node, SequenceNode | MappingNode | ScalarNode):
            return loader.construct_document(node)
        return None
    except InputProblem:
        raise
    except yaml.reader.ReaderError as exc:
        raise _unprintable(text, exc) from None
    except ComposerError as exc:
        if exc.context and "expected a single document" in exc.context:
            mark = exc.problem_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
            raise InputProblem(
                where, "more than one YAML document (a second '---')", "keep one spec per file"
            ) from None
        raise _marked(exc) from None
    except yaml.MarkedYAMLError as exc:
        raise _marked(exc) from None
    except yaml.YAMLError as exc:
        raise InputProblem("(file)", f"invalid YAML: {exc}") from None
    except RecursionError:
        raise InputProblem("(file)", "the YAML is nested too deeply to be a spec") from None
    finally:
        loader.dispose()


def _unprintable(text: str, exc: yaml.reader.ReaderError) -> InputProblem:
    position = exc.position
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    character = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
    return InputProblem(
        f"line {line}, column {column}",
        f"the control character U+{character:04X} is not allowed in YAML",
        "remove it: a spec is plain text",
    )


def _marked(exc: yaml.MarkedYAMLError) -> InputProblem:
    mark = exc.problem_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
    return InputProblem(where, f"invalid YAML: {exc.problem}")
