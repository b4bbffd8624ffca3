"""A DOM built with the standard library's HTML parser, good enough for assertions on a report or on what
a browser's ``--dump-dom`` printed: every start tag a node, text (entities decoded) in document order."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"meta", "input", "br", "hr", "img", "link", "source", "wbr", "col", "area", "base", "embed", "track"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def iter(self) -> list[Node]:
        out = [self]
        for child in self.children:
            out += child.iter()
        return out

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        return [
            n for n in self.iter()
            if (tag is None or n.tag == tag) and all(n.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def by_id(self, element_id: str) -> Node:
        (node,) = self.find_all(id=element_id)
        return node

    def text_content(self) -> str:
        return "".join(self.text) + "".join(c.text_content() for c in self.children)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class TreeBuilder(HTMLParser):

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.tags.append(tag)
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        # text after a child's end goes to the parent: keep it as a text node of its own so order is kept
        self.stack[-1].children.append(Node("#text", {}, text=[data]))


def parse(html: str) -> tuple[Node, list[str]]:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root, builder.tags
