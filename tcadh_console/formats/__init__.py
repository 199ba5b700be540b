"""The console's date formats over Django's own for each language (FORMAT_MODULE_PATH): to the
second, on a 24-hour clock, as the audit log and a session's times need. Every other format is
the language's own."""
