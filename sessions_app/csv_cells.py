"""CSV cells that a spreadsheet opens as text, never as a formula (OWASP "CSV Injection")."""

from datetime import datetime

# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Echo:
    """csv.writer wants a file; this one hands back what it is given, for streaming."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value) -> object:
    """A value as a CSV cell: text that would start a formula gets a leading apostrophe, which
    spreadsheets show as text and do not evaluate. Numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
