from decimal import Decimal

from django import forms

from sessions_app import params
from sessions_app.models import Asset, Project

from . import services
from .limits import SCRIPT_MAX_BYTES, SCRIPT_MAX_CUES
from .models import Cue, DemoScript, KioskConfig


def _source_fields(form: forms.Form, data: dict, *, required: bool) -> None:
    project, asset = data.get("project"), data.get("asset")
    if project and asset:
        form.add_error("asset", "Choose a project or an asset, not both.")
    elif required and not project and not asset:
        form.add_error("project", "Choose the project (or an asset) the kiosk creates its sessions from.")


class ScriptForm(forms.ModelForm):
    class Meta:
        model = DemoScript
        fields = ["name", "project", "asset"]
        field_classes = {"project": params.IdChoiceField, "asset": params.IdChoiceField}
        labels = {"name": "Script name", "project": "Project", "asset": "Avatar asset"}
        help_texts = {"asset": "The asset's action codes fill the gesture helper and are checked in cues."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = Project.objects.select_related("account")
        self.fields["asset"].queryset = Asset.objects.select_related("account")

    def clean(self):
        data = super().clean()
        _source_fields(self, data, required=False)
        return data


class CueForm(forms.Form):
    kind = forms.ChoiceField(choices=Cue.Kind.choices, initial=Cue.Kind.TEXT, label="Kind")
    text = forms.CharField(required=False, label="Text", widget=forms.Textarea(attrs={"rows": 3}),
                           help_text="SSML tags allowed.")
    pause_seconds = forms.DecimalField(required=False, min_value=Decimal("0.1"), max_value=services.PAUSE_MAX_SECONDS,
                                       decimal_places=1, label="Pause (seconds)")
    note = forms.CharField(required=False, label="Presenter note", widget=forms.Textarea(attrs={"rows": 1}))

    def clean(self):
        data = super().clean()
        if data.get("kind") == Cue.Kind.PAUSE and not data.get("pause_seconds"):
            self.add_error("pause_seconds", "How long is the pause?")
        if data.get("kind") == Cue.Kind.TEXT and not (data.get("text") or "").strip() \
                and not (data.get("note") or "").strip():
            self.add_error("text", "Write what the avatar says (or delete the cue).")
        return data

    def spec(self) -> services.CueSpec:
        data = self.cleaned_data
        return services.CueSpec(kind=data["kind"], text=data.get("text") or "",
                                pause_seconds=data.get("pause_seconds") or Decimal("0"), note=data.get("note") or "")


CueFormSet = forms.formset_factory(CueForm, extra=0, can_delete=True, can_order=True, max_num=SCRIPT_MAX_CUES,
                                   validate_max=True, absolute_max=SCRIPT_MAX_CUES)


def cue_initial(cues) -> list[dict]:
    return [{"kind": c.kind, "text": c.text, "pause_seconds": c.pause_seconds if c.kind == Cue.Kind.PAUSE else None,
             "note": c.note} for c in cues]


def cue_specs(formset) -> list[services.CueSpec]:
    return [form.spec() for form in formset.ordered_forms]


class ImportForm(forms.Form):
    name = forms.CharField(max_length=100, label="Script name")
    project = params.IdChoiceField(queryset=Project.objects.select_related("account"), required=False,
                                     label="Project")
    asset = params.IdChoiceField(queryset=Asset.objects.select_related("account"), required=False,
                                   label="Avatar asset")
    file = forms.FileField(required=False, label="Text file",
                           help_text="UTF-8 plain text: one cue per paragraph, “[pause 3]” for a pause, "
                                     "lines starting with “> ” are presenter notes. "
                                     f"At most {SCRIPT_MAX_BYTES // 1024} KB and {SCRIPT_MAX_CUES} cues.")
    text = forms.CharField(required=False, label="Or paste the text", widget=forms.Textarea(attrs={"rows": 10}))

    def clean(self):
        data = super().clean()
        _source_fields(self, data, required=False)
        upload = data.get("file")
        if upload:
            if upload.size > SCRIPT_MAX_BYTES:
                self.add_error("file", f"The file is larger than {SCRIPT_MAX_BYTES // 1024} KB.")
                return data
            try:
                data["text"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("file", "The file is not UTF-8 text.")
                return data
            if "\x00" in data["text"]:
                self.add_error("file", "The file holds a NUL character: it is not a text file.")
                return data
        elif len((data.get("text") or "").encode("utf-8")) > SCRIPT_MAX_BYTES:
            self.add_error("text", f"The text is larger than {SCRIPT_MAX_BYTES // 1024} KB.")
            return data
        if not (data.get("text") or "").strip():
            self.add_error("text", "Choose a file or paste the script's text.")
        return data


class KioskForm(forms.ModelForm):
    class Meta:
        model = KioskConfig
        fields = ["name", "slug", "project", "asset", "script", "attract_every_minutes", "window_start",
                  "window_end", "protocol", "driver_type", "enabled"]
        field_classes = {"project": params.IdChoiceField, "asset": params.IdChoiceField,
                         "script": params.IdChoiceField}
        labels = {
            "name": "Kiosk name", "slug": "Address (slug)", "project": "Project", "asset": "Avatar asset",
            "script": "Attract script", "attract_every_minutes": "Attract every (minutes idle)",
            "window_start": "Opens at", "window_end": "Closes at", "protocol": "Protocol",
            "driver_type": "Driver type", "enabled": "Enabled",
        }
        widgets = {"window_start": forms.TimeInput(attrs={"type": "time"}),
                   "window_end": forms.TimeInput(attrs={"type": "time"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = Project.objects.select_related("account")
        self.fields["asset"].queryset = Asset.objects.select_related("account")

    def clean(self):
        data = super().clean()
        _source_fields(self, data, required=True)
        if (data.get("window_start") is None) != (data.get("window_end") is None):
            self.add_error("window_end", "Give both the opening and the closing time, or neither.")
        return data
