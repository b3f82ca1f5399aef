"""The API's only parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]): JSON, strictly.

Its own module because DRF reads the setting while `rest_framework.views` is imported, which
thetool.api itself imports.
"""

from rest_framework import exceptions
from rest_framework.parsers import JSONParser


def _contains_nul(value) -> bool:
    """Any NUL character in any string of a parsed JSON document (iterative: the depth is the client's)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


class StrictJSONParser(JSONParser):
    """The API's only parser: JSON, where nesting too deep to decode and NUL characters are a 400.

    The decoder raises RecursionError (not ValueError) beyond about 1,000 levels, which DRF's
    parser lets through as a 500. PostgreSQL cannot store NUL in text, so it never gets that far.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - the document is nested too deeply") from None
        if _contains_nul(data):
            raise exceptions.ParseError("NUL characters (\\u0000) are not allowed in the request body")
        return data
