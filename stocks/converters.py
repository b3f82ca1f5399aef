"""URL path converters."""


class SymbolConverter:
    """A stock symbol path segment: letters, digits and & - _ . ("M&M.NS", "BAJAJ-AUTO", "TCS").

    Links percent-encode "&" as %26; Django decodes the path before matching.
    """

    regex = r"[A-Za-z0-9&\-_.]{1,40}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
