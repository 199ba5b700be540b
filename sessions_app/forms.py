import uuid

from django import forms
from django.core import validators

from . import params
from .models import Account, Asset, LiveSession, Project


def default_user_id() -> str:
    return f"console-{uuid.uuid4().hex[:12]}"


class NewSessionForm(forms.Form):
    account = params.IdChoiceField(queryset=Account.objects.all(), label="Account")
    project = params.IdChoiceField(queryset=Project.objects.select_related("account"), required=False,
                                     label="Project")
    asset = params.IdChoiceField(queryset=Asset.objects.select_related("account"), required=False,
                                   label="Asset")
    protocol = forms.ChoiceField(choices=LiveSession.Protocol.choices, initial=LiveSession.Protocol.RTMP,
                                 label="Protocol")
    driver_type = forms.TypedChoiceField(choices=LiveSession.DriverType.choices, coerce=int,
                                         initial=LiveSession.DriverType.TEXT, label="Driver type")
    user_id = forms.CharField(max_length=64, label="User ID",
                              help_text="Creating a session with a User ID that already has a live session "
                                        "closes that other session.")
    stream_max_interval = forms.IntegerField(min_value=2000, max_value=6000, initial=2000,
                                             label="Stream max interval (ms)")
    auto_start = forms.BooleanField(required=False, initial=True, label="Start automatically when ready")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("user_id", default_user_id())
            # With a single account and project (the first-run demo) the form is ready to submit.
            for field, model in (("account", Account), ("project", Project)):
                only = model.objects.all()[:2]
                if len(only) == 1:
                    self.initial.setdefault(field, only[0].pk)

    def clean(self):
        data = super().clean()
        account, project, asset = data.get("account"), data.get("project"), data.get("asset")
        if project and asset:
            self.add_error("asset", "Choose a project or an asset, not both.")
        elif not project and not asset:
            self.add_error("project", "Choose the project (or an asset) to create the session from.")
        for field, source in (("project", project), ("asset", asset)):
            if account and source and source.account_id != account.pk:
                self.add_error(field, f"{source} belongs to account {source.account}, not {account}.")
        return data


class WebURLField(forms.URLField):
    """An http(s) address: the cloud fetches it and refuses any other scheme (ftp://, file://)."""

    default_validators = [validators.URLValidator(schemes=["http", "https"])]
    default_error_messages = {"invalid": "Enter an http:// or https:// address."}


class LayoutForm(forms.Form):
    background_url = WebURLField(required=False, label="Background URL", assume_scheme="https",
                                 help_text="jpg or png under 1 MB; empty keeps the current background.")
    position = forms.FloatField(min_value=-0.5, max_value=0.5, initial=0.0, label="Horizontal position")
    position_vertical = forms.FloatField(min_value=-0.5, max_value=0.25, initial=0.0, label="Vertical position")
    zoom = forms.FloatField(min_value=0.25, max_value=2.0, initial=1.0, label="Zoom")
