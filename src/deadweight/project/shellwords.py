"""Docker's word rules for instruction arguments: quotes, the escape character, ``$VAR`` expansion, ``k=v`` pairs.

Why apart from the parser: the Dockerfile parser finds instructions and stages; these rules say what an
instruction's words mean once found, and the RUN/COPY readers (installs, context) apply them too. They
follow moby/buildkit's ``frontend/dockerfile/shell`` lexer, not a POSIX shell: no globbing, no command
substitution, and unknown variables expand to "" unless asked to keep them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: ``${A:-${B:-...}}`` deeper than this is left as written (docs/limits.md): Docker's own lexer recurses too,
#: and no real Dockerfile or compose file nests defaults more than a few levels.
MAX_VAR_NESTING = 50


def split_words(text: str, escape: str = "\\") -> list[str]:
    """Split like Docker's shell lexer for ENV/ARG/LABEL/COPY words: quotes removed, escape honoured."""
    words: list[str] = []
    cur: list[str] = []
    have = False
    quote: str | None = None
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                quote = None
            elif c == escape and quote == '"' and i + 1 < len(text) and text[i + 1] in ('"', escape, "$"):
                i += 1
                cur.append(text[i])
            else:
                cur.append(c)
        elif c in "\"'":
            quote = c
            have = True
        elif c == escape and i + 1 < len(text):
            i += 1
            cur.append(text[i])
            have = True
        elif c.isspace():
            if cur or have:
                words.append("".join(cur))
                cur, have = [], False
        else:
            cur.append(c)
        i += 1
    if cur or have:
        words.append("".join(cur))
    return words


def expand_vars(text: str, values: Mapping[str, str], escape: str = "\\", keep_unknown: bool = False,
                _depth: int = 0) -> str:
    """Expand ``$X``, ``${X}``, ``${X:-d}``, ``${X-d}``, ``${X:+a}``, ``${X+a}`` as Docker does.

    Unknown variables become "" (Docker's behaviour for instructions it substitutes); with ``keep_unknown``
    they are left as written, which is what a RUN line means (the shell may know them at build time).
    Single-quoted text is not expanded; ``escape$`` is a literal dollar.
    """
    if _depth > MAX_VAR_NESTING:  # a default inside a default ... 500 deep: left as written, not a crash
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    quote = False
    dquote = False
    while i < n:
        c = text[i]
        if c == '"' and not quote:
            dquote = not dquote
        elif c == "'" and not dquote:
            quote = not quote
            out.append(c)
            i += 1
            continue
        if c == escape and i + 1 < n and text[i + 1] == "$":
            out.append(text[i : i + 2] if keep_unknown else "$")
            i += 2
            continue
        if c != "$" or quote or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        if text[i + 1] == "{":
            close = matching_brace(text, i + 1)
            if close < 0:
                out.append(text[i:])
                break
            inner = text[i + 2 : close]
            out.append(_expand_braced(inner, values, escape, keep_unknown, text[i : close + 1], depth=_depth))
            i = close + 1
            continue
        m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[i + 1 :])
        if not m:
            out.append(c)
            i += 1
            continue
        name = m.group(0)
        if name in values:
            out.append(values[name])
        elif keep_unknown:
            out.append("$" + name)
        i += 1 + len(name)
    return "".join(out)


