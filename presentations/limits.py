"""How large a script may be. One set of numbers for both ways a script comes in (the importer
and the editor), so the editor can always save what the importer accepted.

No Django import: the settings read EDITOR_MAX_FIELDS for DATA_UPLOAD_MAX_NUMBER_FIELDS.
"""

# The script in the plain-text format (a file, a paste, or what the editor's cues format to).
SCRIPT_MAX_BYTES = 512 * 1024
SCRIPT_MAX_CUES = 1000
# The editor posts kind, text, pause, note, ORDER and DELETE per cue, plus the management form,
# the script's own fields and the CSRF token.
EDITOR_FIELDS_PER_CUE = 6
EDITOR_OTHER_FIELDS = 20
EDITOR_MAX_FIELDS = SCRIPT_MAX_CUES * EDITOR_FIELDS_PER_CUE + EDITOR_OTHER_FIELDS
