"""Telegram's HTML parse mode, reduced to what the emulator needs.

The visible text decides the 4096/1024 length limits and the entities make returned messages
look like Telegram's. Error messages follow Telegram's wording ("Unsupported start tag ...",
byte offsets in UTF-8), because bots log them and tests may assert on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Tag name -> entity type; span and tg-emoji carry extra requirements checked below.
_TAG_ENTITIES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_CHAR_REFERENCE = re.compile(r"&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,8});")
_ATTRIBUTE = re.compile(r"""\s*([a-zA-Z_-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")


class EntityParseError(ValueError):
    """The text is not valid for its parse mode; str(error) is Telegram's explanation."""


@dataclass
class ParsedText:
    """Visible text plus entities; entity offsets and lengths are in UTF-16 code units."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _OpenTag:
    name: str
    start: int  # index in the visible text, in code points
    attributes: dict[str, str]
    language: str | None = None  # set on <pre> by a nested <code class="language-...">


def parse_text(text: str, parse_mode: str | None) -> ParsedText:
    """Parse `text` as Telegram does for `parse_mode`; Markdown modes are taken as plain text."""
    if parse_mode is None or parse_mode == "":
        return ParsedText(text)
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text)
    if mode in ("markdown", "markdownv2"):
        return ParsedText(text)
    raise EntityParseError(f"unsupported parse_mode {parse_mode!r}")


def parse_html(source: str) -> ParsedText:
    visible: list[str] = []
    stack: list[_OpenTag] = []
    entities: list[tuple[int, int, dict[str, Any]]] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "&":
            decoded, i = _read_reference(source, i)
            visible.extend(decoded)  # one item per code point keeps len(visible) a position
        elif char != "<":
            visible.append(char)
            i += 1
        elif source.startswith("</", i):
            i = _close_tag(source, i, stack, len(visible), entities)
        else:
            tag, i = _open_tag(source, i, len(visible))
            stack.append(tag)
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    text = "".join(visible)
    return ParsedText(text, _to_utf16_entities(text, entities))


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _read_reference(source: str, i: int) -> tuple[str, int]:
    match = _CHAR_REFERENCE.match(source, i)
    if match is None:
        return "&", i + 1
    body = match.group(1)
    if body.startswith(("#x", "#X")):
        code = int(body[2:], 16)
    elif body.startswith("#"):
        code = int(body[1:])
    elif body in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[body], match.end()
    else:
        # Telegram leaves unsupported named references in the text as they were written.
        return match.group(0), match.end()
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return match.group(0), match.end()
    return chr(code), match.end()


def _open_tag(source: str, i: int, position: int) -> tuple[_OpenTag, int]:
    end = source.find(">", i)
    if end == -1:
        raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, i)}")
    inside = source[i + 1 : end]
    name_match = re.match(r"[^\s>]*", inside)
    name = name_match.group(0).lower() if name_match else ""
    if name not in _TAG_ENTITIES:
        raise EntityParseError(
            f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, i)}'
        )
    attributes = _parse_attributes(inside[len(name) :].rstrip("/"))
    if name == "span" and attributes.get("class") != "tg-spoiler":
        raise EntityParseError(
            f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(source, i)}'
        )
    if name == "tg-emoji" and not attributes.get("emoji-id"):
        raise EntityParseError(
            f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
            f"{_byte_offset(source, i)}"
        )
    return _OpenTag(name, position, attributes), end + 1


def _parse_attributes(text: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(text):
        value = next((group for group in match.groups()[1:] if group is not None), "")
        attributes[match.group(1).lower()] = _unescape(value)
    return attributes


def _unescape(value: str) -> str:
    parts: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            decoded, i = _read_reference(value, i)
            parts.append(decoded)
        else:
            parts.append(value[i])
            i += 1
    return "".join(parts)


def _close_tag(
    source: str,
    i: int,
    stack: list[_OpenTag],
    position: int,
    entities: list[tuple[int, int, dict[str, Any]]],
) -> int:
    end = source.find(">", i)
    if end == -1:
        raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(source, i)}")
    name = source[i + 2 : end].strip().lower()
    if not stack:
        raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(source, i)}")
    tag = stack.pop()
    if tag.name != name:
        raise EntityParseError(
            f"Unmatched end tag at byte offset {_byte_offset(source, i)}, "
            f'expected "</{tag.name}>", found "</{name}>"'
        )
    language = _code_language(tag)
    if language is not None and stack and stack[-1].name == "pre":
        # <pre><code class="language-x"> is one pre entity with a language, as in Telegram.
        stack[-1].language = language
    elif position > tag.start:
        entities.append((tag.start, position - tag.start, _entity_fields(tag)))
    return end + 1


def _code_language(tag: _OpenTag) -> str | None:
    css_class = tag.attributes.get("class", "")
    if tag.name == "code" and css_class.startswith("language-"):
        return css_class.removeprefix("language-")
    return None


def _entity_fields(tag: _OpenTag) -> dict[str, Any]:
    fields: dict[str, Any] = {"type": _TAG_ENTITIES[tag.name]}
    if tag.name == "a":
        fields["url"] = tag.attributes.get("href", "")
    elif tag.name == "pre" and tag.language:
        fields["language"] = tag.language
    elif tag.name == "blockquote" and "expandable" in tag.attributes:
        fields["type"] = "expandable_blockquote"
    elif tag.name == "tg-emoji":
        fields["custom_emoji_id"] = tag.attributes["emoji-id"]
    return fields


def _to_utf16_entities(
    text: str, entities: list[tuple[int, int, dict[str, Any]]]
) -> list[dict[str, Any]]:
    result = []
    for start, length, fields in sorted(entities, key=lambda item: (item[0], -item[1])):
        offset = utf16_length(text[:start])
        size = utf16_length(text[start : start + length])
        result.append({**fields, "offset": offset, "length": size})
    return result