def matching_brace(text: str, open_idx: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``open_idx`` (nested braces counted), or -1."""
    depth = 0
    for j in range(open_idx, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return -1


def _expand_braced(inner: str, values: Mapping[str, str], escape: str, keep: bool, whole: str, *, depth: int) -> str:
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])(.*))?$", inner, re.DOTALL)
    if not m:
        return whole if keep else ""
    name, op, word = m.group(1), m.group(2), m.group(3) or ""
    present = name in values
    value = values.get(name, "")
    if op is None:
        if present:
            return value
        return whole if keep else ""
    word = expand_vars(word, values, escape, keep, _depth=depth + 1)
    set_and_nonempty = present and value != ""
    if op == ":-":
        return value if set_and_nonempty else word
    if op == "-":
        return value if present else word
    if op == ":+":
        return word if set_and_nonempty else ""
    if op == "+":
        return word if present else ""
    # :? and ? : error when unset; we cannot fail a build, so keep what we know
    return value if present else (whole if keep else "")


def parse_key_values(text: str, escape: str, values: Mapping[str, str]) -> list[tuple[str, str]]:
    """ENV/LABEL/ARG pairs: ``k=v k2="v 2"`` or the legacy ``ENV k v with spaces``."""
    words = split_words(text, escape)
    if not words:
        return []
    if "=" not in words[0]:
        key, _, value = text.strip().partition(" ")
        value = value.strip()
        if not value:
            return [(key, "")]
        return [(key, expand_vars(" ".join(split_words(value, escape)), values, escape))]
    pairs = []
    for word in raw_words(text):
        key, eq, value = word.partition("=")
        if not eq:
            pairs.append((key, ""))
            continue
        expanded = expand_vars(value, values, escape)
        pairs.append((key, "".join(split_words(expanded, escape)) if expanded.strip() else ""))
    return pairs


def raw_words(text: str) -> list[str]:
    """Split on unquoted whitespace, keeping quotes (expansion must see them)."""
    words: list[str] = []
    cur: list[str] = []
    quote: str | None = None
    for c in text:
        if quote:
            cur.append(c)
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
            cur.append(c)
        elif c.isspace():
            if cur:
                words.append("".join(cur))
                cur = []
        else:
            cur.append(c)
    if cur:
        words.append("".join(cur))
    return words


# -- POSIX shell words (RUN lines, CMD strings, requirements option lines) ------------------------------------
#
# shlex builds every token one character at a time with ``self.token += c`` on an attribute, which CPython
# cannot extend in place: a 2 MB word took minutes (issue 15, "slow paths"). This lexer is one regular
# expression whose alternatives start with different characters, so it never backtracks: linear in the text.
# It follows shlex in POSIX mode with ``whitespace_split`` (what deadweight used): single quotes literal,
# double quotes with backslash escaping only ``\\``, ``"``, ``$`` and a backquote, a backslash outside quotes
# escaping the next character; ``#`` starts a comment only at the start of a word, as in a shell.

SEPARATORS = ";&|()"
_SHELL_TOKEN = re.compile(
    r"""(?P<space>[ \t\r]+)
      | (?P<newline>\n)
      | (?P<sep>[;&|()]+)
      | (?P<single>'[^']*')
      | (?P<double>"(?:[^"\\]|\\.)*")
      | (?P<escaped>\\.)
      | (?P<bare>[^ \t\r\n;&|()'"\\]+)""",
    re.VERBOSE | re.DOTALL,
)
_DQ_ESCAPE = re.compile(r"\\([\\\"$`])")


def shell_tokens(text: str, *, comments: bool = True, separators: bool = True) -> list[str]:
    """The words of shell ``text``, quotes removed; with ``separators``, runs of ``;&|()`` and newlines are
    tokens of their own (callers split commands there), else they are word characters and newlines space.

    Raises ``ValueError`` for an unclosed quote or a trailing backslash, as shlex does.
    """
    words: list[str] = []
    cur: list[str] = []
    have = False  # a word has started (an empty quoted string is a word)
    pos, end = 0, len(text)
    while pos < end:
        m = _SHELL_TOKEN.match(text, pos)
        if m is None:
            raise ValueError("No closing quotation" if text[pos] in "'\"" else "No escaped character")
        kind = m.lastgroup
        piece = m.group()
        pos = m.end()
        if comments and not have and piece[0] == "#" and kind == "bare":
            newline = text.find("\n", pos)
            pos = end if newline < 0 else newline
            continue
        if kind == "space" or (kind == "newline" and not separators):
            if have:
                words.append("".join(cur))
                cur, have = [], False
        elif kind in ("newline", "sep") and separators:
            if have:
                words.append("".join(cur))
                cur, have = [], False
            words.append(piece)
        elif kind == "escaped" and piece[1] == "\n":
            continue  # a line continuation: nothing, not even the start of a word
        else:
            have = True
            if kind == "single":
                cur.append(piece[1:-1])
            elif kind == "double":
                cur.append(_DQ_ESCAPE.sub(r"\1", piece[1:-1]))
            elif kind == "escaped":
                cur.append(piece[1])
            else:
                cur.append(piece)
    if have:
        words.append("".join(cur))
    return words


def shell_split(text: str, *, comments: bool = False) -> list[str]:
    """``shlex.split`` in linear time: the words of ``text``, separators being plain characters."""
    return shell_tokens(text, comments=comments, separators=False)


def simple_commands(text: str) -> list[list[str]]:
    """Shell ``text`` split into simple commands (argv lists) at ``; && || | & ( )`` and newlines.

    Raises ``ValueError`` for unbalanced quotes (callers fall back to whitespace words).
    """
    commands: list[list[str]] = [[]]
    for tok in shell_tokens(text):
        if tok == "\n" or (tok[0] in SEPARATORS and set(tok) <= set(SEPARATORS)):
            if commands[-1]:
                commands.append([])
        else:
            commands[-1].append(tok)
    return [cmd for cmd in commands if cmd]
